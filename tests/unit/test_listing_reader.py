"""The chunk listing is read from S3's XML in one pass, and an error sent with a 200 is still an error."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from chalicelib.adapters import blobs

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _page(keys: dict[str, int], *, truncated: bool, url_encoded: bool = False) -> bytes:
    contents = "".join(
        f"<Contents><Key>{quote_plus(k) if url_encoded else k}</Key><LastModified>2026-11-24T00:00:00.000Z"
        f'</LastModified><ETag>"e"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>'
        for k, size in keys.items()
    )
    encoding = "<EncodingType>url</EncodingType>" if url_encoded else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NS}"><Name>b</Name>'
        f"<Prefix>chunks/</Prefix><KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys>{encoding}"
        f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{contents}</ListBucketResult>"
    ).encode()


def _read(body: bytes, status: int = 200) -> tuple[dict[str, Any], dict[str, Any]]:
    response = {"status_code": status, "headers": {}, "body": body}
    extra: dict[str, Any] = {}
    blobs._read_listing(response_dict=response, customized_response_dict=extra)
    return response, extra


def test_a_page_gives_each_key_s_size_the_last_key_and_whether_more_follow() -> None:
    keys = {"chunks/n/aa": 3, "chunks/n/ab": 4_194_304, "chunks/n/ff": 0}
    for truncated in (True, False):
        response, extra = _read(_page(keys, truncated=truncated))
        assert extra == {"Sizes": keys, "LastKey": "chunks/n/ff", "IsTruncated": truncated}
        assert b"<Contents>" not in response["body"]  # botocore is left nothing to parse


def test_url_encoded_keys_are_decoded() -> None:
    keys = {"chunks/a b+c/é": 1}
    assert _read(_page(keys, truncated=False, url_encoded=True))[1]["Sizes"] == keys


def test_an_empty_page() -> None:
    assert _read(_page({}, truncated=False))[1] == {"Sizes": {}, "LastKey": None, "IsTruncated": False}


def test_an_error_sent_with_a_200_becomes_a_500_and_is_left_for_botocore() -> None:
    body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
    response, extra = _read(body)
    assert (response["status_code"], response["body"], extra) == (500, body, {})


def test_other_answers_are_left_as_they_are() -> None:
    for status, body in ((404, b"<Error><Code>NoSuchBucket</Code></Error>"), (200, b"not xml")):
        response, extra = _read(body, status)
        assert (response["status_code"], response["body"], extra) == (status, body, {})
