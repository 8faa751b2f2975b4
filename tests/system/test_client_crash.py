"""`kill -9` of the client in the middle of a large upload and of a large download: on the next
`sync --once` nothing is lost, no partial file is at any path, and no chunk is sent twice."""

from __future__ import annotations

import collections
import hashlib
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.system.conftest import wait_for
from tests.system.devices import DRIFTBOX, Device, new_user

SIZE_BYTES = 300 * 1024 * 1024  # 75 chunks


def big_file(path: Path) -> str:
    """Write SIZE_BYTES of distinct 1 MiB blocks (no two chunks alike); return its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for i in range(SIZE_BYTES // (1024 * 1024)):
            block = hashlib.sha256(str(i).encode()).digest() * (1024 * 1024 // 32)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def puts(stack: Any) -> collections.Counter[str]:
    """Accepted presigned PUTs so far, by object key."""
    found = (re.search(r"s3 PUT (\S+) \S+ B accepted", line) for line in list(stack.output))
    return collections.Counter(m.group(1) for m in found if m)


def start_sync(device: Device) -> subprocess.Popen[str]:
    command = [DRIFTBOX, "--server", device.stack.api, "--home", str(device.home), "sync", "--once"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def test_kill_9_in_uploads_and_downloads_loses_nothing_and_sends_no_chunk_twice(
    make_stack: Any, tmp_path: Path
) -> None:
    stack = make_stack(None, POWERTOOLS_LOG_LEVEL="INFO")  # the PUT lines are INFO
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    expected = big_file(laptop.file("big.bin"))
    laptop.file("small.txt").write_bytes(b"small edit")

    uploading = start_sync(laptop)
    wait_for(lambda: len(puts(stack)) >= 20, 120, "20 chunks to be uploaded")
    uploading.send_signal(signal.SIGKILL)
    uploading.wait(30)
    sent_before = len(puts(stack))
    assert sent_before < SIZE_BYTES // (4 * 1024 * 1024), "the upload had finished before the kill"

    laptop.sync()
    sent = puts(stack)
    assert len(sent) == SIZE_BYTES // (4 * 1024 * 1024) + 1  # and small.txt's one chunk
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1]  # no chunk sent twice

    downloading = start_sync(phone)
    started = lambda: any(n.startswith(".driftbox-part-") for n in os.listdir(phone.folder))  # noqa: E731
    wait_for(started, 120, "a download to start")
    downloading.send_signal(signal.SIGKILL)
    downloading.wait(30)
    assert not phone.file("big.bin").exists() or sha256_of(phone.file("big.bin")) == expected  # never partial

    phone.sync()
    assert sha256_of(phone.file("big.bin")) == expected
    assert phone.file("small.txt").read_bytes() == b"small edit"
    assert sorted(os.listdir(phone.folder)) == [".driftbox", "big.bin", "small.txt"]  # no leftovers
