"""Nothing acknowledged is lost: a clean stop, or a SIGKILL right after a commit returns."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import requests

from tests.functional.files import chunk_hashes, commit, journal, put_op, upload
from tests.system.conftest import Client, wait_for

DATA = bytes(range(256)) * 20_000  # 5 MB: two chunks


def _download(client: Client, data: bytes) -> bytes:
    status, grants = client.post(
        "/v1/chunks/download", {"namespace_id": client.namespace_id, "hashes": chunk_hashes(data)}
    )
    assert status == 200, grants
    parts = [requests.get(g["url"], timeout=30) for g in grants["downloads"]]
    assert all(p.status_code == 200 for p in parts)
    return b"".join(p.content for p in parts)


def _restart(make_stack: Any, data_dir: Path) -> Any:
    return make_stack(data_dir)


def test_a_commit_survives_sigkill_and_the_journal_continues(make_stack: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = make_stack(data_dir)
    alice, email = Client.sign_up(stack.api)
    upload(alice, DATA)
    upload(alice, b"small")
    status, first = commit(alice, put_op("/big.bin", DATA), put_op("/small.txt", b"small"))
    assert status == 200, first
    head = first["head_seq"]
    entries_before, cursor = journal(alice)
    stack.kill()  # SIGKILL, right after the commit returned

    again = make_stack(data_dir)
    assert any("writes" in line for line in again.output), again.output
    alice = Client(again.api, alice.token, alice.namespace_id)  # the same token still works
    entries_after, _ = journal(alice)
    assert entries_after == entries_before
    assert _download(alice, DATA) == DATA
    assert Client(again.api).log_in(email).namespace_id == alice.namespace_id
    status, body = alice.get(f"/v1/files/revisions?namespace_id={alice.namespace_id}&path=/big.bin")
    assert status == 200 and len(body["revisions"]) == 1, body

    upload(alice, b"next")
    status, second = commit(alice, put_op("/next.txt", b"next"))
    assert status == 200, second
    assert second["head_seq"] == head + 1
    new_entries, _ = journal(alice, cursor)
    assert [e["seq"] for e in new_entries] == [head + 1]


def test_a_clean_stop_keeps_everything(make_stack: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = make_stack(data_dir)
    alice, email = Client.sign_up(stack.api)
    upload(alice, b"kept")
    status, body = commit(alice, put_op("/kept.txt", b"kept"))
    assert status == 200, body
    before, _ = journal(alice)
    assert stack.stop() == 0
    assert any(line.startswith("Stopped") for line in stack.output)

    again = make_stack(data_dir)
    alice = Client(again.api).log_in(email)
    after, _ = journal(alice)
    assert after == before


def test_in_memory_keeps_nothing(make_stack: Any, tmp_path: Path) -> None:
    stack = make_stack(None)
    _, email = Client.sign_up(stack.api)
    stack.stop()
    again = make_stack(None)
    status, _ = Client(again.api).post(
        "/v1/auth/login", {"email": email, "password": "correct horse battery", "device_name": "x"}
    )
    assert status == 401


def test_sigkill_in_the_middle_of_concurrent_commits_loses_no_acknowledged_one(
    make_stack: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    stack = make_stack(data_dir)
    alice, _ = Client.sign_up(stack.api)
    acknowledged: list[str] = []
    lock = threading.Lock()

    def commit_until_killed(worker: int) -> None:
        device = Client(stack.api, alice.token, alice.namespace_id)
        for i in range(10_000):
            path = f"/w{worker}/f{i}.txt"
            try:
                status, _ = commit(device, put_op(path, b""))  # empty files: no chunks to send
            except requests.RequestException:
                return  # the stack is gone
            if status == 200:
                with lock:
                    acknowledged.append(path)

    workers = [threading.Thread(target=commit_until_killed, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    wait_for(lambda: len(acknowledged) >= 40, what="some commits")
    stack.kill()
    for worker in workers:
        worker.join(60)

    again = make_stack(data_dir)
    alice = Client(again.api, alice.token, alice.namespace_id)
    entries, _ = journal(alice, limit=2000)
    files = {e["path"] for e in entries if e["kind"] == "file" and not e.get("deleted")}
    assert set(acknowledged) <= files
    status, body = commit(alice, put_op("/after.txt", b""))
    assert status == 200, body
    tail, _ = journal(alice, cursor=None)
    assert max(e["seq"] for e in tail) == body["head_seq"]
