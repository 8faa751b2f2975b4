"""The cost of durable local data: the same local stack with its write log (fsynced) and in memory.

python -m bench.durability_bench [--commits 200] [--puts 60] [--workers 8]

Each mode starts ``python -m infra.local.serve`` as a child process on free ports and drives it over
real HTTP as a client does: sequential one-file commits (the commit request alone is timed),
sequential presigned PUTs of distinct 4 MiB chunks, then the same PUTs from ``--workers`` threads.
The durable run is then stopped and started again on its data folder to time the replay.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.commit_bench import Api
from infra.local.child import LocalStack

CHUNK = 4 * 1024 * 1024


def _commit_one(api: Api, i: int) -> float:
    data = f"file {i} {uuid.uuid4()}".encode()
    digest = hashlib.sha256(data).hexdigest()
    [grant] = api.call(
        "POST",
        "/v1/chunks/upload",
        {"namespace_id": api.namespace_id, "chunks": [{"hash": digest, "size": len(data)}]},
    )["uploads"]
    requests.put(grant["url"], data=data, headers=grant["headers"], timeout=60).raise_for_status()
    op = {
        "op": "put",
        "path": f"/bench/{i}.txt",
        "parent_rev": None,
        "size": len(data),
        "mtime": time.time_ns(),
        "chunks": [digest],
        "content_hash": hashlib.sha256(bytes.fromhex(digest)).hexdigest(),
    }
    began = time.perf_counter()
    api.call("POST", "/v1/commit", {"namespace_id": api.namespace_id, "ops": [op]})
    return time.perf_counter() - began


def _grants(api: Api, chunks: list[bytes]) -> list[tuple[dict[str, Any], bytes]]:
    by_hash = {hashlib.sha256(c).hexdigest(): c for c in chunks}
    specs = [{"hash": h, "size": len(c)} for h, c in by_hash.items()]
    uploads = api.call("POST", "/v1/chunks/upload", {"namespace_id": api.namespace_id, "chunks": specs})
    return [(g, by_hash[g["hash"]]) for g in uploads["uploads"]]


def _put(session: requests.Session, grant: dict[str, Any], data: bytes) -> float:
    began = time.perf_counter()
    response = session.put(grant["url"], data=data, headers=grant["headers"], timeout=120)
    response.raise_for_status()
    return time.perf_counter() - began


def run(data_dir: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    stack = LocalStack(data_dir).start()
    result: dict[str, Any] = {"start_s": stack.start_seconds}
    try:
        api = Api(stack.api)
        api.sign_up_and_log_in()
        for i in range(5):  # warm up
            _commit_one(api, -1 - i)
        result["commit_s"] = [_commit_one(api, i) for i in range(args.commits)]

        session = requests.Session()
        sequential = _grants(api, [os.urandom(CHUNK) for _ in range(args.puts)])
        result["put_s"] = [_put(session, g, d) for g, d in sequential]

        parallel = _grants(api, [os.urandom(CHUNK) for _ in range(args.puts)])
        began = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda gd: _put(requests.Session(), *gd), parallel))
        result["parallel_mb_s"] = args.puts * CHUNK / 1e6 / (time.perf_counter() - began)
    finally:
        stack.stop()
    if data_dir is not None:
        again = LocalStack(data_dir).start()
        result["restart_s"] = again.start_seconds
        result["replay_line"] = next((line.strip() for line in again.output if line.startswith("Data")), "")
        again.stop()
        result["log_mb"] = sum(f.stat().st_size for f in data_dir.iterdir()) / 1e6
    return result


def _ms(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100)[int(q) - 1] * 1000
        if q != 50
        else statistics.median(values) * 1000
    )


def report(memory: dict[str, Any], durable: dict[str, Any]) -> None:
    print(f"{'':34}{'in memory':>12}{'durable':>12}{'extra':>10}")
    rows = [
        ("stack start, empty (s)", memory["start_s"], durable["start_s"], "s"),
        ("commit, median (ms)", _ms(memory["commit_s"], 50), _ms(durable["commit_s"], 50), "ms"),
        ("commit, p90 (ms)", _ms(memory["commit_s"], 90), _ms(durable["commit_s"], 90), "ms"),
        ("4 MiB PUT, median (ms)", _ms(memory["put_s"], 50), _ms(durable["put_s"], 50), "ms"),
        ("4 MiB PUT, p90 (ms)", _ms(memory["put_s"], 90), _ms(durable["put_s"], 90), "ms"),
        ("4 MiB PUTs in parallel (MB/s)", memory["parallel_mb_s"], durable["parallel_mb_s"], ""),
    ]
    for name, a, b, unit in rows:
        extra = f"{b - a:+.2f}" if unit else f"{(b / a - 1) * 100:+.0f}%"
        print(f"{name:34}{a:12.2f}{b:12.2f}{extra:>10}")
    print(f"restart on its data: {durable['restart_s']:.2f} s; {durable['replay_line']}")
    print(f"data folder: {durable['log_mb']:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--puts", type=int, default=60)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    memory = run(None, args)
    with tempfile.TemporaryDirectory(prefix="driftbox-bench-") as tmp:
        durable = run(Path(tmp) / "data", args)
    report(memory, durable)


if __name__ == "__main__":
    main()
