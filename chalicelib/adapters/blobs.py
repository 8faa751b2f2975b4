"""S3: presigned chunk transfers, chunk checks, and the large lists kept beside DynamoDB."""

from __future__ import annotations

import base64
import functools
import gzip
import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore import handlers
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters import aws, keys
from chalicelib.adapters.presign import BucketAddress, presigned_url
from chalicelib.settings import SETTINGS

_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3")


# SigV4 always: the default in us-east-1 is SigV2, which cannot sign the checksum header.
_CONFIG = Config(signature_version="s3v4", max_pool_connections=64, retries={"mode": "standard"})


def _client() -> Any:
    return aws.client("s3", config=_CONFIG)


# On AWS, botocore presigns for the legacy global host (bucket.s3.amazonaws.com) unless asked for
# virtual-hosted addresses: a bucket in a Region launched after March 2019 cannot be reached there,
# and any other outside us-east-1 answers with a redirect (which a signed request cannot follow)
# until DNS has caught up with a new bucket. Asked, it signs for bucket.s3.<region>.amazonaws.com.
_REGIONAL_CONFIG = _CONFIG.merge(
    Config(s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"})
)


def bucket_address(bucket: str, region: str) -> BucketAddress:
    """Where presigned URLs of ``bucket`` point: its regional virtual-hosted address on AWS, and
    path-style at a configured endpoint (the local stack's emulator is one host for every bucket).
    """
    config = _CONFIG if aws.endpoint_is_configured("s3", region) else _REGIONAL_CONFIG
    probe = "probe"
    url = aws.client("s3", config=config, region=region).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": probe}
    )
    return BucketAddress.of(url, probe, region)


@functools.cache
def _chunk_bucket() -> BucketAddress:
    return bucket_address(SETTINGS.chunk_bucket, SETTINGS.region)


def _presign(method: str, key: str, headers: dict[str, str]) -> tuple[str, int]:
    """A presigned URL for a chunk key and the Unix time it expires at."""
    now = datetime.now(UTC)
    url = presigned_url(
        _chunk_bucket(),
        aws.credentials(),
        method=method,
        key=key,
        headers=headers,
        expires_s=SETTINGS.presign_ttl_s,
        now=now,
    )
    return url, int(now.timestamp()) + SETTINGS.presign_ttl_s


def presign_put(namespace_id: str, chunk_hash: str, size_bytes: int) -> dict[str, Any]:
    """A PUT whose signature covers the body's SHA-256 and length: S3 refuses other bytes."""
    checksum = base64.b64encode(bytes.fromhex(chunk_hash)).decode("ascii")
    headers = {"x-amz-checksum-sha256": checksum, "Content-Length": str(size_bytes)}
    url, expires_at = _presign("PUT", keys.chunk_object(namespace_id, chunk_hash), headers)
    return {"hash": chunk_hash, "url": url, "method": "PUT", "headers": headers, "expires_at": expires_at}


def presign_get(namespace_id: str, chunk_hash: str) -> dict[str, Any]:
    url, expires_at = _presign("GET", keys.chunk_object(namespace_id, chunk_hash), {})
    return {"hash": chunk_hash, "url": url, "expires_at": expires_at}


_S3_XML = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_EMPTY_LISTING = f'<ListBucketResult xmlns="{_S3_XML[1:-1]}"></ListBucketResult>'.encode()


def _read_listing(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """Read a ListObjectsV2 page's keys and sizes here, and leave botocore an empty page to parse.

    botocore parses each page twice: once looking for an error sent with a 200, then into
    dictionaries of every field. In a large commit that was a third of the app's time; one
    ElementTree pass reading the two fields used costs a tenth of it. The answer gets ``Sizes``
    (key: size), ``LastKey`` and ``IsTruncated``; an error sent with a 200 becomes a 500, as
    botocore's own check makes it (to be retried).
    """
    if response_dict["status_code"] != 200:
        return
    try:
        root = ET.fromstring(response_dict["body"])  # noqa: S314 - S3's own answer to a signed request
    except ET.ParseError:
        return  # botocore's parser reports it
    if root.tag != _S3_XML + "ListBucketResult":
        if root.tag == "Error":
            response_dict["status_code"] = 500
        return
    decode = unquote_plus if root.findtext(_S3_XML + "EncodingType") == "url" else str
    sizes = {
        decode(item.findtext(_S3_XML + "Key", "")): int(item.findtext(_S3_XML + "Size", "0"))
        for item in root.iterfind(_S3_XML + "Contents")
    }
    customized_response_dict["Sizes"] = sizes
    customized_response_dict["LastKey"] = next(reversed(sizes), None)
    customized_response_dict["IsTruncated"] = root.findtext(_S3_XML + "IsTruncated") == "true"
    response_dict["body"] = _EMPTY_LISTING


@functools.cache
def _listing_client() -> Any:
    s3 = aws.client("s3", config=_CONFIG.merge(Config()))  # its own client: its own event handlers
    # botocore's look for an error sent with a 200 runs first and parses the page once more;
    # _read_listing makes that check itself. (Only on this client: the others keep it.)
    s3.meta.events.unregister("before-parse.s3.*", handlers._handle_200_error)
    s3.meta.events.register_first("before-parse.s3.ListObjectsV2", _read_listing)
    return s3


def _stored_size(key: str) -> int | None:
    try:
        head = _client().head_object(Bucket=SETTINGS.chunk_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(head["ContentLength"])


# Looking for many chunks, one ListObjectsV2 page (up to 1,000 keys with sizes, in key order) answers
# for every wanted chunk in its key range, where a HEAD answers for one. S3 prices a LIST as 12.5
# HEADs, and a namespace may hold millions of chunks, so listing is tried only for many chunks, and
# stops at a page that answered for fewer than a LIST's worth or after len(wanted) / 50 pages;
# HEADs answer for whatever is left.
LIST_FROM = 50
LIST_PAGE_WORTH = 13
CHUNKS_PER_PAGE = 50
LIST_PAGE_KEYS = 1000


def stored_sizes(
    namespace_id: str, chunk_hashes: list[str], *, page_keys: int = LIST_PAGE_KEYS
) -> dict[str, int | None]:
    """The stored size of each chunk of the namespace (None where nothing is stored)."""
    wanted = sorted(set(chunk_hashes))
    sizes: dict[str, int | None] = {}
    if len(wanted) >= LIST_FROM:
        max_pages = -(-len(wanted) // CHUNKS_PER_PAGE)
        sizes = _listed_sizes(namespace_id, wanted, max_pages=max_pages, page_keys=page_keys)
    rest = [h for h in wanted if h not in sizes]
    object_keys = [keys.chunk_object(namespace_id, h) for h in rest]
    sizes.update(zip(rest, _POOL.map(_stored_size, object_keys), strict=True))
    return sizes


def _listed_sizes(
    namespace_id: str, wanted: list[str], *, max_pages: int, page_keys: int
) -> dict[str, int | None]:
    """Sizes of the first of ``wanted`` (sorted), read from listings of the namespace's chunk keys.

    Each page starts just before the first chunk not answered yet, so the keys between two wanted
    chunks far apart are skipped, and answers for every wanted chunk up to its last key (for all
    the rest when it is the last page). Only keys under the namespace's own prefix are listed.
    """
    prefix = keys.chunk_prefix(namespace_id)
    sizes: dict[str, int | None] = {}
    i = 0
    for _ in range(max_pages):
        if i == len(wanted):
            break
        page = _listing_client().list_objects_v2(
            Bucket=SETTINGS.chunk_bucket,
            Prefix=prefix,
            StartAfter=prefix + wanted[i][:-1],  # a proper prefix of the key sorts just before it
            MaxKeys=page_keys,
        )
        listed = {key[len(prefix) :]: size for key, size in page["Sizes"].items()}
        last = page["LastKey"][len(prefix) :] if page["IsTruncated"] and page["LastKey"] else None
        first = i
        while i < len(wanted) and (last is None or wanted[i] <= last):
            sizes[wanted[i]] = listed.get(wanted[i])
            i += 1
        if i - first < LIST_PAGE_WORTH:
            break
    return sizes


def put_bytes(key: str, body: bytes) -> None:
    _client().put_object(Bucket=SETTINGS.chunk_bucket, Key=key, Body=body)


def delete(key: str) -> None:
    _client().delete_object(Bucket=SETTINGS.chunk_bucket, Key=key)


def get_bytes(key: str) -> bytes:
    body: bytes = _client().get_object(Bucket=SETTINGS.chunk_bucket, Key=key)["Body"].read()
    return body


def put_json(key: str, value: Any) -> None:
    put_bytes(key, gzip.compress(json.dumps(value, separators=(",", ":")).encode("utf-8"), mtime=0))


def get_json(key: str) -> Any:
    return json.loads(gzip.decompress(get_bytes(key)))
