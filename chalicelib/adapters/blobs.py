"""S3: presigned chunk transfers, chunk checks, and the large lists kept beside DynamoDB."""

from __future__ import annotations

import base64
import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters import aws, keys
from chalicelib.settings import SETTINGS

_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3")


# SigV4 always: the default in us-east-1 is SigV2, which cannot sign the checksum header.
_CONFIG = Config(signature_version="s3v4", max_pool_connections=64, retries={"mode": "standard"})


def _client() -> Any:
    return aws.client("s3", config=_CONFIG)


def presign_put(namespace_id: str, chunk_hash: str, size_bytes: int) -> dict[str, Any]:
    """A PUT whose signature covers the body's SHA-256 and length: S3 refuses other bytes."""
    checksum = base64.b64encode(bytes.fromhex(chunk_hash)).decode("ascii")
    url = _client().generate_presigned_url(
        "put_object",
        Params={
            "Bucket": SETTINGS.chunk_bucket,
            "Key": keys.chunk_object(namespace_id, chunk_hash),
            "ChecksumSHA256": checksum,
            "ContentLength": size_bytes,
        },
        ExpiresIn=SETTINGS.presign_ttl_s,
    )
    return {
        "hash": chunk_hash,
        "url": url,
        "method": "PUT",
        "headers": {"x-amz-checksum-sha256": checksum, "Content-Length": str(size_bytes)},
        "expires_at": int(time.time()) + SETTINGS.presign_ttl_s,
    }


def presign_get(namespace_id: str, chunk_hash: str) -> dict[str, Any]:
    url = _client().generate_presigned_url(
        "get_object",
        Params={"Bucket": SETTINGS.chunk_bucket, "Key": keys.chunk_object(namespace_id, chunk_hash)},
        ExpiresIn=SETTINGS.presign_ttl_s,
    )
    return {"hash": chunk_hash, "url": url, "expires_at": int(time.time()) + SETTINGS.presign_ttl_s}


def _stored_size(key: str) -> int | None:
    try:
        head = _client().head_object(Bucket=SETTINGS.chunk_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(head["ContentLength"])


def stored_sizes(namespace_id: str, chunk_hashes: list[str]) -> dict[str, int | None]:
    """The stored size of each chunk of the namespace (None where nothing is stored), in parallel."""
    object_keys = [keys.chunk_object(namespace_id, h) for h in chunk_hashes]
    return dict(zip(chunk_hashes, _POOL.map(_stored_size, object_keys), strict=True))


def put_bytes(key: str, body: bytes) -> None:
    _client().put_object(Bucket=SETTINGS.chunk_bucket, Key=key, Body=body)


def get_bytes(key: str) -> bytes:
    body: bytes = _client().get_object(Bucket=SETTINGS.chunk_bucket, Key=key)["Body"].read()
    return body


def put_json(key: str, value: Any) -> None:
    put_bytes(key, gzip.compress(json.dumps(value, separators=(",", ":")).encode("utf-8"), mtime=0))


def get_json(key: str) -> Any:
    return json.loads(gzip.decompress(get_bytes(key)))
