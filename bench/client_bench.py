"""The sync client against its peers, on the same data and the same local S3.

    python -m bench.client_bench [--small-files 5000] [--repeat 1] [--only upload,edit,...] [--in-memory]

Starts the local stack (``infra.local.child.LocalStack``), makes the data once in a temporary
folder, and times, each as a separate process a user would run:

- ``upload``: the first upload of a 500 MB tree (4 x 64 MiB + 1,000 x 256 KiB) and of 5,000 files
  of 1 KiB, by ``driftbox sync --once`` (a new account each time, so nothing is stored yet), by
  ``aws s3 sync`` and by ``rclone sync`` (each to a new prefix of one bucket in the same S3);
- ``edit``: one byte changed in the middle of a 64 MiB file already synced, then each tool again:
  seconds and bytes sent;
- ``rescan``: ``driftbox sync --once`` with nothing changed on the 5,000 files, and the scan alone
  in this process;
- ``hash``: the chunker over a cached 1 GiB file, against ``sha256sum`` and hashlib over the same
  bytes in memory;
- ``memory``: peak resident memory of ``driftbox sync --once`` uploading, then downloading on a
  second device, a 1 GiB file (and of the peers uploading it).

Bytes sent by ``driftbox`` are counted where the stack accepts them (one log line per presigned
PUT); the peers send whole files, so theirs are the sizes of the files they say they uploaded.
Exits 1 when a target is missed. Figures depend on the machine: compare runs made on one.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.tools import (
    KEYS,
    Driftbox,
    MiB,
    Peers,
    Run,
    best,
    checked,
    driftbox_puts,
    make_tree,
    run,
    tree_bytes,
    write_random,
)
from infra.local.child import LocalStack

PHASES = ("hash", "upload", "edit", "rescan", "memory")


# -- the phases -----------------------------------------------------------------------------------
@dataclass
class Results:
    lines: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def target(self, ok: bool, what: str) -> str:
        if not ok:
            self.missed.append(what)
        return "PASS" if ok else "MISS"


def _best_seconds(job: Callable[[], object], repeat: int) -> float:
    """The best of ``repeat`` timed runs, after one that warms up."""
    seconds = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        job()
        seconds.append(time.perf_counter() - started)
    return min(seconds[1:])


def phase_hash(work: Path, out: Results, repeat: int) -> None:
    from driftbox.core.chunker import hash_stream

    path = work / "hash-1g.bin"
    write_random(path, 1024 * MiB, 7)
    data = path.read_bytes()  # also leaves the file in the page cache
    size_mb = len(data) / 1e6
    timings = {"hashlib in memory": _best_seconds(lambda: hashlib.sha256(data).digest(), repeat)}
    data = b""

    def ours() -> None:
        with path.open("rb") as stream:
            hash_stream(stream)

    timings["driftbox chunker"] = _best_seconds(ours, repeat)
    timings["sha256sum"] = _best_seconds(lambda: checked(run(["sha256sum", str(path)]), "sha256sum"), repeat)
    path.unlink()
    limit = size_mb / timings["hashlib in memory"]
    out.say(f"\n## Hashing a cached 1 GiB file (best of {repeat})")
    out.say("| tool | seconds | MB/s | x hashlib |")
    out.say("| --- | ---: | ---: | ---: |")
    for name, seconds in timings.items():
        out.say(f"| {name} | {seconds:.2f} | {size_mb / seconds:,.0f} | {size_mb / seconds / limit:.2f} |")
    ratio = timings["hashlib in memory"] / timings["driftbox chunker"]
    out.say(f"target: chunker >= 0.85 x hashlib: {ratio:.2f} {out.target(ratio >= 0.85, 'hashing')}")


def phase_upload(
    stack: LocalStack,
    peers: Peers,
    work: Path,
    trees: dict[str, Path],
    out: Results,
    repeat: int,
    uploaded: dict[Path, Driftbox],
) -> None:
    _warm_up(stack, peers, work)
    out.say(f"\n## First upload (best of {repeat}; driftbox on a new account each time)")
    out.say("| data | tool | seconds | MB/s | files/s | peak RSS MiB | x aws |")
    out.say("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, folder in trees.items():
        size, files = tree_bytes(folder), sum(1 for p in folder.rglob("*") if p.is_file())
        results: dict[str, list[Run]] = {}
        for _ in range(repeat):
            device, result = _driftbox_first_upload(stack, work, folder)
            results.setdefault("driftbox", []).append(result)
            uploaded[folder] = device
            for name, tool in peers.tools().items():
                results.setdefault(name, []).append(tool(folder, f"upload-{uuid.uuid4().hex[:6]}"))
        aws = best(results["aws s3 sync"]) if "aws s3 sync" in results else None
        for name, runs in results.items():
            result = best(runs)
            ratio = f"{result.seconds / aws.seconds:.2f}" if aws else "-"
            out.say(
                f"| {label} | {name} | {result.seconds:.2f} | {size / 1e6 / result.seconds:,.1f} | "
                f"{files / result.seconds:,.0f} | {result.max_rss_mib:.0f} | {ratio} |"
            )
        if aws:
            ok = best(results["driftbox"]).seconds <= aws.seconds
            out.say(
                f"target: driftbox no slower than aws s3 sync on {label}: {out.target(ok, f'upload {label}')}"
            )


def _warm_up(stack: LocalStack, peers: Peers, work: Path) -> None:
    """One small sync by each tool first, untimed: the stack's first requests load botocore's models
    and make its clients (seconds, on these machines), as a cold Lambda does once; whoever came
    first would pay for all. 100 files, so that the paths a large commit takes (row transactions,
    a listing of stored chunks) are warm too."""
    folder = make_tree(work / "warm-up", 0, 100, 1024, 99)
    _driftbox_first_upload(stack, work, folder)
    for tool in peers.tools().values():
        tool(folder, "warm-up")


def _driftbox_first_upload(stack: LocalStack, work: Path, folder: Path) -> tuple[Driftbox, Run]:
    """A new account and device linked to ``folder`` itself: the timed part is the sync."""
    device = Driftbox.new_account(stack, work, folder, "uploader")
    try:
        return device, device.sync()
    finally:
        (folder / ".driftbox").unlink(missing_ok=True)  # the marker `link` wrote; peers must not see it


def phase_edit(stack: LocalStack, peers: Peers, work: Path, out: Results) -> None:
    folder = make_tree(work / "edit", 1, 0, 0, 3)
    target = folder / "big" / "video-0.bin"
    device = Driftbox.new_account(stack, work, folder, "editor")
    device.sync()
    (folder / ".driftbox").rename(work / "edit-marker")
    prefixes = {name: f"edit-{uuid.uuid4().hex[:6]}" for name in peers.tools()}
    for name, tool in peers.tools().items():
        tool(folder, prefixes[name])
    time.sleep(1.1)  # mtimes move on: aws s3 sync compares size and mtime to the second
    with target.open("r+b") as f:
        f.seek(32 * MiB)
        old = f.read(1)
        f.seek(32 * MiB)
        f.write(bytes([old[0] ^ 0xFF]))
    out.say("\n## One byte changed in the middle of a 64 MiB file")
    out.say("| tool | seconds | bytes sent | PUTs |")
    out.say("| --- | ---: | ---: | ---: |")
    for name, tool in peers.tools().items():
        result = tool(folder, prefixes[name])
        out.say(f"| {name} | {result.seconds:.2f} | {Peers.sent(name, result, folder):,} | |")
    (work / "edit-marker").rename(folder / ".driftbox")
    since = len(stack.output)
    result = device.sync()
    time.sleep(0.2)  # the stack's log lines arrive through a pipe
    puts, sent = driftbox_puts(stack, since)
    out.say(f"| driftbox | {result.seconds:.2f} | {sent:,} | {puts} |")
    out.say(f"target: at most one 4 MiB chunk sent: {out.target(puts <= 1 and sent <= 4 * MiB, 'edit')}")


def phase_rescan(
    stack: LocalStack, work: Path, folder: Path, out: Results, repeat: int, device: Driftbox | None
) -> None:
    from driftbox.adapters.home import Home
    from driftbox.adapters.index import Index
    from driftbox.adapters.scanner import scan_changes

    if device is None:  # the upload phase did not run
        device = Driftbox.new_account(stack, work, folder, "rescanner")
    else:
        device.do("link", str(folder))  # its marker again: the peers were not to see it
    device.sync()
    files = sum(1 for p in folder.rglob("*") if p.is_file()) - 1
    command = best([device.sync() for _ in range(repeat + 1)])
    home = Home.resolve(str(device.home), {})
    namespace_id = home.load_settings().namespace_id
    assert namespace_id
    db = Index.open(home.index_path, folder, namespace_id)
    scans = []
    try:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            scan_changes(  # as a pass does
                folder,
                db.synced_children,
                db.stat_children,
                _refuse_to_hash,
                synced_at=lambda path_key: None,
                remote_at=lambda path_key: None,
            )
            scans.append(time.perf_counter() - started)
    finally:
        db.close()
    (folder / ".driftbox").unlink(missing_ok=True)
    scan_s = min(scans[1:])
    out.say(f"\n## No-op rescan of {files:,} files (best of {repeat})")
    out.say("| what | seconds |")
    out.say("| --- | ---: |")
    out.say(f"| `driftbox sync --once`, whole command (start, pull, scan, plan) | {command.seconds:.2f} |")
    out.say(f"| the scan alone (stat every file, compare with the index) | {scan_s:.3f} |")
    out.say(f"target: no-op rescan under one second: {out.target(command.seconds < 1.0, 'rescan')}")


def _refuse_to_hash(path: Path) -> tuple[str, tuple[str, ...]]:
    raise AssertionError(f"a no-op rescan hashed {path}")


def phase_memory(stack: LocalStack, peers: Peers, work: Path, out: Results) -> None:
    folder = work / "memory-up"
    write_random(folder / "one-gib.bin", 1024 * MiB, 11)
    uploader = Driftbox.new_account(stack, work, folder, "mem-up")
    up = uploader.sync()
    downloader = uploader.sibling(work, work / "memory-down", "mem-down")
    down = downloader.sync()
    same = (work / "memory-down" / "one-gib.bin").stat().st_size == 1024 * MiB
    (folder / ".driftbox").unlink()
    out.say("\n## Peak resident memory syncing a 1 GiB file")
    out.say("| tool | direction | seconds | peak RSS MiB |")
    out.say("| --- | --- | ---: | ---: |")
    out.say(f"| driftbox | upload | {up.seconds:.2f} | {up.max_rss_mib:.0f} |")
    out.say(f"| driftbox | download | {down.seconds:.2f} | {down.max_rss_mib:.0f} |")
    for name, tool in peers.tools().items():
        result = tool(folder, f"memory-{uuid.uuid4().hex[:6]}")
        out.say(f"| {name} | upload | {result.seconds:.2f} | {result.max_rss_mib:.0f} |")
    peak = max(up.max_rss_mib, down.max_rss_mib)
    ok = peak < 150 and same
    out.say(f"target: driftbox under 150 MB both ways: {peak:.0f} MiB {out.target(ok, 'memory')}")
    shutil.rmtree(folder)
    shutil.rmtree(work / "memory-down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is kept")
    parser.add_argument("--only", default=",".join(PHASES), help=f"phases, of {', '.join(PHASES)}")
    parser.add_argument("--in-memory", action="store_true", help="the stack keeps no data folder")
    parser.add_argument(
        "--work", type=Path, default=None, help="where the data goes (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    phases = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    out = Results()
    with tempfile.TemporaryDirectory(prefix="driftbox-bench-", dir=args.work) as tmp:
        work = Path(tmp)
        if "hash" in phases:
            phase_hash(work, out, max(args.repeat, 3))
        if not set(phases) - {"hash"}:
            return _verdict(out)
        stack_data = None if args.in_memory else work / "stack"
        stack = LocalStack(stack_data, env={**KEYS, "POWERTOOLS_LOG_LEVEL": "INFO"}).start()
        try:
            peers = Peers(stack)
            if peers.missing():
                out.say(
                    f"\nnot installed, so not compared: {', '.join(peers.missing())} (see bench/README.md)"
                )
            uploaded: dict[Path, Driftbox] = {}  # the last device that uploaded each tree
            started = time.perf_counter()
            small = make_tree(work / "small", 0, args.small_files, 1024, 2)
            trees = {"500 MB tree": make_tree(work / "tree", 4, 1000, 256 * 1024, 1), "5,000 x 1 KiB": small}
            print(f"made the data in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            if "upload" in phases:
                phase_upload(stack, peers, work, trees, out, args.repeat, uploaded)
            if "edit" in phases:
                phase_edit(stack, peers, work, out)
            if "rescan" in phases:
                phase_rescan(stack, work, small, out, max(args.repeat, 3), uploaded.get(small))
            if "memory" in phases:
                phase_memory(stack, peers, work, out)
        finally:
            code = stack.stop()
            print(f"stack stopped with exit code {code}", file=sys.stderr)
    return _verdict(out)


def _verdict(out: Results) -> int:
    out.say(f"\n{'All targets met.' if not out.missed else 'Missed: ' + ', '.join(out.missed)}")
    return 1 if out.missed else 0


if __name__ == "__main__":
    sys.exit(main())
