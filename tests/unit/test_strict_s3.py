"""The strict S3 layer: S3's checks as pure functions, and the middleware over a fake moto."""

from __future__ import annotations

import base64
import hashlib
import io
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha1Checksum, Sha256Checksum
from werkzeug.test import Client, EnvironBuilder

from infra.local import s3_checks
from infra.local.s3_checks import S3Error, SignedRequest
from infra.local.strict_s3 import (
    StrictS3,
    is_s3_request,
    read_signed_request,
    request_headers,
    signing_service,
)

ENDPOINT = "http://127.0.0.1:5000"
ACCESS_KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BODY = b"chunk bytes " * 100
SHA256_B64 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()


def _xml(data: bytes) -> ET.Element:
    return ET.fromstring(data)  # noqa: S314 - our own answer, parsed to check it


def _raises(code: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> S3Error:
    with pytest.raises(S3Error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


# -- time ------------------------------------------------------------------------------------------
def test_amz_dates_are_read_as_utc_seconds() -> None:
    assert s3_checks.parse_amz_date("20240101T000000Z") == 1_704_067_200
    assert s3_checks.parse_amz_date("20240229T235959Z") == 1_709_251_199


@pytest.mark.parametrize("text", ["", "2024-01-01T00:00:00Z", "20240101T000000", "20241301T000000Z"])
def test_a_malformed_amz_date_is_access_denied(text: str) -> None:
    assert _raises("AccessDenied", lambda: s3_checks.parse_amz_date(text)).status == 403


def test_expires_is_a_whole_number_of_seconds_up_to_a_week() -> None:
    assert s3_checks.parse_expires_s("0") == 0
    assert s3_checks.parse_expires_s("604800") == 604_800
    for text in ["604801", "-1", "1.5", "", "soon", "١٢"]:
        error = _raises("AuthorizationQueryParametersError", s3_checks.parse_expires_s, text)
        assert error.status == 400


@pytest.mark.parametrize(
    ("now_s", "expired"),
    [(900.0, False), (1000.0, False), (1060.0, False), (1060.5, True), (1061.0, True), (99_999.0, True)],
)
def test_a_presigned_url_expires_after_its_date_plus_expires(now_s: float, expired: bool) -> None:
    def check() -> None:
        s3_checks.check_not_expired(signed_at_s=1000, expires_s=60, now_s=now_s)

    if not expired:
        check()
        return
    error = _raises("AccessDenied", check)
    assert (error.status, error.message) == (403, "Request has expired")
    assert error.details["X-Amz-Expires"] == "60"
    assert error.details["Expires"] == "1970-01-01T00:17:40Z"


@pytest.mark.parametrize(
    ("offset_s", "skewed"), [(0, False), (900, False), (-900, False), (901, True), (-901, True)]
)
def test_a_header_signed_request_may_be_15_minutes_off(offset_s: int, skewed: bool) -> None:
    def check() -> None:
        s3_checks.check_clock_skew(signed_at_s=10_000, now_s=10_000 + offset_s)

    if skewed:
        assert _raises("RequestTimeTooSkewed", check).status == 403
    else:
        check()


# -- errors ----------------------------------------------------------------------------------------
def test_errors_are_s3s_xml_with_their_details_escaped() -> None:
    error = S3Error(400, "BadDigest", "a <b> & c", {"StringToSign": "x\ny<z>"})
    root = _xml(s3_checks.error_xml(error, "REQ1"))
    assert root.tag == "Error"
    assert [(child.tag, child.text) for child in root] == [
        ("Code", "BadDigest"),
        ("Message", "a <b> & c"),
        ("StringToSign", "x\ny<z>"),
        ("RequestId", "REQ1"),
    ]


# -- body digests ----------------------------------------------------------------------------------
def _b64(checksum_cls: Any, data: bytes) -> str:
    checksum = checksum_cls()
    checksum.update(data)
    return str(checksum.b64digest())


@pytest.mark.parametrize(
    ("header", "checksum_cls", "label"),
    [
        ("x-amz-checksum-sha256", Sha256Checksum, "SHA256"),
        ("x-amz-checksum-sha1", Sha1Checksum, "SHA1"),
        ("x-amz-checksum-crc32", Crc32Checksum, "CRC32"),
    ],
)
def test_checksums_are_compared_with_what_botocore_computes(
    header: str, checksum_cls: Any, label: str
) -> None:
    s3_checks.check_checksums(BODY, {header: _b64(checksum_cls, BODY)})
    error = _raises(
        "BadDigest", lambda: s3_checks.check_checksums(BODY[:-1] + b"!", {header: _b64(checksum_cls, BODY)})
    )
    assert (error.status, error.message) == (
        400,
        f"The {label} you specified did not match the calculated checksum.",
    )
    for invalid in ["not base64!", base64.b64encode(b"short").decode()]:
        assert _raises("InvalidRequest", s3_checks.check_checksums, BODY, {header: invalid}).status == 400


def test_checksum_headers_that_are_not_values_or_not_computable_are_left_alone() -> None:
    s3_checks.check_checksums(
        BODY,
        {
            "x-amz-checksum-crc32c": "AAAAAA==",
            "x-amz-checksum-type": "FULL_OBJECT",
            "x-amz-checksum-algorithm": "SHA256",
        },
    )


def test_content_md5_must_be_the_bodys() -> None:
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()  # noqa: S324 - S3's own digest
    s3_checks.check_content_md5(BODY, md5)
    error = _raises("BadDigest", lambda: s3_checks.check_content_md5(BODY + b"x", md5))
    assert error.message == "The Content-MD5 you specified did not match what we received."
    assert _raises("InvalidDigest", lambda: s3_checks.check_content_md5(BODY, "nope")).status == 400
    assert _raises("InvalidDigest", lambda: s3_checks.check_content_md5(BODY, SHA256_B64)).status == 400


def test_a_hex_payload_hash_must_be_the_bodys() -> None:
    s3_checks.check_payload_sha256(BODY, hashlib.sha256(BODY).hexdigest().upper())
    error = _raises(
        "XAmzContentSHA256Mismatch",
        lambda: s3_checks.check_payload_sha256(b"", hashlib.sha256(BODY).hexdigest()),
    )
    assert error.details["S3ComputedContentSHA256"] == hashlib.sha256(b"").hexdigest()


def _aws_chunked(data: bytes, chunk_size: int = 100) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Sha256Checksum,
        checksum_name="x-amz-checksum-sha256",
        chunk_size=chunk_size,
    )
    return bytes(wrapper.read())


def test_aws_chunked_bodies_decode_to_their_payload_and_trailers() -> None:
    payload, trailers = s3_checks.decode_aws_chunked(_aws_chunked(BODY))
    assert payload == BODY
    assert trailers == {"x-amz-checksum-sha256": SHA256_B64}
    signed = b"5;chunk-signature=" + b"a" * 64 + b"\r\nhello\r\n0;chunk-signature=" + b"b" * 64 + b"\r\n\r\n"
    assert s3_checks.decode_aws_chunked(signed) == (b"hello", {})


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"5\r\nhel",
        b"5\r\nhello\r\n",
        b"z\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",
        b"0\r\nnocolon\r\n\r\n",
    ],
    ids=["empty", "cut", "no-last-chunk", "bad-size", "wrong-size", "bad-trailer"],
)
def test_a_malformed_aws_chunked_body_is_incomplete(raw: bytes) -> None:
    assert _raises("IncompleteBody", lambda: s3_checks.decode_aws_chunked(raw)).status == 400


def _request(
    method: str = "PUT", query: tuple[tuple[str, str], ...] = (), /, **headers: str
) -> SignedRequest:
    return SignedRequest(
        method=method,
        path="/bucket/key",
        query=query,
        headers={name.replace("_", "-"): value for name, value in headers.items()},
        access_key=ACCESS_KEY,
        region="us-east-1",
        service="s3",
        signed_headers=("host",),
        signature="",
        amz_date="20240101T000000Z",
        expires_s=900,
        payload_hash=headers.get("x_amz_content_sha256", "UNSIGNED-PAYLOAD"),
    )


def test_the_body_is_checked_against_every_digest_it_declares() -> None:
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    s3_checks.check_body(_request(x_amz_checksum_sha256=SHA256_B64), BODY)
    _raises("BadDigest", lambda: s3_checks.check_body(_request(x_amz_checksum_sha256=wrong), BODY))
    part = (("partNumber", "1"), ("uploadId", "u"))
    _raises(
        "BadDigest", lambda: s3_checks.check_body(_request("PUT", part, x_amz_checksum_sha256=wrong), BODY)
    )
    deletes = (("delete", ""),)
    _raises(
        "BadDigest",
        lambda: s3_checks.check_body(_request("POST", deletes, x_amz_checksum_sha256=wrong), BODY),
    )
    declared = hashlib.sha256(b"other").hexdigest()
    _raises(
        "XAmzContentSHA256Mismatch",
        lambda: s3_checks.check_body(_request(x_amz_content_sha256=declared), BODY),
    )
    _raises("InvalidArgument", lambda: s3_checks.check_body(_request(x_amz_content_sha256="whatever"), BODY))


def test_checksums_that_describe_the_whole_object_are_not_the_bodys() -> None:
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    complete = (("uploadId", "u"),)
    s3_checks.check_body(
        _request("POST", complete, x_amz_checksum_sha256=wrong), b"<CompleteMultipartUpload/>"
    )
    s3_checks.check_body(_request(x_amz_copy_source="/bucket/other", x_amz_checksum_sha256=wrong), b"")


def test_an_aws_chunked_body_is_checked_after_decoding() -> None:
    streaming = {
        "x_amz_content_sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x_amz_trailer": "x-amz-checksum-sha256",
    }
    raw = _aws_chunked(BODY)
    s3_checks.check_body(_request(**streaming, x_amz_decoded_content_length=str(len(BODY))), raw)
    tampered = raw.replace(b"chunk", b"CHUNK", 1)
    _raises("BadDigest", lambda: s3_checks.check_body(_request(**streaming), tampered))
    short = _request(**streaming, x_amz_decoded_content_length=str(len(BODY) + 1))
    _raises("IncompleteBody", lambda: s3_checks.check_body(short, raw))


# -- signatures, through the environ a WSGI server gives ------------------------------------------
def _builder(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> EnvironBuilder:
    parts = urlsplit(url)
    return EnvironBuilder(
        method=method,
        base_url=f"{parts.scheme}://{parts.netloc}",
        path=parts.path,
        query_string=parts.query,
        headers=list((headers or {}).items()),
        data=body,
    )


def _environ(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    environ: dict[str, Any] = _builder(method, url, headers, body).get_environ()
    return environ


def _check(environ: dict[str, Any], secret: str = SECRET) -> None:
    s3_checks.check_signature(read_signed_request(environ, request_headers(environ)), secret)


def _s3_client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4"),
    )


def _presigned_put(key: str = "ns/chunk €+ ~x") -> tuple[str, dict[str, str]]:
    url = _s3_client().generate_presigned_url(
        "put_object",
        Params={"Bucket": "bucket", "Key": key, "ChecksumSHA256": SHA256_B64, "ContentLength": len(BODY)},
        ExpiresIn=900,
    )
    return url, {"x-amz-checksum-sha256": SHA256_B64, "Content-Length": str(len(BODY))}


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_presigned_put_verifies_and_any_change_breaks_it() -> None:
    url, headers = _presigned_put()
    _check(_environ("PUT", url, headers, BODY))
    other_checksum = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    tampered = [
        _environ("PUT", url.replace("chunk", "chunK"), headers, BODY),
        _environ("PUT", url, headers | {"x-amz-checksum-sha256": other_checksum}, BODY),
        _environ("PUT", url, headers | {"Content-Length": str(len(BODY) - 1)}, BODY[:-1]),
        _environ("PUT", _with_query(url, **{"X-Amz-Expires": "901"}), headers, BODY),
        _environ("POST", url, headers, BODY),
        _environ("PUT", url.replace("127.0.0.1", "localhost"), headers, BODY),
    ]
    for environ in tampered:
        error = _raises("SignatureDoesNotMatch", _check, environ)
        assert error.status == 403
        assert error.details["AWSAccessKeyId"] == ACCESS_KEY
    _raises(
        "SignatureDoesNotMatch", lambda: _check(_environ("PUT", url, headers, BODY), secret="not the secret")
    )


def test_a_presigned_get_verifies_with_the_query_in_any_order() -> None:
    url = _s3_client().generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "a/b c"})
    _check(_environ("GET", url))
    parts = urlsplit(url)
    reordered = "&".join(reversed(parts.query.split("&")))
    _check(_environ("GET", urlunsplit(parts._replace(query=reordered))))


def _header_signed(method: str, url: str, body: bytes, **headers: str) -> dict[str, Any]:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1").add_auth(request)
    return _environ(method, url, dict(request.headers.items()), body)


def test_a_header_signed_request_verifies_and_any_change_breaks_it() -> None:
    url = f"{ENDPOINT}/bucket/dir/a%20b%2Bc?partNumber=1&uploadId=x%2By"
    environ = _header_signed("PUT", url, BODY, **{"x-amz-checksum-sha256": SHA256_B64, "Content-Type": "a/b"})
    request = read_signed_request(environ, request_headers(environ))
    assert request.payload_hash == hashlib.sha256(BODY).hexdigest()
    assert {"content-type", "host", "x-amz-checksum-sha256", "x-amz-date"} <= set(request.signed_headers)
    _check(environ)
    for name, value in [
        ("HTTP_X_AMZ_CHECKSUM_SHA256", "x"),
        ("CONTENT_TYPE", "a/c"),
        ("QUERY_STRING", "partNumber=2"),
    ]:
        changed = environ | {name: value}
        _raises("SignatureDoesNotMatch", _check, changed)


def test_requests_signed_for_s3_are_told_apart_from_others() -> None:
    url, headers = _presigned_put()
    assert signing_service(_environ("PUT", url, headers, BODY)) == "s3"
    assert signing_service(_header_signed("GET", f"{ENDPOINT}/bucket", b"")) == "s3"
    dynamodb = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/dynamodb/aws4_request, S=x"
    }
    assert signing_service(_environ("POST", ENDPOINT + "/", dynamodb)) == "dynamodb"
    assert signing_service(_environ("GET", ENDPOINT + "/moto-api/")) is None
    assert signing_service(_environ("GET", ENDPOINT + "/b/k", {"Authorization": "AWS AK:sig"})) is None


def test_s3_requests_are_those_moto_would_serve_as_s3_signed_or_not() -> None:
    url, headers = _presigned_put()
    dynamodb = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/dynamodb/aws4_request, S=x"
    }
    assert is_s3_request(_environ("PUT", url, headers, BODY))
    assert is_s3_request(_environ("GET", ENDPOINT + "/b/k", {"Authorization": "AWS AK:sig"}))
    assert is_s3_request(_environ("GET", ENDPOINT + "/b?AWSAccessKeyId=AK&Signature=x&Expires=1"))
    assert is_s3_request(_environ("PUT", ENDPOINT + "/b/k", body=b"anonymous"))
    assert is_s3_request(_environ("GET", ENDPOINT + "/"))
    assert not is_s3_request(_environ("POST", ENDPOINT + "/", dynamodb))
    assert not is_s3_request(_environ("GET", ENDPOINT + "/moto-api/"))
    assert not is_s3_request(_environ("OPTIONS", ENDPOINT + "/b/k", {"Origin": "http://x"}))


# -- the middleware over a fake moto ---------------------------------------------------------------
class _FakeMoto:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, str | None, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        self.seen.append(
            (stream.read(int(environ.get("CONTENT_LENGTH") or 0)), environ.get("CONTENT_LENGTH"), stream)
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"stored"]


def _strict(now_offset_s: float = 0.0) -> tuple[Client, _FakeMoto]:
    moto = _FakeMoto()
    app = StrictS3(moto, {ACCESS_KEY: SECRET}, clock=lambda: time.time() + now_offset_s)
    return Client(app), moto


def test_a_valid_presigned_put_reaches_moto_with_its_body() -> None:
    client, moto = _strict()
    url, headers = _presigned_put()
    response = client.open(_builder("PUT", url, headers, BODY))
    assert response.status_code == 200
    assert [(body, length) for body, length, _ in moto.seen] == [(BODY, str(len(BODY)))]


@pytest.mark.parametrize(
    ("offset_s", "data", "status", "code"),
    [(901, BODY, 403, "AccessDenied"), (0, BODY[:-1] + b"?", 400, "BadDigest")],
    ids=["expired", "wrong-bytes"],
)
def test_a_refused_put_never_reaches_moto(offset_s: int, data: bytes, status: int, code: str) -> None:
    client, moto = _strict(now_offset_s=offset_s)
    url, headers = _presigned_put()
    response = client.open(_builder("PUT", url, headers, data))
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/xml"
    assert _xml(response.data).findtext("Code") == code
    assert moto.seen == []


def test_a_refused_head_has_no_body() -> None:
    client, moto = _strict()
    url = _s3_client().generate_presigned_url("head_object", Params={"Bucket": "bucket", "Key": "k"})
    response = client.open(_builder("HEAD", url.replace("k?", "other?")))
    assert (response.status_code, response.data) == (403, b"")
    assert moto.seen == []


def test_a_body_shorter_than_its_content_length_is_incomplete() -> None:
    moto = _FakeMoto()
    url, headers = _presigned_put()
    environ = _environ("PUT", url, headers, BODY)
    environ["wsgi.input"] = io.BytesIO(BODY[:-10])
    status: list[str] = []
    body = b"".join(StrictS3(moto, {ACCESS_KEY: SECRET})(environ, lambda s, h: status.append(s)))
    assert status == ["400 Bad Request"]
    assert _xml(body).findtext("Code") == "IncompleteBody"
    assert moto.seen == []


def test_an_unknown_access_key_is_refused() -> None:
    moto = _FakeMoto()
    url, headers = _presigned_put()
    response = Client(StrictS3(moto, {"SOMEONEELSE": SECRET})).open(_builder("PUT", url, headers, BODY))
    assert response.status_code == 403
    assert _xml(response.data).findtext("Code") == "InvalidAccessKeyId"


def test_requests_for_other_services_pass_untouched_and_unread() -> None:
    moto = _FakeMoto()
    environ = _environ(
        "POST",
        ENDPOINT + "/",
        {"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/dynamodb/aws4_request, S=x"},
        b'{"TableName": "t"}',
    )
    original = environ["wsgi.input"]
    assert b"".join(StrictS3(moto, {})(environ, lambda s, h: None)) == b"stored"
    assert moto.seen == [(b'{"TableName": "t"}', "18", original)]


@pytest.mark.parametrize(
    ("url", "headers", "status", "code"),
    [
        (ENDPOINT + "/b/k", {"Authorization": "AWS AKIDEXAMPLE:c2lnbmF0dXJl"}, 400, "InvalidRequest"),
        (ENDPOINT + "/b/k?AWSAccessKeyId=AKIDEXAMPLE&Signature=x&Expires=1", {}, 400, "InvalidRequest"),
        (ENDPOINT + "/b/k", {"Authorization": "AWS4-ECDSA-P256-SHA256 Credential=x"}, 400, "InvalidRequest"),
        (ENDPOINT + "/b/k", {}, 403, "AccessDenied"),
        (ENDPOINT + "/b?list-type=2", {}, 403, "AccessDenied"),
    ],
    ids=["sigv2-header", "sigv2-query", "sigv4a", "unsigned-put", "anonymous-list"],
)
def test_anything_but_sigv4_is_refused_before_moto(
    url: str, headers: dict[str, str], status: int, code: str
) -> None:
    client, moto = _strict()
    response = client.open(_builder("PUT" if "list" not in url else "GET", url, headers, b"bytes"))
    assert (response.status_code, _xml(response.data).findtext("Code")) == (status, code)
    assert moto.seen == []
