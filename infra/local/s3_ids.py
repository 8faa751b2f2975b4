"""The ids moto's S3 makes up, read from its answers to be logged, and given back to it at replay.

A write log replays requests; an S3 write whose answer carries an id the emulator generated
(a multipart upload's ``UploadId``, an object version's or a delete marker's ``x-amz-version-id``)
gets a new random id when replayed, while the later requests in the log, and the clients, name the
old one. ``S3Ids.made`` reads those ids off the answer (the wire protocol, as the log keeps it);
``S3Ids.restore`` renames what the replayed request created in moto's S3 backend back to them, so
that after a restart every id a client was given still names the same upload or version.

The renaming reaches moto's models (``FakeBucket.multiparts``, ``FakeKey._version_id``, as in moto
5.2.5); the replay tests of the local stack fail if a moto upgrade moves them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from moto.s3.models import S3Backend

from infra.local.s3_put import s3_backend
from infra.local.strict_s3 import credential_scope

Headers = list[tuple[str, str]]
_LITERAL_HOST = re.compile(r"(localhost|[0-9.]+|\[[0-9a-fA-F:.]+\])(:[0-9]+)?")
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _xml(answer: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(answer)  # noqa: S314 - moto's own answer to our own request
    except ET.ParseError:
        return None


def _text(element: ET.Element, name: str) -> str | None:
    return element.findtext(_NS + name) or element.findtext(name)


def _version_header(headers: Headers) -> str | None:
    found = [value for name, value in headers if name.lower() == "x-amz-version-id"]
    return found[0] if found and found[0] != "null" else None


def _delete_markers(answer: bytes) -> list[list[str]]:
    """(key, marker version) of each delete marker a multi-object delete made, in the answer's order."""
    root = _xml(answer)
    if root is None:
        return []
    markers = []
    for deleted in [*root.iter(_NS + "Deleted"), *root.iter("Deleted")]:
        key, version = _text(deleted, "Key"), _text(deleted, "DeleteMarkerVersionId")
        if key is not None and version:
            markers.append([key, version])
    return markers


def _bucket_and_key(environ: Mapping[str, str]) -> tuple[str, str]:
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    host = environ.get("HTTP_HOST", "")
    if _LITERAL_HOST.fullmatch(host) or not host:
        bucket, _, key = path.lstrip("/").partition("/")
        return bucket, key
    return host.split(".", 1)[0], path.lstrip("/")  # virtual-hosted: the bucket is the first label


class S3Ids:
    """The ``Durable`` port for S3: which ids an answer made, and how to make a replay reuse them."""

    def made(self, environ: Mapping[str, str], headers: Headers, answer: bytes) -> dict[str, Any]:
        if environ.get("REQUEST_METHOD") not in ("PUT", "POST", "DELETE"):
            return {}
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        ids: dict[str, Any] = {}
        if environ.get("REQUEST_METHOD") == "POST" and "uploads" in query:
            root = _xml(answer)
            upload_id = _text(root, "UploadId") if root is not None else None
            if upload_id:
                ids["upload_id"] = upload_id
        if environ.get("REQUEST_METHOD") == "POST" and "delete" in query:
            markers = _delete_markers(answer)
            if markers:
                ids["delete_markers"] = markers
        version_id = _version_header(headers)
        if version_id:
            ids["version_id"] = version_id
        return ids

    def restore(
        self, environ: Mapping[str, str], logged: Mapping[str, Any], headers: Headers, answer: bytes
    ) -> None:
        """Rename what the replayed request made (its answer: ``headers``, ``answer``) to ``logged``."""
        if not logged:
            return
        now = self.made(environ, headers, answer)
        scope = credential_scope(dict(environ))
        if scope is None:
            return
        backend = s3_backend(scope[0], scope[2])
        bucket_name, key_name = _bucket_and_key(environ)
        if "upload_id" in logged and now.get("upload_id") != logged["upload_id"]:
            _rename_upload(backend, bucket_name, now["upload_id"], logged["upload_id"])
        if "version_id" in logged and now.get("version_id") != logged["version_id"]:
            _rename_version(backend, bucket_name, key_name, now["version_id"], logged["version_id"])
        markers = zip(now.get("delete_markers", []), logged.get("delete_markers", []), strict=False)
        for (key, new), (_, old) in markers:
            if new != old:
                _rename_version(backend, bucket_name, key, new, old)


def _rename_upload(backend: S3Backend, bucket_name: str, new_id: str, old_id: str) -> None:
    bucket = backend.get_bucket(bucket_name)
    upload = bucket.multiparts.pop(new_id)
    upload.id = old_id
    bucket.multiparts[old_id] = upload


def _rename_version(backend: S3Backend, bucket_name: str, key_name: str, new_id: str, old_id: str) -> None:
    bucket = backend.get_bucket(bucket_name)
    for version in bucket.keys.getlist(key_name, []):
        if version.version_id == new_id:
            version._version_id = old_id  # moto's own field: the property has no setter
            return
    raise KeyError(f"no version {new_id} of {key_name} in {bucket_name} to rename to {old_id}")
