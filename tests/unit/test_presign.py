"""Chunk URLs signed by chalicelib's presigner are the very URLs botocore would sign."""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters import aws, blobs
from chalicelib.adapters.presign import BucketAddress, presigned_url

ENDPOINTS = [
    None,  # AWS itself: virtual-hosted addresses
    "http://127.0.0.1:5000",  # the local stack: path-style, a port
    "https://s3.example.com:443",  # a default port, left out of the signed host
    "http://[::1]:9000",
]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2"]
BUCKETS = ["driftbox-chunks", "a.b-c"]

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60).map(
    lambda s: "chunks/" + s
)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
CREDENTIALS = [
    ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    # Lambda's: a session token, with the characters a query string must encode
    ReadOnlyCredentials("ASIAEXAMPLE", "s3cr3t", "IQoJb3JpZ2luX2VjE+/Az==;&x y"),
]


@functools.cache
def _botocore(
    endpoint: str | None, region: str, credentials: ReadOnlyCredentials, addressing_style: str = "auto"
) -> Any:
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": addressing_style}),
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )


@settings(max_examples=150, deadline=None)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    region=st.sampled_from(REGIONS),
    bucket=st.sampled_from(BUCKETS),
    key=keys,
    size=st.integers(0, 4 * 1024 * 1024),
    digest=st.binary(min_size=32, max_size=32),
    expires_s=st.integers(1, 7 * 24 * 3600),
    now=moments,
    credentials=st.sampled_from(CREDENTIALS),
)
def test_put_and_get_urls_are_botocores(
    endpoint: str | None,
    region: str,
    bucket: str,
    key: str,
    size: int,
    digest: bytes,
    expires_s: int,
    now: datetime,
    credentials: ReadOnlyCredentials,
) -> None:
    s3 = _botocore(endpoint, region, credentials)
    checksum = base64.b64encode(digest).decode("ascii")
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        probe = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "probe"})
        expected_put = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ChecksumSHA256": checksum, "ContentLength": size},
            ExpiresIn=expires_s,
        )
        expected_get = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )
    address = BucketAddress.of(probe, "probe", region)
    put = presigned_url(
        address,
        credentials,
        method="PUT",
        key=key,
        headers={"x-amz-checksum-sha256": checksum, "Content-Length": str(size)},
        expires_s=expires_s,
        now=now,
    )
    get = presigned_url(address, credentials, method="GET", key=key, headers={}, expires_s=expires_s, now=now)
    assert (put, get) == (expected_put, expected_get)


def test_the_signature_changes_with_every_signed_part() -> None:
    address = BucketAddress(base="http://127.0.0.1:5000/b", host="127.0.0.1:5000", region="us-east-1")
    now = datetime(2026, 11, 24, tzinfo=UTC)

    def signature(
        method: str = "PUT",
        key: str = "chunks/n/h",
        size: str = "1",
        expires_s: int = 60,
        at: datetime = now,
        secret: str = "secret",
    ) -> str:
        url = presigned_url(
            address,
            ReadOnlyCredentials("AKID", secret, None),
            method=method,
            key=key,
            headers={"Content-Length": size},
            expires_s=expires_s,
            now=at,
        )
        return url.rsplit("X-Amz-Signature=", 1)[1]

    signatures = [
        signature(),
        signature(method="GET"),
        signature(key="chunks/n/i"),
        signature(size="2"),
        signature(expires_s=61),
        signature(at=now + timedelta(seconds=1)),
        signature(secret="secret2"),
    ]
    assert len(set(signatures)) == len(signatures)
    assert signature() == signatures[0]


def test_an_address_must_come_from_a_url_of_its_key() -> None:
    with pytest.raises(ValueError, match="is not a URL of"):
        BucketAddress.of("http://127.0.0.1:5000/b/other?X-Amz-Date=1", "probe", "us-east-1")


@pytest.fixture
def on_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The backend as deployed: tests/conftest.py points every client at the emulator."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    yield
    aws.client.cache_clear()  # no client pointed at AWS is left for the tests after this one


@pytest.mark.usefixtures("on_aws")
@pytest.mark.parametrize("region", ["eu-west-3", "ap-southeast-2", "us-east-1"])
def test_on_aws_chunk_urls_name_the_buckets_regional_virtual_host(region: str) -> None:
    bucket = f"driftbox-prod-chunks-123456789012-{region}"
    credentials = CREDENTIALS[1]
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    address = blobs.bucket_address(bucket, region)
    url = presigned_url(
        address, credentials, method="GET", key="chunks/n/h", headers={}, expires_s=60, now=now
    )
    assert urlsplit(url).netloc == f"{bucket}.s3.{region}.amazonaws.com"
    # Still the URL botocore signs for that host.
    s3 = _botocore(f"https://s3.{region}.amazonaws.com", region, credentials, addressing_style="virtual")
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        expected = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "chunks/n/h"}, ExpiresIn=60
        )
    assert url == expected


def test_at_a_configured_endpoint_chunk_urls_stay_path_style() -> None:
    # The local stack's emulator answers every bucket on one host, named in AWS_ENDPOINT_URL.
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    address = blobs.bucket_address("driftbox-test-chunks", "eu-west-3")
    assert address.base == f"{endpoint}/driftbox-test-chunks"
