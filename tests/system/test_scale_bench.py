"""bench/scale_bench.py end to end at a tiny size: every row is measured and printed (no timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.scale_bench import BIG_JOBS, OPERATIONS, PEER_ROWS
from bench.tools import find_aws
from infra.local.child import PROJECT_DIR


def test_the_scale_bench_prints_every_row_at_every_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scale_bench",
            "--sizes",
            "30,250",
            "--big",
            "300",
            "--work",
            str(tmp_path),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    said = done.stdout
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed, which is no failure here
    assert said.rstrip().splitlines()[-1].startswith(("All targets met.", "Missed: ")), said
    peers = PEER_ROWS if find_aws() else PEER_ROWS[:1]
    for size in ("30", "250"):
        table = said.split(f"## {size} files of 1 KiB")[1].split("\n## ")[0]
        rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
        assert [row.split(" | ")[0].removeprefix("| ") for row in rows[1:]] == [*OPERATIONS, *peers]
        assert all(" | PASS |" in row or " | MISS |" in row for row in rows[1 : 1 + len(OPERATIONS)])
        assert "not installed" not in table
    summary = said.split("## Summary")[1].split("\n## ")[0]
    assert all(f"| {name} | " in summary for name in OPERATIONS)
    pure = said.split("## The pure parts at 300 items")[1]
    assert all(f"| {job} | " in pure for job in BIG_JOBS)
    assert "timed out" not in said
    assert not list(tmp_path.iterdir()), "the bench left its data behind"
