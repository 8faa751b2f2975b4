"""S3 as strict as AWS in front of moto: signatures, presigned expiry, body lengths and checksums.

moto accepts any signature, an expired presigned URL, and bytes that contradict their
``x-amz-checksum-sha256`` or Content-MD5 (getmoto/moto#5719), so the integrity path of chunk
uploads would only be exercised in AWS. ``StrictS3`` sits in front of moto's WSGI application and
refuses such S3 requests itself, with S3's status, code and XML, before moto stores anything.

S3 is what moto's dispatcher sends a request to when it is SigV4-signed for ``s3`` (by header or
presigned query) or carries no SigV4 credential at all (its default service): every such request is
checked, so a SigV2 signature (``Authorization: AWS key:sig``, or ``Signature=`` and
``AWSAccessKeyId=`` in the query) is refused as S3 refuses it where only SigV4 is accepted (400
``InvalidRequest``), and an unsigned request, a PUT or a listing alike, as an anonymous one on a
private bucket (403 ``AccessDenied``). Requests signed for another service, moto's own ``/moto-api``
and CORS preflights (``OPTIONS``, never signed) go to moto untouched and unbuffered.
Checked, in this order (the rules themselves are in ``infra.local.s3_checks``):

- the body is read whole (at most 5 GiB) and must be as long as its Content-Length;
- the access key must be known; a presigned URL unexpired, its X-Amz-Expires at most a week; a
  header-signed request within 15 minutes of our clock;
- the signature, recomputed with botocore's own S3 SigV4 canonicalisation;
- a hex ``x-amz-content-sha256`` against the body; an aws-chunked body is decoded first;
- Content-MD5, and on object and part PUTs (and multi-object deletes) ``x-amz-checksum-sha256``,
  ``-sha1`` and ``-crc32``, in a header or in an aws-chunked trailer.

Not checked: the per-chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` bodies (their seed
signature is), crc32c and crc64nvme checksums, session tokens, bucket policies and ACLs (no request
is anonymous here, so none can be public). SigV4a requests are refused as not supported, and so are
browser POST uploads (their signature is in a form field).
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import unquote

from botocore.auth import UNSIGNED_PAYLOAD
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

from infra.local.s3_checks import (
    AMZ_DATE_FORMAT,
    MAX_BODY_BYTES,
    S3Error,
    SignedRequest,
    check_body,
    check_clock_skew,
    check_not_expired,
    check_signature,
    error_xml,
    parse_amz_date,
    parse_credential,
    parse_expires_s,
)

log = logging.getLogger("driftbox.local.s3")
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_READ_BYTES = 16 * 1024 * 1024
_MOTO_OWN_PATHS = ("/moto-api", "/favicon.ico")
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires")


class StrictS3:
    """WSGI middleware: S3 requests are checked as AWS checks them before ``app`` sees them."""

    def __init__(
        self,
        app: WSGIApp,
        secrets_by_access_key: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._secrets = dict(
            _environment_secrets() if secrets_by_access_key is None else secrets_by_access_key
        )
        self._clock = clock

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not is_s3_request(environ):
            return self._app(environ, start_response)
        try:
            self._check(environ)
        except S3Error as error:
            _log_presigned_put(environ, error.status)
            return _refuse(error, environ, start_response)
        _log_presigned_put(environ, None)
        return self._app(environ, start_response)

    def _check(self, environ: Environ) -> None:
        headers = request_headers(environ)
        # Read first: an answer given while the client is still sending would break its connection.
        body = read_body(environ)
        request = read_signed_request(environ, headers)
        secret = self._secrets.get(request.access_key)
        if secret is None:
            message = "The AWS Access Key Id you provided does not exist in our records."
            raise S3Error(403, "InvalidAccessKeyId", message, {"AWSAccessKeyId": request.access_key})
        signed_at_s = parse_amz_date(request.amz_date)
        if request.expires_s is None:
            check_clock_skew(signed_at_s, self._clock())
        else:
            check_not_expired(signed_at_s, request.expires_s, self._clock())
        check_signature(request, secret)
        check_body(request, body or b"")


def _log_presigned_put(environ: Environ, refused: int | None) -> None:
    """One line per presigned PUT: the clients' chunk uploads (tests count them)."""
    if environ.get("REQUEST_METHOD") == "PUT" and "X-Amz-Signature=" in environ.get("QUERY_STRING", ""):
        outcome = f"refused {refused}" if refused else "accepted"
        log.info("s3 PUT %s %s B %s", environ.get("PATH_INFO"), environ.get("CONTENT_LENGTH", "?"), outcome)


def _environment_secrets() -> dict[str, str]:
    access_key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret:
        raise RuntimeError("StrictS3 checks signatures: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    return {access_key: secret}


def _refuse(error: S3Error, environ: Environ, start_response: StartResponse) -> list[bytes]:
    request_id = secrets.token_hex(8).upper()
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else error_xml(error, request_id)
    headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
    ]
    start_response(f"{error.status} {HTTPStatus(error.status).phrase}", headers)
    return [body]


# -- reading the request ---------------------------------------------------------------------------
def _query(environ: Environ) -> list[tuple[str, str]]:
    raw = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
    pairs = (part.partition("=") for part in raw.split("&") if part)
    return [(unquote(name), unquote(value)) for name, _, value in pairs]


def request_headers(environ: Environ) -> dict[str, str]:
    """The request's headers under their lowercase names, as the client sent them."""
    preserved = environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY) or {}
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = preserved.get(key) or key.removeprefix("HTTP_").replace("_", "-")
            headers[name.lower()] = value
    return headers


def credential_scope(environ: Environ) -> tuple[str, str, str, str] | None:
    """(access key, date, region, service) of a SigV4 credential, from the header or else the query."""
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization:
        found = re.search(r"Credential=([^,\s]+)", authorization)
        return parse_credential(found.group(1)) if found else None
    return parse_credential(dict(_query(environ)).get("X-Amz-Credential", ""))


def signing_service(environ: Environ) -> str | None:
    """The service of a SigV4 credential scope, from the header or else the query, as moto reads it."""
    scope = credential_scope(environ)
    return scope[3] if scope else None


def is_s3_request(environ: Environ) -> bool:
    """Whether moto would serve the request as S3: signed for it, or with no SigV4 scope (its default).

    moto's own API and CORS preflights, which AWS never asks to be signed, are not S3 requests here.
    """
    service = signing_service(environ)
    if service is not None:
        return service == "s3"
    path = environ.get("PATH_INFO", "")
    return environ.get("REQUEST_METHOD") != "OPTIONS" and not path.startswith(_MOTO_OWN_PATHS)


def _amz_date(headers: Mapping[str, str]) -> str:
    if "x-amz-date" in headers:
        return headers["x-amz-date"]
    try:
        return parsedate_to_datetime(headers["date"]).astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    except (KeyError, TypeError, ValueError):
        return ""  # refused as an invalid date


def read_signed_request(environ: Environ, headers: Mapping[str, str]) -> SignedRequest:
    query = _query(environ)
    params = dict(query)
    authorization = headers.get("authorization", "")
    if authorization and "X-Amz-Credential" in params:
        raise S3Error(400, "InvalidArgument", "Only one auth mechanism allowed")
    if not authorization and not params.keys() & {"X-Amz-Algorithm", "X-Amz-Credential"}:
        if params.keys() & {"Signature", "AWSAccessKeyId"}:
            raise _unsupported_mechanism()  # a SigV2 presigned URL
        raise S3Error(403, "AccessDenied", "Access Denied")  # anonymous, and no bucket here is public
    if authorization:
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != "AWS4-HMAC-SHA256":
            raise _unsupported_mechanism()  # SigV2's "AWS key:signature", SigV4a, anything else
        fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
        scope = parse_credential(fields.get("Credential", ""))
        if not scope or not fields.get("Signature"):
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
        if "x-amz-content-sha256" not in headers:
            message = "Missing required header for this request: x-amz-content-sha256"
            raise S3Error(400, "InvalidRequest", message)
        signed_headers, signature = fields.get("SignedHeaders", ""), fields["Signature"]
        amz_date, expires_s, payload_hash = _amz_date(headers), None, headers["x-amz-content-sha256"]
    else:
        scope = parse_credential(params.get("X-Amz-Credential", ""))
        if (
            not scope
            or params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256"
            or not all(map(params.get, _QUERY_AUTH))
        ):
            message = (
                f"Query-string authentication version 4 requires the {', '.join(_QUERY_AUTH)} parameters."
            )
            raise S3Error(400, "AuthorizationQueryParametersError", message)
        signed_headers, signature = params.get("X-Amz-SignedHeaders", ""), params["X-Amz-Signature"]
        amz_date, expires_s = params["X-Amz-Date"], parse_expires_s(params["X-Amz-Expires"])
        payload_hash = UNSIGNED_PAYLOAD
        query = [(name, value) for name, value in query if name != "X-Amz-Signature"]
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return SignedRequest(
        method=environ["REQUEST_METHOD"],
        path=path.encode("latin-1").decode("utf-8", "replace") or "/",
        query=tuple(query),
        headers=headers,
        access_key=scope[0],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(name.strip().lower() for name in signed_headers.split(";") if name.strip()),
        signature=signature,
        amz_date=amz_date,
        expires_s=expires_s,
        payload_hash=payload_hash,
    )


def _unsupported_mechanism() -> S3Error:
    # S3's answer wherever it takes SigV4 only: every Region since 2014, every bucket since mid-2020.
    message = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
    return S3Error(400, "InvalidRequest", message)


def _read(stream: BinaryIO, limit_bytes: int) -> bytes:
    # A chunk (4 MiB) comes in one read, with no copy; a larger body in pieces, never over-allocated.
    parts, remaining = [], limit_bytes
    while remaining > 0:
        part = stream.read(min(remaining, _READ_BYTES))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _too_large(size_bytes: int) -> S3Error:
    details = {"ProposedSize": str(size_bytes), "MaxSizeAllowed": str(MAX_BODY_BYTES)}
    return S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", details)


def read_body(environ: Environ) -> bytes | None:
    """The whole body (None if there is none), with ``wsgi.input`` replaced to give it again."""
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        if not length_text.isascii() or not length_text.isdigit():
            raise S3Error(400, "InvalidArgument", "Content-Length is not a number.")
        length_bytes = int(length_text)
        if length_bytes > MAX_BODY_BYTES:
            raise _too_large(length_bytes)
        body = _read(environ["wsgi.input"], length_bytes)
        if len(body) < length_bytes:
            message = "You did not provide the number of bytes specified by the Content-Length HTTP header"
            raise S3Error(400, "IncompleteBody", message)
    elif environ.get("wsgi.input_terminated"):
        body = _read(environ["wsgi.input"], MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise _too_large(len(body))
    else:
        return None
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return body
