"""Between domain values and stored forms: journal bodies, rows, and long chunk lists."""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from chalicelib.adapters import blobs, keys
from chalicelib.adapters.models import PathModel, RevisionModel
from chalicelib.domain import paths
from chalicelib.domain.content import legacy_mtime_ns
from chalicelib.domain.model import FILE, FOLDER, Content, Entry, Node

# Up to this many chunks (64 KiB of digests) a list lives in its row; longer ones in S3.
INLINE_CHUNKS = 2000


def pack_chunks(chunks: tuple[str, ...]) -> bytes:
    return b"".join(bytes.fromhex(h) for h in chunks)


def unpack_chunks(packed: bytes | None) -> tuple[str, ...]:
    if not packed:
        return ()
    return tuple(packed[i : i + 32].hex() for i in range(0, len(packed), 32))


def manifest_key(namespace_id: str, chunks: tuple[str, ...]) -> str:
    return keys.manifest_object(namespace_id, hashlib.sha256(pack_chunks(chunks)).hexdigest())


def store_manifest(namespace_id: str, chunks: tuple[str, ...]) -> str:
    """Write a long chunk list to S3 under its own hash (so writing twice is harmless)."""
    key = manifest_key(namespace_id, chunks)
    blobs.put_json(key, list(chunks))
    return key


def _load_chunks(packed: bytes | None, manifest: str | None) -> tuple[str, ...]:
    if manifest:
        return tuple(blobs.get_json(manifest))
    return unpack_chunks(packed)


def entry_to_json(entry: Entry, namespace_id: str) -> dict[str, Any]:
    chunks = entry.content.chunks
    body: dict[str, Any] = {
        "s": entry.seq,
        "o": entry.op,
        "p": entry.path,
        "i": entry.object_id,
        "k": entry.kind,
        "r": entry.rev,
        "d": entry.deleted,
        "z": entry.content.size,
        "n": entry.content.mtime_ns,  # "t" in bodies written before: legacy_mtime_ns
        "h": entry.content.content_hash,
        "v": entry.device_id,
        "a": entry.created_at_ms,
    }
    if entry.content.executable:
        body["x"] = True
    if len(chunks) > INLINE_CHUNKS:
        body["m"] = manifest_key(namespace_id, chunks)
    else:
        body["c"] = pack_chunks(chunks).hex()
    if entry.from_path is not None:
        body["f"] = entry.from_path
    return body


def entry_from_json(body: dict[str, Any]) -> Entry:
    chunks = _load_chunks(bytes.fromhex(body.get("c", "")), body.get("m"))
    return Entry(
        seq=body["s"],
        op=body["o"],
        path=body["p"],
        object_id=body["i"],
        kind=body["k"],
        rev=body["r"],
        deleted=body["d"],
        content=Content(body["z"], _body_mtime_ns(body), body["h"], chunks, bool(body.get("x"))),
        device_id=body["v"],
        created_at_ms=body["a"],
        from_path=body.get("f"),
    )


def _body_mtime_ns(body: dict[str, Any]) -> int:
    return int(body["n"]) if "n" in body else legacy_mtime_ns(int(body.get("t") or 0))


def row_mtime_ns(row: PathModel | RevisionModel) -> int:
    if row.mtime_ns is not None:
        return int(row.mtime_ns)
    return legacy_mtime_ns(int(row.mtime or 0))


def encode_body(entries: list[Entry], namespace_id: str) -> bytes:
    """The zlib JSON of a commit's entries; long chunk lists are written to S3 first."""
    for entry in entries:
        if len(entry.content.chunks) > INLINE_CHUNKS:
            store_manifest(namespace_id, entry.content.chunks)
    raw = json.dumps([entry_to_json(e, namespace_id) for e in entries], separators=(",", ":"))
    return zlib.compress(raw.encode("utf-8"), 6)


def decode_body(body: bytes) -> list[Entry]:
    return [entry_from_json(item) for item in json.loads(zlib.decompress(body))]


def _content_fields(namespace_id: str, content: Content) -> dict[str, Any]:
    long_list = len(content.chunks) > INLINE_CHUNKS
    return {
        "size": content.size,
        "mtime_ns": content.mtime_ns,
        "executable": content.executable,
        "content_hash": content.content_hash or None,
        "chunks": None if long_list or not content.chunks else pack_chunks(content.chunks),
        "manifest": manifest_key(namespace_id, content.chunks) if long_list else None,
    }


def row_keys(node: Node) -> tuple[str, str]:
    """The sort key of the node's row, and the other key its path may have a row at (keys.py)."""
    live, tombstone = keys.path_row(node.path_key), keys.tombstone_row(node.path_key)
    return (tombstone, live) if node.deleted else (live, tombstone)


def node_to_row(namespace_id: str, node: Node) -> PathModel:
    folder = None if node.deleted else keys.folder_children(namespace_id, paths.parent(node.path_key))
    return PathModel(
        namespace_id,
        row_keys(node)[0],
        folder=folder,
        path=node.path,
        kind=node.kind,
        object_id=node.object_id,
        rev=node.rev,
        deleted=node.deleted,
        seq=node.seq,
        **_content_fields(namespace_id, node.content),
    )


def content_from_row(row: PathModel | RevisionModel) -> Content:
    return Content(
        int(row.size),
        row_mtime_ns(row),
        row.content_hash or "",
        _load_chunks(row.chunks, row.manifest),
        bool(row.executable),
    )


def node_from_row(row: PathModel) -> Node:
    return Node(
        row.path,
        FOLDER if row.kind == FOLDER else FILE,
        row.object_id,
        int(row.rev),
        bool(row.deleted),
        int(row.seq),
        content_from_row(row),
    )


def entry_to_revision(namespace_id: str, entry: Entry) -> RevisionModel:
    return RevisionModel(
        entry.object_id,
        entry.rev,
        namespace_id=namespace_id,
        path=entry.path,
        kind=entry.kind,
        deleted=entry.deleted,
        seq=entry.seq,
        device_id=entry.device_id,
        created_at_ms=entry.created_at_ms,
        **_content_fields(namespace_id, entry.content),
    )
