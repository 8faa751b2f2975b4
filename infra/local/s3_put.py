"""Plain object PUTs stored straight in moto's S3 backend, past its Flask dispatch.

A 1 KiB PUT costs the emulator about 1.6 ms of CPU, of which moto's Flask app, dispatcher and
``S3Response`` (parsing the request again, looking up policies nobody set) take more than a third
and storing the object a twentieth; the emulator is one process, so that cost is the rate at which
any client can upload small files. The uploads that make up a sync, the clients' presigned chunk
PUTs and ``aws s3 sync``'s PutObjects alike, are plain: a path-style PUT of one object, no
subresource, only headers from ``_PLAIN_HEADERS`` (and user metadata), into a bucket with no
policy, object lock, default encryption, access logging or CORS rules. ``PlainPuts`` stores those
as ``S3Response.put_object`` stores them (body, content type and metadata, the checksum named by
``x-amz-sdk-checksum-algorithm``, the bucket's ACL, event notifications) and answers with the
headers it answers with. Anything else goes to moto as it came.

It sits below ``StrictS3``, which has checked the signature, the length and the checksums, and
below ``Durable``, which logs the request first and replays it through here.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from moto import settings
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
from moto.iam.models import get_account_id_from
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend, s3_backends
from moto.s3.utils import metadata_from_headers
from moto.utilities.utils import get_partition
from werkzeug.datastructures import EnvironHeaders

from infra.local.s3_checks import parse_credential

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# What SDKs and HTTP clients send with a plain PutObject; any other header (ACLs, tagging, storage
# class, encryption, object lock, conditions, copy source, aws-chunked encoding, ...) goes to moto.
_PLAIN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "authorization",
        "connection",
        "content-length",
        "content-md5",
        "content-type",
        "expect",
        "host",
        "user-agent",
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-sdk-checksum-algorithm",
        "x-amz-security-token",
    }
)
_QUERY_AUTH = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
    }
)
# A host that cannot name a bucket (so the bucket is the path's first part), and a path whose
# characters mean themselves: nothing for moto and us to decode differently.
_LITERAL_HOST = re.compile(r"(localhost|[0-9.]+|\[[0-9a-fA-F:.]+\])(:[0-9]+)?")
_PLAIN_PATH = re.compile(r"/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([A-Za-z0-9._~/-]{1,1024})")
_META = "x-amz-meta-"


class PlainPuts:
    """WSGI middleware: plain object PUTs stored here, every other request passed to ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "PUT":
            stored = _put(environ)
            if stored is not None:
                start_response("200 OK", stored)
                return [b""]
        return self._app(environ, start_response)


def _put(environ: Environ) -> list[tuple[str, str]] | None:
    """Store a plain PUT as moto would and return the answer's headers; None if it is not plain."""
    target = _plain_target(environ)
    if target is None:
        return None
    bucket_name, key_name, access_key, region = target
    headers = EnvironHeaders(environ)
    algorithm = headers.get("x-amz-sdk-checksum-algorithm", "")
    checksum_header = f"x-amz-checksum-{algorithm.lower()}"
    checksum = headers.get(checksum_header)
    if algorithm and not checksum:
        return None  # moto computes it or finds it in an aws-chunked body
    backend = s3_backend(access_key, region)
    try:
        bucket = backend.get_bucket(bucket_name)
    except S3ClientError:
        return None  # moto answers NoSuchBucket
    if bucket.policy or bucket.object_lock_enabled or bucket.encryption or bucket.logging or bucket.cors:
        return None
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    key = backend.put_object(bucket_name, key_name, body, storage="STANDARD", checksum_value=checksum)
    key.set_metadata(metadata_from_headers(dict(headers)))
    key.set_acl(bucket.acl)
    key.website_redirect_location = None
    if algorithm:
        key.checksum_algorithm = algorithm
    backend.put_object_tagging(key, {})
    answer = {checksum_header: checksum} if checksum else {}
    answer.update(key.response_dict)
    answer.pop("content-length", None)
    answer.update(
        {
            "x-amzn-requestid": secrets.token_urlsafe(39),
            "Content-Type": "text/html; charset=utf-8",
            "Content-Length": "0",
            "Access-Control-Allow-Origin": "*",
        }
    )
    return list(answer.items())


def _plain_target(environ: Environ) -> tuple[str, str, str, str] | None:
    """Bucket, key, access key and region of a plain PUT's request, or None if it is not plain."""
    if "MOTO_ACCOUNT_ID" in os.environ or math.isfinite(settings.INITIAL_NO_AUTH_ACTION_COUNT):
        return None  # another account, or moto checking IAM permissions: its own way
    if environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY) or not environ.get("CONTENT_LENGTH"):
        return None
    if not _LITERAL_HOST.fullmatch(environ.get("HTTP_HOST", "")):
        return None
    path = _PLAIN_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if path is None or "//" in path.group(2) or any(p in (".", "..") for p in path.group(2).split("/")):
        return None
    for name in environ:
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").lower()
            if header not in _PLAIN_HEADERS and not header.startswith(_META):
                return None
    query = environ.get("QUERY_STRING", "")
    params = dict(part.partition("=")[::2] for part in query.split("&")) if query else {}
    if not params.keys() <= _QUERY_AUTH:
        return None
    credential = unquote(params.get("X-Amz-Credential", ""))
    if not credential:
        found = re.search(r"Credential=([^,\s]+)", environ.get("HTTP_AUTHORIZATION", ""))
        credential = found.group(1) if found else ""
    scope = parse_credential(credential)
    if scope is None:
        return None
    return path.group(1), path.group(2), scope[0], scope[2]


def s3_backend(access_key: str, region: str) -> S3Backend:
    """moto's S3 backend for the account of an access key, in the partition of a region."""
    backend: S3Backend = s3_backends[get_account_id_from(access_key)][get_partition(region)]
    return backend
