"""Idempotency-Key: every retry of one key gets the first answer, whatever its size or timing."""

from __future__ import annotations

import threading
from typing import Any

from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op, upload

_RETRIES = 6


def _long_path(i: int) -> str:
    # About 1,030 bytes each: a thousand of them make an answer of over 1 MB (an item holds 400 KB).
    folder = "/".join(f"d{level}" + "x" * 200 for level in range(4))
    return f"/{folder}/{i:04d}" + "y" * 200


def test_concurrent_retries_of_one_key_all_get_the_first_answer(alice: Api) -> None:
    chunks = upload(alice, b"retried bytes")
    ops = [put_op(f"/race/f{i}.txt", b"retried bytes", chunks=chunks) for i in range(20)]
    answers: list[tuple[int, Any]] = []
    start = threading.Barrier(_RETRIES)

    def retry() -> None:
        start.wait()
        answers.append(commit(alice, *ops, key="one-key-many-retries"))

    threads = [threading.Thread(target=retry) for _ in range(_RETRIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * _RETRIES, answers
    assert all(body == answers[0][1] for _, body in answers)
    entries, _ = journal(alice)
    assert len([e for e in entries if e["path"].startswith("/race/")]) == 20


def test_a_retry_after_the_commit_landed_replays_rather_than_conflicts(alice: Api) -> None:
    chunks = upload(alice, b"landed bytes")
    op = put_op("/landed.txt", b"landed bytes", chunks=chunks)
    first = commit(alice, op, key="landed-key")
    assert first[0] == 200, first
    # The same request again is a conflict on its own (the path is no longer new): the key replays.
    assert commit(alice, op, key="landed-key") == first
    assert commit(alice, op)[0] == 409


def test_a_thousand_op_commit_with_long_paths_lands_and_replays(alice: Api) -> None:
    ops = [{"op": "mkdir", "path": _long_path(i)} for i in range(1000)]
    status, body = commit(alice, *ops, key="large-answer")
    assert status == 200, str(body)[:500]
    assert len(body["results"]) == 1000
    assert [r["path"] for r in body["results"]] == [op["path"] for op in ops]
    assert commit(alice, *ops, key="large-answer") == (200, body)
    status, again = commit(alice, {"op": "mkdir", "path": "/other"}, key="large-answer")
    assert status == 409
    assert again["error"]["reason"] == "idempotency_key_reused"
