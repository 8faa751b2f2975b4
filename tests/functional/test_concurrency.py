"""Racing commits through the app: the journal stays gapless and a reader never skips an entry."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.functional.conftest import Api
from tests.functional.files import commit, journal, put_op, upload

WRITERS = 8
COMMITS_EACH = 50


def test_racing_commits_are_gapless_and_each_applied_or_refused(alice: Api) -> None:
    payloads = [f"writer {w}".encode() for w in range(WRITERS)]
    for data in payloads:
        upload(alice, data)
    _, start = journal(alice)  # cursor at seq 0
    done = threading.Event()
    seen: list[int] = []

    def read_journal() -> None:
        cursor = start
        while True:
            finished = done.is_set()
            entries, cursor = journal(alice, cursor, limit=37)
            seen.extend(e["seq"] for e in entries)
            if finished:
                return
            time.sleep(0.01)

    def write(writer: int) -> list[tuple[int, Any]]:
        answers = []
        shared_rev: int | None = None
        for i in range(COMMITS_EACH):
            data = payloads[writer]
            if i % 5 == 0:  # everyone fights over one file, each with the rev it last saw
                op = put_op("/shared.txt", data, parent_rev=shared_rev)
                status, body = commit(alice, op)
                if status == 200:
                    shared_rev = body["results"][0]["rev"]
                elif status == 409:
                    shared_rev = body["error"]["conflicts"][0]["current_rev"]
            else:
                status, body = commit(alice, put_op(f"/w{writer}/f{i}.txt", data))
            answers.append((status, body))
        return answers

    reader = threading.Thread(target=read_journal)
    reader.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        results = [a for answers in pool.map(write, range(WRITERS)) for a in answers]
    done.set()
    reader.join()

    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 409}, [b for s, b in results if s not in (200, 409)][:3]
    assert all(b["error"]["code"] == "conflict" for s, b in results if s == 409)
    applied_seqs = sorted(r["seq"] for s, b in results if s == 200 for r in b["results"])
    entries, _ = journal(alice, start)
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless, ordered, no reuse
    assert set(applied_seqs) <= set(seqs)
    assert sorted(seen) == seqs
    assert len(seen) == len(set(seen))
    private = [e for e in entries if e["path"].startswith("/w") and e["kind"] == "file"]
    assert len(private) == WRITERS * (COMMITS_EACH - COMMITS_EACH // 5)
