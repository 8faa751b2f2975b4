"""`driftbox ls` of one folder while the namespace holds many other files, against the local stack.

python -m bench.ls_bench [--others 10000] [--folder-files 100] [--deleted 0] [--runs 3] [--requests]

Starts the local stack (in memory) in a child process, fills one account with ``--others`` empty
files spread over folders of 100, ``--folder-files`` in ``/d1`` and ``--deleted`` files made and
deleted again, then times the `driftbox ls /d1` command (a new process each run, as a person runs
it); with ``--requests``, also the folder route's request, the by_folder Query sent to the emulator
alone (what moto costs), and the whole-tree listing that `ls` read before the folder route. Empty
files need no chunk uploads, so filling is quick.

Measured on a 2-core machine, with 10,000 files elsewhere and 1,000 deleted:
`driftbox ls /d1` took 24.2 s (median of 3) when it read the whole tree, and 0.49 s with
``GET /v1/folders`` (0.2 s of it the command's start-up). The route's request took 354 ms, about
what moto alone takes for its one index Query (381 ms): moto's Query walks every item of the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
    if gone:  # one folder delete: a tombstone for the folder and for each file in it
        _commit(session, base, namespace_id, [{"op": "delete", "path": "/gone", "parent_rev": None}])


def _median_s(runs: int, once: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        once()
        times.append(time.monotonic() - started)
    return statistics.median(times)


def server_side(stack: LocalStack, home: Path, runs: int) -> None:
    """The requests behind `ls`, timed from here, and the same index Query sent to the emulator alone."""
    import boto3

    from chalicelib.adapters import keys

    token = (home / "token").read_text().strip()
    settings = json.loads((home / "settings.json").read_text())
    namespace_id = settings["namespace_id"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    folder_query = f"/v1/folders?namespace_id={namespace_id}&path=/d1&limit=2000"
    route_s = _median_s(runs, lambda: _call(session, stack.api, "GET", folder_query))

    def whole_tree() -> None:
        cursor = None
        while True:
            query = f"/v1/objects?namespace_id={namespace_id}&limit=2000" + (
                f"&cursor={cursor}" if cursor else ""
            )
            page = _call(session, stack.api, "GET", query)
            cursor = page["cursor"]
            if not page["has_more"]:
                return

    tree_s = _median_s(runs, whole_tree)
    emulator_keys = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # serve.py's defaults
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws, region_name="us-east-1", **emulator_keys)
    index_query = {
        "TableName": "driftbox-dev-paths",
        "IndexName": "by_folder",
        "KeyConditionExpression": "folder = :f",
        "ExpressionAttributeValues": {":f": {"S": keys.folder_children(namespace_id, "/d1")}},
    }
    moto_s = _median_s(runs, lambda: dynamodb.query(**index_query))
    print(
        f"GET /v1/folders (/d1): {route_s * 1000:.0f} ms, of which the by_folder Query alone at the "
        f"emulator takes {moto_s * 1000:.0f} ms; the whole tree by GET /v1/objects (what `ls` read "
        f"before): {tree_s:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--folder-files", type=int, default=100)
    parser.add_argument("--deleted", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", action="store_true", help="also time the requests behind `ls`")
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
            if args.requests:
                server_side(stack, Path(home), args.runs)
    finally:
        stack.kill()


if __name__ == "__main__":
    main()
