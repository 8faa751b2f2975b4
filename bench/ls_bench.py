"""`driftbox ls` of one folder while the namespace holds many other files, against the local stack.

python -m bench.ls_bench [--others 10000] [--folder-files 100] [--deleted 0] [--runs 3]

Starts the local stack (in memory) in a child process, fills one account with ``--others`` empty
files spread over folders of 100, ``--folder-files`` in ``/d1`` and ``--deleted`` files made and
deleted again, then times the `driftbox ls /d1` command (a new process each run, as a person runs
it) and the API request(s) behind it. Empty files need no chunk uploads, so filling is quick.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from infra.local.child import LocalStack

EMPTY_HASH = hashlib.sha256(b"").hexdigest()
BATCH = 1000  # the most ops a commit takes


def _call(session: requests.Session, base: str, method: str, path: str, body: Any = None) -> Any:
    response = session.request(method, base + path, json=body, timeout=120)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json()


def _commit(session: requests.Session, base: str, namespace_id: str, ops: list[dict[str, Any]]) -> None:
    for start in range(0, len(ops), BATCH):
        body = {"namespace_id": namespace_id, "ops": ops[start : start + BATCH]}
        session.headers["Idempotency-Key"] = uuid.uuid4().hex
        _call(session, base, "POST", "/v1/commit", body)
    session.headers.pop("Idempotency-Key", None)


def _put(path: str) -> dict[str, Any]:
    return {
        "op": "put",
        "path": path,
        "parent_rev": None,
        "size": 0,
        "mtime": 0,
        "chunks": [],
        "content_hash": EMPTY_HASH,
    }


def fill(base: str, home: Path, others: int, folder_files: int, deleted: int) -> None:
    email, password = f"ls{uuid.uuid4().hex[:8]}@example.com", "bench password 123"
    session = requests.Session()
    _call(session, base, "POST", "/v1/auth/signup", {"email": email, "password": password})
    env = {**os.environ, "DRIFTBOX_HOME": str(home), "DRIFTBOX_SERVER": base, "DRIFTBOX_PASSWORD": password}
    subprocess.run(
        [sys.executable, "-m", "driftbox", "login", email, "--device", "bench"], env=env, check=True
    )
    login = _call(
        session, base, "POST", "/v1/auth/login", {"email": email, "password": password, "device_name": "fill"}
    )
    session.headers["Authorization"] = f"Bearer {login['token']}"
    namespace_id = login["namespace_id"]
    _commit(session, base, namespace_id, [_put(f"/o{i // 100:04d}/f{i:06d}") for i in range(others)])
    _commit(session, base, namespace_id, [_put(f"/d1/f{i:04d}") for i in range(folder_files)])
    gone = [f"/gone/g{i:06d}" for i in range(deleted)]
    _commit(session, base, namespace_id, [_put(p) for p in gone])
    _commit(session, base, namespace_id, [{"op": "delete", "path": p, "parent_rev": None} for p in gone])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--folder-files", type=int, default=100)
    parser.add_argument("--deleted", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stack = LocalStack(None).start()
    try:
        with tempfile.TemporaryDirectory() as home:
            started = time.monotonic()
            fill(stack.api, Path(home), args.others, args.folder_files, args.deleted)
            print(
                f"filled {args.others} + {args.folder_files} files ({args.deleted} deleted) "
                f"in {time.monotonic() - started:.1f} s"
            )
            env = {**os.environ, "DRIFTBOX_HOME": home, "DRIFTBOX_SERVER": stack.api}
            runs = []
            for _ in range(args.runs):
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, "-m", "driftbox", "ls", "/d1"],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(time.monotonic() - started)
            lines = done.stdout.count("\n")
            startup = []
            for _ in range(args.runs):
                started = time.monotonic()
                subprocess.run(
                    [sys.executable, "-m", "driftbox", "--version"], env=env, check=True, capture_output=True
                )
                startup.append(time.monotonic() - started)
            print(
                f"driftbox ls /d1: {lines} lines, median {statistics.median(runs):.2f} s "
                f"(runs {', '.join(f'{r:.2f}' for r in runs)}); the command's own start-up: "
                f"{statistics.median(startup):.2f} s"
            )
    finally:
        stack.kill()


if __name__ == "__main__":
    main()
