"""The emulator's short way for plain object PUTs (infra.local.s3_put) stores and answers as moto does.

Each request goes once through ``PlainPuts`` and once straight to moto's application, on buckets of
their own (they share moto's backends with the functional tests' emulator). Afterwards the two
answers, the two stored objects and moto's answers to HEAD and GET of them must be the same, and
``PlainPuts`` must have handled exactly the requests it calls plain: the others reach moto.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import FakeKey, s3_backends
from werkzeug.test import Client, TestResponse

from infra.local.s3_put import PlainPuts

AUTH = (
    "AWS4-HMAC-SHA256 Credential=local/20261124/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0"
)
PRESIGNED = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local%2F20261124%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261124T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=content-length%3Bhost"
    "&X-Amz-Signature=0"
)
BODY = b"chunk bytes \x00\xff" * 50
# Answer headers that differ between any two requests.
VARYING = {"date", "server", "x-amzn-requestid", "last-modified", "x-amz-version-id"}


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _crc32(body: bytes) -> str:
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def _signed(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "Authorization": AUTH,
        "x-amz-date": "20261124T000000Z",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    } | (extra or {})


class Counting:
    """A WSGI app passing requests to ``app`` and counting them."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def moto_app() -> Any:
    return DomainDispatcherApplication(create_backend_app)


class Pair:
    """Two buckets made alike: one written through PlainPuts, one through moto alone."""

    def __init__(
        self, moto_app: Any, *, versioned: bool = False, policy: bool = False, acl: str | None = None
    ) -> None:
        self.counting = Counting(moto_app)
        self.plain = Client(PlainPuts(self.counting))
        self.moto = Client(moto_app)
        suffix = uuid.uuid4().hex[:12]
        self.buckets = {"plain": f"plain-{suffix}", "moto": f"moto-{suffix}"}
        for bucket in self.buckets.values():
            made = self.moto.put(f"/{bucket}", headers=_signed({"x-amz-acl": acl} if acl else {}))
            assert made.status_code == 200
            if versioned:
                config = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
                answer = self.moto.put(
                    f"/{bucket}", query_string="versioning", data=config, headers=_signed()
                )
                assert answer.status_code == 200
            if policy:
                statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
                document = {
                    "Version": "2012-10-17",
                    "Statement": [statement | {"Resource": f"arn:aws:s3:::{bucket}/*"}],
                }
                answer = self.moto.put(
                    f"/{bucket}", query_string="policy", data=json.dumps(document), headers=_signed()
                )
                assert answer.status_code in (200, 204), answer.text

    def put(self, key: str, *, handled: bool, body: bytes = BODY, **request: Any) -> None:
        """PUT ``key`` both ways: the answers must match, and PlainPuts handle it or not."""
        before = self.counting.calls
        answers = {
            way: client.put(f"/{self.buckets[way]}/{key}", data=body, **request)
            for way, client in (("plain", self.plain), ("moto", self.moto))
        }
        assert self.counting.calls - before == (0 if handled else 1)
        assert _comparable(answers["plain"]) == _comparable(answers["moto"])
        assert answers["plain"].status_code == 200, answers["plain"].text

    def key(self, way: str, key: str) -> FakeKey:
        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(self.buckets[way], key)
        assert stored is not None
        return stored

    def assert_same(self, key: str) -> None:
        """Both objects stored alike, and answered alike by moto's HEAD and GET."""
        plain, moto = self.key("plain", key), self.key("moto", key)
        assert _stored(plain) == _stored(moto)
        for method in ("HEAD", "GET"):
            answers = [
                self.moto.open(
                    f"/{bucket}/{key}", method=method, headers=_signed({"x-amz-checksum-mode": "ENABLED"})
                )
                for bucket in self.buckets.values()
            ]
            assert _comparable(answers[0]) == _comparable(answers[1])
            assert answers[0].status_code == 200


def _comparable(answer: TestResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted(
        (name.lower(), "(present)" if name.lower() in VARYING else value)
        for name, value in answer.headers.items()
        if name.lower() not in ("date", "server", "x-amzn-requestid")
    )
    return answer.status_code, headers, answer.get_data()


def _stored(key: FakeKey) -> dict[str, Any]:
    return {
        "value": key.value,
        "etag": key.etag,
        "size": key.size,
        "metadata": dict(key.metadata),
        "checksum": (key.checksum_algorithm, key.checksum_value),
        "storage_class": key.storage_class,
        "acl": [(g.permissions, [(e.uri, e.id) for e in g.grantees]) for g in key.acl.grants]
        if key.acl
        else None,
        "versioned": key._is_versioned,
        "redirect": key.website_redirect_location,
        "encryption": key.encryption,
    }


# -- the requests PlainPuts stores itself ---------------------------------------------------------
def test_a_presigned_chunk_put_is_stored_as_moto_stores_it(moto_app: Any) -> None:
    pair = Pair(moto_app)
    key = "chunks/ns-1/" + hashlib.sha256(BODY).hexdigest()
    headers = {"x-amz-checksum-sha256": _sha256(BODY)}
    pair.put(key, handled=True, query_string=PRESIGNED, headers=headers)
    pair.assert_same(key)


def test_an_sdk_put_with_type_metadata_and_checksum_is_stored_as_moto_stores_it(moto_app: Any) -> None:
    pair = Pair(moto_app)
    headers = _signed(
        {
            "Content-Type": "text/plain",
            "x-amz-meta-origin": "laptop",
            "X-Amz-Meta-Mixed-Case": "Value",
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "x-amz-checksum-crc32": _crc32(BODY),
            "Expect": "100-continue",
            "User-Agent": "aws-cli/1 botocore/1",
        }
    )
    pair.put("folder/notes.txt", handled=True, headers=headers)
    pair.assert_same("folder/notes.txt")


def test_overwriting_and_versioned_buckets_keep_what_moto_keeps(moto_app: Any) -> None:
    for versioned in (False, True):
        pair = Pair(moto_app, versioned=versioned)
        pair.put("a/b", handled=True, headers=_signed())
        pair.put("a/b", handled=True, body=b"second", headers=_signed({"x-amz-meta-n": "2"}))
        pair.assert_same("a/b")
        versions = [
            len(s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket).keys.getlist("a/b"))
            for bucket in pair.buckets.values()
        ]
        assert versions == ([2, 2] if versioned else [1, 1])


def test_a_new_object_takes_the_bucket_s_acl_as_in_moto(moto_app: Any) -> None:
    pair = Pair(moto_app, acl="public-read")
    pair.put("shared", handled=True, headers=_signed())
    pair.assert_same("shared")


def test_an_empty_object_is_stored_as_moto_stores_it(moto_app: Any) -> None:
    pair = Pair(moto_app)
    # as an HTTP client sends it (Werkzeug's test client leaves out a length of 0)
    pair.put("empty", handled=True, body=b"", headers=_signed(), environ_overrides={"CONTENT_LENGTH": "0"})
    pair.assert_same("empty")


# -- the requests it leaves to moto ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "request_"),
    [
        ("tagged", {"headers": _signed({"x-amz-tagging": "a=b"})}),
        ("acl", {"headers": _signed({"x-amz-acl": "public-read"})}),
        ("cold", {"headers": _signed({"x-amz-storage-class": "STANDARD_IA"})}),
        ("sealed", {"headers": _signed({"x-amz-server-side-encryption": "AES256"})}),
        ("new-only", {"headers": _signed({"If-None-Match": "*"})}),
        (
            "under_score",  # as the server hands it over: the name's spelling kept aside
            {
                "headers": _signed({"x-amz-meta-my_key": "v"}),
                "environ_overrides": {
                    PRESERVED_HEADER_NAMES_ENVIRON_KEY: {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}
                },
            },
        ),
        ("sp ace", {"headers": _signed()}),
        ("pl+us", {"headers": _signed()}),
        ("dot/../dot", {"headers": _signed()}),
        ("subresource", {"headers": _signed(), "query_string": "tagging"}),
        ("other-query", {"headers": _signed(), "query_string": PRESIGNED + "&x-id=PutObject"}),
        ("computed", {"headers": _signed({"x-amz-sdk-checksum-algorithm": "CRC32"})}),
        ("unsigned", {"headers": {}}),
    ],
)
def test_other_puts_go_to_moto(moto_app: Any, key: str, request_: dict[str, Any]) -> None:
    pair = Pair(moto_app)
    before = pair.counting.calls
    answers = [
        client.put(f"/{pair.buckets[way]}/{key}", data=BODY, **request_)
        for way, client in (("plain", pair.plain), ("moto", pair.moto))
    ]
    assert pair.counting.calls - before == 1
    assert _comparable(answers[0])[0] == _comparable(answers[1])[0]


def test_a_bucket_with_a_policy_goes_to_moto(moto_app: Any) -> None:
    pair = Pair(moto_app, policy=True)
    pair.put("k", handled=False, headers=_signed())
    pair.assert_same("k")


def test_a_missing_bucket_is_moto_s_answer(moto_app: Any) -> None:
    counting = Counting(moto_app)
    answer = Client(PlainPuts(counting)).put(
        f"/missing-{uuid.uuid4().hex[:8]}/k", data=BODY, headers=_signed()
    )
    assert counting.calls == 1
    assert answer.status_code == 404
    assert b"NoSuchBucket" in answer.get_data()


def test_a_bucket_named_by_the_host_goes_to_moto(moto_app: Any) -> None:
    pair = Pair(moto_app)
    client = Client(PlainPuts(pair.counting))
    answer = client.put(
        "/k", base_url=f"http://{pair.buckets['plain']}.s3.amazonaws.com/", data=BODY, headers=_signed()
    )
    assert pair.counting.calls == 1
    assert answer.status_code == 200
