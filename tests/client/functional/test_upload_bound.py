"""Uploads keep within the server's bound on a namespace's uncommitted bytes, and wait when at it."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from driftbox import errors
from driftbox.adapters import transfer
from driftbox.adapters.api import Api

FILE_BYTES = 100


class BoundedGrants:
    """The API's grant and PUT side, as a port: refuses past ``limit_bytes`` offered, as the server does."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.offered_bytes = 0
        self.asked: list[int] = []  # bytes per request
        self.stored: set[str] = set()

    def upload_grants(self, namespace_id: str, chunks: list[tuple[str, int]]) -> Any:
        size = sum(s for _, s in chunks)
        self.asked.append(size)
        if self.offered_bytes + size > self.limit_bytes:
            raise errors.ServerError(429, "rate_limited", "too many bytes offered and not committed")
        self.offered_bytes += size
        return {
            "present": [],
            "uploads": [{"hash": h, "url": "u", "method": "PUT", "headers": {}} for h, _ in chunks],
        }

    def put_chunk(self, upload: dict[str, Any], data: bytes) -> None:
        assert hashlib.sha256(data).hexdigest() == upload["hash"]
        self.stored.add(upload["hash"])


def _files(folder: Path, count: int) -> list[transfer.Upload]:
    uploads = []
    for i in range(count):
        path = folder / f"f{i}.bin"
        data = f"{i:0{FILE_BYTES}d}".encode()
        path.write_bytes(data)
        uploads.append(transfer.Upload(path, [hashlib.sha256(data).hexdigest()], FILE_BYTES))
    return uploads


def test_requests_ask_for_at_most_the_window_of_bytes(tmp_path: Path) -> None:
    api = BoundedGrants(limit_bytes=10**9)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sent, failed = transfer.upload_many(
            cast(Api, api),
            "ns",
            _files(tmp_path, 10),
            pool=pool,
            window_bytes=3 * FILE_BYTES,
        )
    assert (sent, failed) == (10 * FILE_BYTES, {})
    assert api.asked == [300, 300, 300, 100]


def test_at_the_bound_the_files_not_given_urls_wait_for_the_next_round(tmp_path: Path) -> None:
    api = BoundedGrants(limit_bytes=6 * FILE_BYTES)
    files = _files(tmp_path, 10)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sent, failed = transfer.upload_many(
            cast(Api, api),
            "ns",
            files,
            pool=pool,
            window_bytes=3 * FILE_BYTES,
        )
    assert sent == 6 * FILE_BYTES
    assert sorted(failed) == sorted(f.path for f in files[6:])
    assert all("next round" in why for why in failed.values())
    assert api.stored == {f.chunks[0] for f in files[:6]}
