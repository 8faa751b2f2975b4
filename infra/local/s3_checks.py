"""S3's request checks as pure functions: signature, presign expiry, clock skew, body digests.

``infra.local.strict_s3`` reads a request from its WSGI environ and applies these; each check raises
an ``S3Error`` carrying the status, code and message S3 itself answers with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from botocore.auth import UNSIGNED_PAYLOAD, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_BODY_BYTES = 5 * 1024**3  # the largest single PUT S3 accepts
MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600
MAX_CLOCK_SKEW_S = 15 * 60
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")

# Checksum header → (its name in S3's message, decoded size, digest). crc32c and crc64nvme would need
# awscrt, which botocore itself needs to send them.
_CHECKSUMS: dict[str, tuple[str, int, Callable[[bytes], bytes]]] = {
    "x-amz-checksum-sha256": ("SHA256", 32, lambda data: hashlib.sha256(data).digest()),
    "x-amz-checksum-sha1": ("SHA1", 20, lambda data: hashlib.sha1(data, usedforsecurity=False).digest()),
    "x-amz-checksum-crc32": ("CRC32", 4, lambda data: zlib.crc32(data).to_bytes(4, "big")),
}


class S3Error(Exception):
    """A refusal, answered as S3 answers it: a status, a code, a message and extra XML fields."""

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details = dict(details or {})


def error_xml(error: S3Error, request_id: str) -> bytes:
    fields = {"Code": error.code, "Message": error.message, **error.details, "RequestId": request_id}
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


# -- time ------------------------------------------------------------------------------------------
def parse_amz_date(text: str) -> int:
    """Seconds since the epoch of an ISO 8601 basic timestamp such as ``20240101T000000Z``."""
    try:
        return int(datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC).timestamp())
    except ValueError:
        message = "AWS authentication requires a valid Date or x-amz-date header"
        raise S3Error(403, "AccessDenied", message) from None


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expires_s(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    expires_s = int(text)
    if expires_s > MAX_PRESIGN_EXPIRES_S:
        message = f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES_S}"
        raise S3Error(400, "AuthorizationQueryParametersError", message)
    return expires_s


def check_not_expired(signed_at_s: int, expires_s: int, now_s: float) -> None:
    expires_at_s = signed_at_s + expires_s
    if now_s > expires_at_s:
        details = {"X-Amz-Expires": str(expires_s), "Expires": _iso(expires_at_s), "ServerTime": _iso(now_s)}
        raise S3Error(403, "AccessDenied", "Request has expired", details)


def check_clock_skew(signed_at_s: int, now_s: float) -> None:
    if abs(now_s - signed_at_s) > MAX_CLOCK_SKEW_S:
        message = "The difference between the request time and the current time is too large."
        details = {"RequestTime": _iso(signed_at_s), "ServerTime": _iso(now_s)}
        raise S3Error(403, "RequestTimeTooSkewed", message, details)


# -- signature -------------------------------------------------------------------------------------
def parse_credential(text: str) -> tuple[str, str, str, str] | None:
    """(access key, date, region, service) of ``AKID/20240101/us-east-1/s3/aws4_request``."""
    parts = text.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    return parts[0], parts[1], parts[2], parts[3].lower()


@dataclass(frozen=True)
class SignedRequest:
    """What a SigV4 signature covers; path and query are decoded, header names lowercase."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]  # without X-Amz-Signature
    headers: Mapping[str, str]
    access_key: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires_s: int | None  # presigned URLs only
    payload_hash: str


class _Verifier(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 SigV4 signer, told which headers were signed and what the payload hash is."""

    def __init__(self, request: SignedRequest, secret: str) -> None:
        super().__init__(Credentials(request.access_key, secret), request.service, request.region)
        self._payload_hash = request.payload_hash

    def headers_to_sign(self, request: AWSRequest) -> Any:
        return request.headers

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def expected_signature(request: SignedRequest, secret: str) -> tuple[str, str, str]:
    """The signature, canonical request and string to sign that the signer must have computed."""
    signed = {name: request.headers[name] for name in request.signed_headers if name in request.headers}
    url = "http://s3" + quote(request.path, safe="/~")
    aws_request = AWSRequest(request.method, url, headers=signed, params=list(request.query))
    aws_request.context["timestamp"] = request.amz_date
    verifier = _Verifier(request, secret)
    canonical = verifier.canonical_request(aws_request)
    string_to_sign = verifier.string_to_sign(aws_request, canonical)
    return verifier.signature(string_to_sign, aws_request), canonical, string_to_sign


def check_signature(request: SignedRequest, secret: str) -> None:
    signature, canonical, string_to_sign = expected_signature(request, secret)
    if not hmac.compare_digest(signature.encode(), request.signature.encode()):
        message = (
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method."
        )
        details = {
            "AWSAccessKeyId": request.access_key,
            "StringToSign": string_to_sign,
            "SignatureProvided": request.signature,
            "CanonicalRequest": canonical,
        }
        raise S3Error(403, "SignatureDoesNotMatch", message, details)


# -- body ------------------------------------------------------------------------------------------
def _b64(value: str, size_bytes: int) -> bytes | None:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size_bytes else None


def check_payload_sha256(body: bytes, declared: str) -> None:
    computed = hashlib.sha256(body).hexdigest()
    if computed != declared.lower():
        message = "The provided 'x-amz-content-sha256' header does not match what was computed."
        details = {"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed}
        raise S3Error(400, "XAmzContentSHA256Mismatch", message, details)


def check_content_md5(body: bytes, content_md5: str) -> None:
    expected = _b64(content_md5, 16)
    if expected is None:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was not valid.")
    if hashlib.md5(body, usedforsecurity=False).digest() != expected:
        raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")


def check_checksums(payload: bytes, headers: Mapping[str, str]) -> None:
    """Every ``x-amz-checksum-*`` value we can compute must be the payload's."""
    for name, value in headers.items():
        if name not in _CHECKSUMS:
            continue
        label, size_bytes, digest = _CHECKSUMS[name]
        expected = _b64(value, size_bytes)
        if expected is None:
            raise S3Error(400, "InvalidRequest", f"Value for {name} header is invalid.")
        if digest(payload) != expected:
            raise S3Error(
                400, "BadDigest", f"The {label} you specified did not match the calculated checksum."
            )


def decode_aws_chunked(raw: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers of an aws-chunked body; chunk signatures are skipped."""
    malformed = S3Error(400, "IncompleteBody", "The aws-chunked body is malformed or cut short.")
    payload, pos = [], 0
    while True:
        end = raw.find(b"\r\n", pos)
        size_text = raw[pos:end].split(b";", 1)[0].strip()
        if end < 0 or not _CHUNK_SIZE.fullmatch(size_text):
            raise malformed
        size_bytes, pos = int(size_text, 16), end + 2
        if size_bytes == 0:
            break
        if raw[pos + size_bytes : pos + size_bytes + 2] != b"\r\n":
            raise malformed
        payload.append(raw[pos : pos + size_bytes])
        pos += size_bytes + 2
    trailers = {}
    for line in filter(None, raw[pos:].split(b"\r\n")):
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise malformed
        trailers[name.strip().lower()] = value.strip()
    return b"".join(payload), trailers


def _checksummed(request: SignedRequest) -> bool:
    # Elsewhere (CompleteMultipartUpload) a checksum header describes the whole object, not the body.
    if request.method == "PUT":
        return "x-amz-copy-source" not in request.headers
    return request.method == "POST" and "delete" in {name for name, _ in request.query}


def check_body(request: SignedRequest, body: bytes) -> None:
    """The body against its signed payload hash, its Content-MD5 and its checksums, in that order."""
    declared = request.payload_hash
    streaming = declared.startswith("STREAMING-")
    if _HEX_SHA256.fullmatch(declared):
        check_payload_sha256(body, declared)
    elif declared != UNSIGNED_PAYLOAD and not streaming:
        message = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value."
        raise S3Error(400, "InvalidArgument", message)
    payload, trailers = decode_aws_chunked(body) if streaming else (body, {})
    decoded_length = request.headers.get("x-amz-decoded-content-length")
    if streaming and decoded_length not in (None, str(len(payload))):
        message = "The decoded length of the aws-chunked body differs from x-amz-decoded-content-length."
        raise S3Error(400, "IncompleteBody", message)
    if "content-md5" in request.headers:
        check_content_md5(payload, request.headers["content-md5"])
    if _checksummed(request):
        check_checksums(payload, {**request.headers, **trailers})
