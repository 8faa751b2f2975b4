"""Commit throughput: many one-chunk files uploaded and committed in batches through the local stack.

python -m bench.commit_bench [--files 5000] [--batch 500] [--workers 16]

The local stack (``infra.local.serve``: moto's server and ``chalice local``) runs in a child
process with counters on moto's DynamoDB and S3 request handlers; this process is the client and
speaks real HTTP to it. bench/README.md explains the choice.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import requests

from infra.local.ports import free_port, free_ports

FILE_BYTES = 1024
FILES_PER_FOLDER = 100
MAX_CHUNKS_PER_UPLOAD = 1000  # the most POST /v1/chunks/upload accepts
LIST_PAGE = 2000  # the largest page GET /v1/objects serves
START_TIMEOUT_S = 60.0


# -- the server side, in a child process -----------------------------------------------------------
def _install_counters(counts: Counter[str], lock: threading.Lock) -> None:
    """Count every request moto's DynamoDB and S3 handlers serve, whoever sent it."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    call_action = DynamoHandler.call_action

    def counted_call_action(self: Any) -> Any:
        with lock:
            counts[f"dynamodb {self._get_action()}"] += 1
        return call_action(self)

    DynamoHandler.call_action = counted_call_action  # type: ignore[method-assign]

    def counted(name: str) -> None:
        original = getattr(S3Response, name)

        def handler(self: Any, request: Any, full_url: str, headers: Any) -> Any:
            with lock:
                counts[f"s3 {request.method} {name.split('_')[0]}"] += 1
            return original(self, request, full_url, headers)

        setattr(S3Response, name, handler)

    counted("bucket_response")
    counted("key_response")


def _serve(control: Connection, api_port: int, aws_port: int, log_path: str) -> None:
    """Child process: run ``infra.local.serve`` with counters, answering count requests on ``control``."""
    log = open(log_path, "ab")  # noqa: SIM115  (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    # Installed before the emulator wraps DynamoDB in its lock, so counting happens under that lock.
    _install_counters(counts, lock)

    def answer() -> None:
        while True:
            try:
                control.recv()
            except EOFError:
                return
            with lock:
                control.send(dict(counts))

    threading.Thread(target=answer, daemon=True).start()
    from infra.local import serve

    ports = [
        "--port",
        str(api_port),
        "--aws-port",
        str(aws_port),
        "--ws-port",
        str(free_port(avoid=(api_port, aws_port))),
    ]
    serve.main(["--in-memory", "--aws-in-process", *ports])  # counted in this process


class Stack:
    """The child process holding the local stack, and the way to read its request counts."""

    def __init__(self) -> None:
        self.api_port, self.aws_port = free_ports(2)
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        fd, self.log_path = tempfile.mkstemp(prefix="driftbox-bench-", suffix=".log")
        os.close(fd)
        ctx = mp.get_context("spawn")
        self._control, child_end = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve, args=(child_end, self.api_port, self.aws_port, self.log_path), daemon=True
        )

    def start(self) -> None:
        self._process.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self._process.is_alive():
            try:
                requests.get(f"{self.base_url}/v1/account", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise SystemExit(f"the local stack did not start; see {self.log_path}")

    def counts(self) -> Counter[str]:
        self._control.send("counts")
        return Counter(self._control.recv())

    def stop(self) -> None:
        if self._process.pid is not None and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGINT)  # serve.main stops the emulator on Ctrl-C
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


# -- the client side ---------------------------------------------------------------------------------
class Api:
    """One logged-in device, speaking JSON over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.namespace_id = ""

    def call(self, method: str, path: str, body: Any = None, expect: int = 200, **kw: Any) -> Any:
        response = self.session.request(method, self.base_url + path, json=body, timeout=300, **kw)
        if response.status_code != expect:
            raise SystemExit(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def sign_up_and_log_in(self) -> None:
        email, password = f"bench-{uuid.uuid4().hex}@example.com", uuid.uuid4().hex
        self.call("POST", "/v1/auth/signup", {"email": email, "password": password}, expect=201)
        body = self.call(
            "POST", "/v1/auth/login", {"email": email, "password": password, "device_name": "bench"}
        )
        self.session.headers["Authorization"] = f"Bearer {body['token']}"
        self.namespace_id = body["namespace_id"]


@dataclass(frozen=True)
class File:
    path: str
    data: bytes
    chunk_hash: str
    content_hash: str
    mtime_ns: int

    @classmethod
    def make(cls, i: int) -> File:
        data = os.urandom(FILE_BYTES)
        chunk_hash = hashlib.sha256(data).hexdigest()
        content_hash = hashlib.sha256(bytes.fromhex(chunk_hash)).hexdigest()
        path = f"/bench/d{i // FILES_PER_FOLDER}/f{i}.bin"
        return cls(path, data, chunk_hash, content_hash, time.time_ns())

    def put_op(self) -> dict[str, Any]:
        return {
            "op": "put",
            "path": self.path,
            "parent_rev": None,
            "size": len(self.data),
            "mtime": self.mtime_ns,
            "chunks": [self.chunk_hash],
            "content_hash": self.content_hash,
        }


def upload(api: Api, files: list[File], workers: int) -> None:
    """Ask for presigned URLs a thousand chunks at a time, then PUT the bytes in parallel."""
    grants: list[dict[str, Any]] = []
    for start in range(0, len(files), MAX_CHUNKS_PER_UPLOAD):
        specs = [
            {"hash": f.chunk_hash, "size": len(f.data)} for f in files[start : start + MAX_CHUNKS_PER_UPLOAD]
        ]
        grants += api.call("POST", "/v1/chunks/upload", {"namespace_id": api.namespace_id, "chunks": specs})[
            "uploads"
        ]
    data_by_hash = {f.chunk_hash: f.data for f in files}
    local = threading.local()

    def send(grant: dict[str, Any]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.request(
            grant["method"],
            grant["url"],
            data=data_by_hash[grant["hash"]],
            headers=grant["headers"],
            timeout=60,
        )
        if response.status_code != 200:
            raise RuntimeError(f"chunk PUT: HTTP {response.status_code}: {response.text[:300]}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, grants))


def commit(api: Api, files: list[File], batch: int) -> tuple[int, list[float]]:
    """Commit ``files`` in batches of ``batch`` puts; return the last head_seq and each request's time."""
    head_seq, latencies_s = 0, []
    for start in range(0, len(files), batch):
        ops = [f.put_op() for f in files[start : start + batch]]
        began = time.perf_counter()
        body = api.call(
            "POST",
            "/v1/commit",
            {"namespace_id": api.namespace_id, "ops": ops},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        latencies_s.append(time.perf_counter() - began)
        head_seq = int(body["head_seq"])
    return head_seq, latencies_s


def verify(api: Api, files: list[File], head_seq: int) -> list[str]:
    """Page through the tree listing and the account; return what disagrees with what was committed."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"namespace_id": api.namespace_id, "limit": LIST_PAGE}
    while True:
        body = api.call("GET", "/v1/objects", params=params)
        entries += body["entries"]
        params["cursor"] = body["cursor"]
        if not body["has_more"]:
            break
    listed_files = {e["path"]: e["content_hash"] for e in entries if e["kind"] == "file"}
    listed_folders = {e["path"] for e in entries if e["kind"] == "folder"}
    folders = {"/bench"} | {f.path.rsplit("/", 1)[0] for f in files}
    problems = []
    if listed_files != {f.path: f.content_hash for f in files}:
        problems.append(f"listing has {len(listed_files)} files, not the {len(files)} committed")
    if listed_folders != folders:
        problems.append(f"listing has {len(listed_folders)} folders, expected {len(folders)}")
    if len(entries) != len(listed_files) + len(listed_folders):
        problems.append(f"listing repeats entries: {len(entries)} in all")
    account = api.call("GET", "/v1/account")
    heads = [n["head_seq"] for n in account["namespaces"] if n["namespace_id"] == api.namespace_id]
    expected = len(files) + len(folders)
    if heads != [expected] or head_seq != expected:
        problems.append(f"head_seq: account {heads}, last commit {head_seq}, expected {expected}")
    return problems


@contextmanager
def phase(stack: Stack, into: dict[str, tuple[float, Counter[str]]], name: str) -> Iterator[None]:
    """Time a phase and record the AWS requests the stack served during it."""
    before, began = stack.counts(), time.perf_counter()
    yield
    into[name] = (time.perf_counter() - began, stack.counts() - before)


def _total(counts: Counter[str], service: str) -> int:
    return sum(n for key, n in counts.items() if key.startswith(service + " "))


def report(phases: dict[str, tuple[float, Counter[str]]], n_files: int) -> None:
    """One row per phase, two sums; rates per file, files/s only where files move."""
    rows = list(phases.items())
    for name, parts in (("upload+commit", ("upload", "commit")), ("all", tuple(phases))):
        rows.append((name, (sum(phases[p][0] for p in parts), sum((phases[p][1] for p in parts), Counter()))))
    print(f"{'phase':<14}{'seconds':>9}{'files/s':>9}{'DynamoDB':>10}{'/file':>7}{'S3':>7}{'/file':>7}")
    for name, (seconds, counts) in rows:
        ddb, s3 = _total(counts, "dynamodb"), _total(counts, "s3")
        rate = f"{n_files / seconds:9.0f}" if name not in ("login", "verify") else f"{'-':>9}"
        print(f"{name:<14}{seconds:9.2f}{rate}{ddb:10d}{ddb / n_files:7.2f}{s3:7d}{s3 / n_files:7.2f}")
    for name in ("upload", "commit"):
        print(f"\nAWS requests during the {name} phase:")
        for key, n in phases[name][1].most_common():
            print(f"  {key:<30}{n:8d}{n / n_files:8.3f}/file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="one-chunk files to commit (5000)")
    parser.add_argument("--batch", type=int, default=500, help="puts per POST /v1/commit (500; 1 to 1000)")
    parser.add_argument("--workers", type=int, default=16, help="parallel chunk PUTs (16)")
    args = parser.parse_args()
    if args.files < 1 or not 1 <= args.batch <= 1000 or args.workers < 1:
        parser.error("--files and --workers must be positive, --batch 1 to 1000")

    files = [File.make(i) for i in range(args.files)]
    stack = Stack()
    phases: dict[str, tuple[float, Counter[str]]] = {}
    try:
        stack.start()
        api = Api(stack.base_url)
        with phase(stack, phases, "login"):
            api.sign_up_and_log_in()
        with phase(stack, phases, "upload"):
            upload(api, files, args.workers)
        with phase(stack, phases, "commit"):
            head_seq, latencies_s = commit(api, files, args.batch)
        with phase(stack, phases, "verify"):
            problems = verify(api, files, head_seq)
    except BaseException:
        print(f"the local stack's log: {stack.log_path}", file=sys.stderr)
        raise
    finally:
        stack.stop()
    os.remove(stack.log_path)
    print(
        f"\n{args.files} files of {FILE_BYTES} B, {args.batch} puts a commit, {args.workers} upload workers\n"
    )
    report(phases, args.files)
    print(
        f"\n{len(latencies_s)} commit requests: first {latencies_s[0]:.2f} s, "
        f"median {statistics.median(latencies_s):.2f} s, last {latencies_s[-1]:.2f} s"
    )
    if problems:
        print("\nVERIFY FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        raise SystemExit(1)
    print(f"verify: {args.files} files and their folders listed, head_seq {head_seq} as expected")


if __name__ == "__main__":
    main()
