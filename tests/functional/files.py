"""Helpers to upload real bytes through presigned URLs and build commit ops for them."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import requests


class Api(Protocol):
    """A device's JSON client: chalice.test's in tests/functional, real HTTP in tests/system."""

    namespace_id: str

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]: ...

    def get(self, path: str, **kw: Any) -> tuple[int, Any]: ...


CHUNK = 4 * 1024 * 1024


def chunk_hashes(data: bytes) -> list[str]:
    return [hashlib.sha256(data[i : i + CHUNK]).hexdigest() for i in range(0, len(data), CHUNK)]


def content_hash(chunks: list[str]) -> str:
    return hashlib.sha256(b"".join(bytes.fromhex(h) for h in chunks)).hexdigest()


def upload(api: Api, data: bytes) -> list[str]:
    """Send the chunks of ``data`` the server lacks, the way a client does; return the chunk list."""
    hashes = chunk_hashes(data)
    pieces = {h: data[i * CHUNK : (i + 1) * CHUNK] for i, h in enumerate(hashes)}
    if not pieces:
        return []
    status, body = api.post(
        "/v1/chunks/upload",
        {
            "namespace_id": api.namespace_id,
            "chunks": [{"hash": h, "size": len(b)} for h, b in pieces.items()],
        },
    )
    assert status == 200, body
    for grant in body["uploads"]:
        response = requests.put(
            grant["url"], data=pieces[grant["hash"]], headers=grant["headers"], timeout=30
        )
        assert response.status_code == 200, response.text
    return hashes


def put_op(
    path: str,
    data: bytes,
    parent_rev: int | None = None,
    *,
    chunks: list[str] | None = None,
    mtime: int = 1_700_000_000_000_000_000,
) -> dict[str, Any]:
    hashes = chunks if chunks is not None else chunk_hashes(data)
    return {
        "op": "put",
        "path": path,
        "parent_rev": parent_rev,
        "size": len(data),
        "mtime": mtime,
        "chunks": hashes,
        "content_hash": content_hash(hashes),
    }


def one_chunk_put_op(path: str, chunk_hash: str, size: int) -> dict[str, Any]:
    """A put of a one-chunk file known by its chunk's hash and size alone (its bytes need not exist)."""
    return {
        "op": "put",
        "path": path,
        "parent_rev": None,
        "size": size,
        "mtime": 0,
        "chunks": [chunk_hash],
        "content_hash": content_hash([chunk_hash]),
    }


def commit(api: Api, *ops: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    return api.post("/v1/commit", {"namespace_id": api.namespace_id, "ops": list(ops)}, headers=headers)


def save(api: Api, path: str, data: bytes, parent_rev: int | None = None) -> dict[str, Any]:
    """Upload and commit one file; return its commit result."""
    upload(api, data)
    status, body = commit(api, put_op(path, data, parent_rev))
    assert status == 200, body
    result: dict[str, Any] = body["results"][0]
    return result


def journal(api: Api, cursor: str | None = None, limit: int = 500) -> tuple[list[dict[str, Any]], str]:
    """Every entry after ``cursor`` (or the whole tree listing without one), following has_more."""
    entries: list[dict[str, Any]] = []
    while True:
        query = f"/v1/objects?namespace_id={api.namespace_id}&limit={limit}"
        if cursor:
            query += f"&cursor={cursor}"
        status, body = api.get(query)
        assert status == 200, body
        entries += body["entries"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return entries, cursor
