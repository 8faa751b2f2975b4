"""Notification latency: from a commit's response to the other device hearing of it, by push and long-poll.

python -m bench.notify_bench [--commits 200] [--in-memory]

Starts ``python -m infra.local.serve`` as a child process on free ports (with a temporary data folder,
or ``--in-memory``), signs up one user and logs in two devices, "writer" and "watcher", then:

- **push**: the watcher holds a WebSocket, read by a thread that notes when each ``changed`` message
  arrives. The writer makes ``--commits`` sequential commits of one op each (a ``mkdir`` of a fresh
  top-level folder: one journal entry, no chunk to upload). Latency is from the moment the commit's
  HTTP response is in (``t0``) to the arrival of a ``changed`` message carrying that commit's
  ``head_seq`` or a later one (``t1``); it is negative when the push beats the response, and kept so.
  Each push is awaited (up to 15 s) before the next commit; one that does not come is a miss.
- **long-poll**: the socket is closed; the watcher waits in ``GET /v1/objects/longpoll`` (timeout 25 s)
  on its cursor, from a thread of its own with its own ``requests.Session``. The writer commits once
  the long-poll is known to be waiting, which the backend's own gauge of waiting long-polls shows
  (rows ``longpoll#...`` of the throttle table, ``chalicelib/adapters/waiters.py``, scanned in the
  emulator), then after a random pause of up to 50 ms (fixed seed): the server re-reads the head
  every 50 ms, and a commit sent the instant the long-poll is counted in would always land at the
  same point of that cycle, where a real one lands anywhere. Latency is from the commit's response
  to the long-poll's ``changes: true`` (one that answered before its commit was sent is left out and
  counted). The watcher then reads the journal after its cursor (``GET /v1/objects?cursor=``) to
  move the cursor on.

Percentiles are nearest-rank: the smallest value with at least p% of the values at or below it.
Each phase starts with a few unmeasured rounds, so that lazy clients and connections are warm.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.commit_bench import Api
from infra.local.child import PROJECT_DIR, LocalStack

WARM_UP_ROUNDS = 5
PUSH_WAIT_S = 15.0
LONGPOLL_TIMEOUT_S = 25
LONGPOLL_WAIT_S = LONGPOLL_TIMEOUT_S + 15
GAUGE_WAIT_S = 5.0
GAUGE_POLL_S = 0.005
SERVER_POLL_S = 0.05  # how often a waiting long-poll re-reads the head (chalicelib/metadata/longpoll.py)
TARGET_P50_MS, TARGET_P99_MS = 100.0, 500.0


def nearest_rank(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the value at rank ceil(p/100 * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def log_in_two(base_url: str) -> tuple[Api, Api]:
    """One new user, logged in as two devices: the writer and the watcher."""
    email, password = f"bench-{uuid.uuid4().hex}@example.com", uuid.uuid4().hex
    writer, watcher = Api(base_url), Api(base_url)
    writer.call("POST", "/v1/auth/signup", {"email": email, "password": password}, expect=201)
    for api, device in ((writer, "writer"), (watcher, "watcher")):
        body = api.call(
            "POST", "/v1/auth/login", {"email": email, "password": password, "device_name": device}
        )
        api.session.headers["Authorization"] = f"Bearer {body['token']}"
        api.namespace_id = body["namespace_id"]
    return writer, watcher


def mkdir(writer: Api, path: str) -> tuple[int, float, float]:
    """Commit one mkdir; returns its head_seq, when the request was sent and when its response was in."""
    sent = time.perf_counter()
    body = writer.call(
        "POST", "/v1/commit", {"namespace_id": writer.namespace_id, "ops": [{"op": "mkdir", "path": path}]}
    )
    return int(body["head_seq"]), sent, time.perf_counter()


def mkdir_timed(writer: Api, path: str) -> tuple[float, float]:
    _, sent, answered = mkdir(writer, path)
    return sent, answered


class Socket:
    """The watcher's WebSocket and a reader thread noting when each head_seq was first announced."""

    def __init__(self, url: str, token_header: str) -> None:
        self.ws = connect(url, additional_headers={"Authorization": token_header}, open_timeout=30)
        self.arrived_at: dict[int, float] = {}
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="watcher-socket", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for text in self.ws:
                at = time.perf_counter()
                message = json.loads(text)
                if message.get("type") == "changed":
                    with self._changed:
                        self.arrived_at.setdefault(int(message["head_seq"]), at)
                        self._changed.notify_all()
        except ConnectionClosed:
            pass

    def wait_for(self, head_seq: int, timeout_s: float) -> float | None:
        """When a change at ``head_seq`` or later first arrived; None if none within the timeout."""

        def first() -> float | None:
            times = [at for seq, at in self.arrived_at.items() if seq >= head_seq]
            return min(times) if times else None

        with self._changed:
            self._changed.wait_for(lambda: first() is not None, timeout_s)
            return first()

    def close(self) -> None:
        self.ws.close()
        self._thread.join(5)


def measure_push(writer: Api, socket: Socket, commits: int) -> dict[str, Any]:
    latencies_s, commit_s, misses = [], [], 0
    for i in range(-WARM_UP_ROUNDS, commits):
        head_seq, sent, t0 = mkdir(writer, f"/push-{i + WARM_UP_ROUNDS:05d}")
        t1 = socket.wait_for(head_seq, PUSH_WAIT_S)
        if i < 0:
            continue
        commit_s.append(t0 - sent)
        if t1 is None:
            misses += 1
        else:
            latencies_s.append(t1 - t0)
    return {"latency_s": latencies_s, "commit_s": commit_s, "missed": misses}


class Gauge:
    """The backend's count of waiting long-polls, read from the emulator's throttle table."""

    def __init__(self, aws_url: str) -> None:
        config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
        self.table = config["stages"]["dev"]["environment_variables"]["THROTTLE_TABLE"]
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=aws_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator's
        )

    def waiting(self) -> int:
        rows = self.dynamodb.scan(
            TableName=self.table,
            ConsistentRead=True,
            FilterExpression="begins_with(#k, :prefix)",
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={":prefix": {"S": "longpoll#"}},
        )["Items"]
        return sum(max(0, int(row.get("waiters", {}).get("N", "0"))) for row in rows)

    def wait_until_waiting(self, answered: Callable[[], bool]) -> bool:
        """True once a long-poll is counted in; False if it answered first or never showed."""
        deadline = time.monotonic() + GAUGE_WAIT_S
        while time.monotonic() < deadline and not answered():
            if self.waiting() > 0:
                return True
            time.sleep(GAUGE_POLL_S)
        return False


class LongPoller:
    """The watcher's long-poll loop: one thread, one session, its own cursor."""

    def __init__(self, watcher: Api) -> None:
        self.base_url, self.namespace_id = watcher.base_url, watcher.namespace_id
        self.session = requests.Session()
        self.session.headers.update(watcher.session.headers)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watcher-longpoll")
        self.phase = random.Random(0)
        self.cursor = self.thread.submit(self._advance, None).result()

    def _get(self, path: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        response = self.session.get(self.base_url + path, params=params, timeout=timeout_s)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _advance(self, cursor: str | None) -> str:
        """Page through the tree (no cursor) or the journal after ``cursor``; return the next cursor."""
        params: dict[str, Any] = {"namespace_id": self.namespace_id, "limit": 2000}
        if cursor is not None:
            params["cursor"] = cursor
        while True:
            body = self._get("/v1/objects", params, 60)
            params["cursor"] = body["cursor"]
            if not body["has_more"]:
                return str(body["cursor"])

    def _wait(self) -> tuple[float, dict[str, Any] | None]:
        params = {"namespace_id": self.namespace_id, "cursor": self.cursor, "timeout": LONGPOLL_TIMEOUT_S}
        try:
            body = self._get("/v1/objects/longpoll", params, LONGPOLL_WAIT_S)
        except requests.RequestException:
            body = None
        return time.perf_counter(), body

    def round(
        self, gauge: Gauge, commit: Callable[[], tuple[float, float]]
    ) -> tuple[float, float, float | None, bool]:
        """One long-poll around one commit: (commit sent, commit answered, changes arrived, gauge seen)."""
        waiting = self.thread.submit(self._wait)
        seen = gauge.wait_until_waiting(lambda: waiting.done())
        time.sleep(self.phase.uniform(0, SERVER_POLL_S))
        sent, t0 = commit()
        t1, body = waiting.result(LONGPOLL_WAIT_S + 5)
        self.cursor = self.thread.submit(self._advance, self.cursor).result()
        return sent, t0, (t1 if body is not None and body.get("changes") is True else None), seen

    def close(self) -> None:
        self.thread.shutdown()
        self.session.close()


def measure_longpoll(writer: Api, watcher: Api, aws_url: str, commits: int) -> dict[str, Any]:
    poller, gauge = LongPoller(watcher), Gauge(aws_url)
    latencies_s, commit_s, misses, unconfirmed, premature = [], [], 0, 0, 0
    try:
        for i in range(-WARM_UP_ROUNDS, commits):
            commit = functools.partial(mkdir_timed, writer, f"/longpoll-{i + WARM_UP_ROUNDS:05d}")
            sent, t0, t1, seen = poller.round(gauge, commit)
            if i < 0:
                continue
            commit_s.append(t0 - sent)
            unconfirmed += not seen
            if t1 is None:
                misses += 1
            elif t1 < sent:  # not this commit's news: the cursor was behind
                premature += 1
            else:
                latencies_s.append(t1 - t0)
    finally:
        poller.close()
    return {
        "latency_s": latencies_s,
        "commit_s": commit_s,
        "missed": misses,
        "unconfirmed": unconfirmed,
        "premature": premature,
    }


def run(data_dir: Path | None, commits: int) -> tuple[dict[str, Any], dict[str, Any], LocalStack, int]:
    stack = LocalStack(data_dir).start()
    try:
        writer, watcher = log_in_two(stack.api)
        socket = Socket(stack.ws, str(watcher.session.headers["Authorization"]))
        try:
            push = measure_push(writer, socket, commits)
        finally:
            socket.close()
        longpoll = measure_longpoll(writer, watcher, stack.aws, commits)
    except BaseException:
        print("the local stack's last output:\n" + "".join(stack.output[-40:]), file=sys.stderr)
        raise
    finally:
        code = stack.stop()
    return push, longpoll, stack, code


def _row(name: str, result: dict[str, Any]) -> str:
    values_ms = [s * 1000 for s in result["latency_s"]]
    if not values_ms:
        return f"{name:<11}{0:>5}{result['missed']:>8}" + f"{'-':>9}" * 4 + f"{'MISS':>7}{'MISS':>7}"
    p50, p90, p99 = (nearest_rank(values_ms, p) for p in (50, 90, 99))
    verdicts = ["PASS" if p50 < TARGET_P50_MS else "MISS", "PASS" if p99 < TARGET_P99_MS else "MISS"]
    figures = "".join(f"{v:9.1f}" for v in (p50, p90, p99, max(values_ms)))
    return f"{name:<11}{len(values_ms):>5}{result['missed']:>8}{figures}{verdicts[0]:>7}{verdicts[1]:>7}"


def report(push: dict[str, Any], longpoll: dict[str, Any], stack: LocalStack, code: int) -> None:
    targets = f"p50 < {TARGET_P50_MS:.0f}, p99 < {TARGET_P99_MS:.0f}"
    print(f"\nlatency from the commit's response to the watcher (ms); targets: {targets}")
    print(f"{'':11}{'n':>5}{'missed':>8}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}{'p50':>7}{'p99':>7}")
    print(_row("push", push))
    print(_row("long-poll", longpoll))
    for name, result in (("push", push), ("long-poll", longpoll)):
        early = sum(s < 0 for s in result["latency_s"])
        print(
            f"{name} phase: commit request median {statistics.median(result['commit_s']) * 1000:.1f} ms; "
            f"{early} of {len(result['latency_s'])} notifications came before the commit's response"
        )
    if longpoll["unconfirmed"]:
        print(f"long-poll: {longpoll['unconfirmed']} commits sent without seeing the long-poll counted in")
    if longpoll["premature"]:
        print(f"long-poll: {longpoll['premature']} answered before their commit was sent (not counted)")
    problems = [line.rstrip() for line in stack.output if _is_problem(line)]
    print(f"stack: exit code {code}, {len(problems)} warning or error lines in its output")
    for line in problems[:10]:
        print(f"  {line[:300]}")


def _is_problem(line: str) -> bool:
    if line.lstrip().startswith("{"):
        try:
            return json.loads(line).get("level") in ("WARNING", "ERROR", "CRITICAL")
        except ValueError:
            return False
    return any(word in line for word in ("WARNING", "ERROR", "Traceback", "Exception"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commits", type=int, default=200, help="measured commits per phase (200)")
    parser.add_argument("--in-memory", action="store_true", help="run the stack without a data folder")
    args = parser.parse_args()
    if args.commits < 1:
        parser.error("--commits must be positive")
    if args.in_memory:
        results = run(None, args.commits)
    else:
        with tempfile.TemporaryDirectory(prefix="driftbox-bench-") as tmp:
            results = run(Path(tmp) / "data", args.commits)
    where = "in memory" if args.in_memory else "with a data folder"
    print(f"\n{args.commits} one-mkdir commits per phase, local stack {where}")
    report(*results)


if __name__ == "__main__":
    main()
