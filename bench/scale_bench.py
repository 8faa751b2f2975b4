"""What the sync client's everyday commands cost as the account grows, against issue 15's targets.

    python -m bench.scale_bench [--sizes 1000,10000,100000] [--big 1000000] [--peers sha256sum,aws]
                                [--repeat 1] [--in-memory] [--timeout 1800] [--work DIR]

For each size N, on a local stack of its own (``infra.local.child.LocalStack``, with a data folder
unless ``--in-memory``), after an untimed warm-up sync of 100 files: makes N files of 1 KiB in
folders of 100 (``/d{i // 100}/f{i}.bin``, so ``/d1`` holds 100 entries), then times each of these
as the separate ``driftbox`` process a user would start, with its peak resident memory (GNU time):

- **first upload**: ``driftbox sync --once`` on a new account (device A);
- **no-op**: ``sync --once`` again with nothing changed;
- **one-file edit**: one file rewritten, then ``sync --once``;
- **ls**: ``driftbox ls /d1`` (100 entries);
- **status**: ``driftbox status``;
- **download**: a second device's first ``sync --once`` (device B, an empty folder).

Peers on the same files, in the same run: ``sha256sum`` over every file (the hashing floor of an
upload), and ``aws s3 sync`` up to, then down from, a bucket of the same S3 emulator (when it is
installed: ``make peers``).

Then, unless ``--big 0``, the pure parts at ``--big`` items, each in a fresh process so its peak
memory is its own: ``driftbox.core.planner.plan`` over three synthetic trees with no change and
with one, and ``driftbox.adapters.index.Index`` writing, loading and rewriting that many rows (what
a pass did before it planned only what changed); then what a pass does now: a no-op's reads of the
index (every folder's synced rows, the remote keys marked changed) and the scoped plan of one edit.

Targets are issue 15's, for 100k files: no-op and edit under 1 s and under 2x their figure at the
smallest size of the run, ``ls`` and ``status`` under 0.5 s, no-op and edit under 100 MiB, upload
and download rates at least 0.8x the smallest size's. Each size's table says PASS or MISS for
every target (it is checked at every size). Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.tools import GNU_TIME, KEYS, PASSWORD, Driftbox, Run, best, find_aws
from infra.local.child import LocalStack

FILE_BYTES = 1024
PER_FOLDER = 100
LISTED = "/d1"  # 100 entries from 200 files up; below that, /d0 and whatever it holds
PEERS = ("sha256sum", "aws")


def measure(command: Sequence[str], what: str, timeout_s: float, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to its end (or kill it after ``timeout_s``), saying every minute that it runs.

    Peak memory comes from GNU time, wrapped around the command alone: this process's own memory
    (it made the data) must not count. Output goes to a file, so a long run cannot fill a pipe.
    """
    inherited = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # the stack is plain HTTP
    with (
        tempfile.NamedTemporaryFile("r", prefix="scale-rss-") as peak,
        tempfile.TemporaryFile("w+b") as output,
    ):
        timed = [GNU_TIME, "-f", "%M", "-o", peak.name] if os.access(GNU_TIME, os.X_OK) else []
        started = time.perf_counter()
        process = subprocess.Popen(
            [*timed, *command],
            env={**inherited, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        while True:
            try:
                process.wait(min(60.0, max(0.1, timeout_s - (time.perf_counter() - started))))
                break
            except subprocess.TimeoutExpired:
                elapsed = time.perf_counter() - started
                if elapsed >= timeout_s:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    timed_out = True
                    break
                print(f"  ... {what}: {elapsed:.0f} s so far", file=sys.stderr, flush=True)
        seconds = time.perf_counter() - started
        said = peak.read().split()
        rss_kib = int(said[-1]) if said and said[-1].isdigit() else 0
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0 and not timed_out:
        raise SystemExit(f"{what} exited {process.returncode}:\n{text[-3000:]}")
    return Run(seconds, process.returncode, text, rss_kib / 1024, timed_out)


# -- the data -------------------------------------------------------------------------------------
def make_files(folder: Path, count: int) -> float:
    """``count`` files of 1 KiB random bytes in folders of 100; the seconds it took."""
    started = time.perf_counter()
    for i in range(count):
        if i % PER_FOLDER == 0:
            (folder / f"d{i // PER_FOLDER}").mkdir(parents=True, exist_ok=True)
        if i and i % 20_000 == 0:
            print(f"  ... made {i:,} files", file=sys.stderr, flush=True)
        (folder / f"d{i // PER_FOLDER}" / f"f{i}.bin").write_bytes(os.urandom(FILE_BYTES))
    return time.perf_counter() - started


# -- one size -------------------------------------------------------------------------------------
@dataclass
class Figure:
    """One row of a size's table."""

    operation: str
    run: Run | None  # None: not measured (a peer not installed)
    rate_files: int = 0  # files moved, for a rate
    target: str = ""
    ok: bool | None = None  # None: no target

    def rate(self) -> float:
        return self.rate_files / self.run.seconds if self.run and self.rate_files else 0.0


@dataclass
class Size:
    files: int
    made_s: float = 0.0
    load: float = 0.0  # the machine's 1-minute load average when its upload started
    figures: dict[str, Figure] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        """Keep ``figure``, and say it at once: a long run that is stopped still leaves its figures."""
        self.figures[figure.operation] = figure
        run, rate = figure.run, figure.rate()
        if run is not None:
            rated = f", {rate:,.0f} files/s" if rate and not run.timed_out else ""
            late = " (timed out)" if run.timed_out else ""
            print(
                f"  -> {figure.operation}: {run.seconds:.2f} s{late}{rated}, peak {run.max_rss_mib:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )


OPERATIONS = (
    "first upload",
    "second-device download",
    "no-op sync --once",
    "one-file edit, sync --once",
    "ls of a folder (100 entries)",
    "status",
)
PEER_ROWS = ("sha256sum, every file", "aws s3 sync, upload", "aws s3 sync, download")


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.aws = find_aws() if "aws" in args.peers else None
        self.lines: list[str] = []
        self.missed: list[str] = []

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def one_size(self, files: int) -> Size:
        base = self.work / f"n{files}"
        base.mkdir()
        size = Size(files)
        stack_data = None if self.args.in_memory else base / "stack"
        stack = LocalStack(stack_data, env={**KEYS, "POWERTOOLS_LOG_LEVEL": "WARNING"}).start()
        try:
            self._warm_up(stack, base)
            print(f"\n{files:,} files: making them", file=sys.stderr, flush=True)
            folder_a = base / "a"
            size.made_s = make_files(folder_a, files)
            print(f"  made in {size.made_s:.1f} s ({files / size.made_s:,.0f} files/s)", file=sys.stderr)
            self._client(stack, base, folder_a, size)
            self._peers(stack, base, folder_a, size)
        finally:
            code = stack.stop()
            print(f"  stack stopped with exit code {code}", file=sys.stderr)
            shutil.rmtree(base, ignore_errors=True)
        return size

    def _warm_up(self, stack: LocalStack, base: Path) -> None:
        """One small untimed sync first: the stack's first requests load botocore's models and make
        its clients, as a cold Lambda does once; the first timed command would pay for them."""
        folder = base / "warm-up"
        make_files(folder, 100)
        Driftbox.new_account(stack, base, folder, "warm-up").sync()
        if self.aws:
            self._aws(stack, ["s3", "mb", f"s3://{self._bucket(stack)}"], "aws s3 mb")

    def _bucket(self, stack: LocalStack) -> str:
        return f"scale-peers-{stack.aws_port}"

    def _client(self, stack: LocalStack, base: Path, folder: Path, size: Size) -> None:
        timeout = self.args.timeout
        a = Driftbox.new_account(stack, base, folder, "a")
        print("  first upload (device A)", file=sys.stderr, flush=True)
        size.load = os.getloadavg()[0]
        upload = measure(
            a.command("sync", "--once"), "first upload", timeout, {"DRIFTBOX_PASSWORD": PASSWORD}
        )
        size.add(Figure("first upload", upload, size.files))
        if upload.timed_out:
            return  # nothing after it means anything
        noops, edits = [], []
        for n in range(self.args.repeat):
            print("  no-op and one-file edit", file=sys.stderr, flush=True)
            noops.append(measure(a.command("sync", "--once"), "no-op sync", timeout))
            (folder / "d0" / f"f{n}.bin").write_bytes(os.urandom(FILE_BYTES))
            edits.append(measure(a.command("sync", "--once"), "one-file edit", timeout))
        size.add(Figure("no-op sync --once", best(noops)))
        size.add(Figure("one-file edit, sync --once", best(edits)))
        where, entries = (LISTED, PER_FOLDER) if size.files >= 2 * PER_FOLDER else ("/d0", size.files)
        print(f"  ls {where}", file=sys.stderr, flush=True)
        listed = best([measure(a.command("ls", where), "ls", timeout) for _ in range(self.args.repeat)])
        if not listed.timed_out and listed.output.count("\n") != min(entries, PER_FOLDER):
            raise SystemExit(f"ls {where} printed {listed.output.count(chr(10))} lines, not {entries}")
        size.add(Figure(OPERATIONS[4], listed))
        print("  status", file=sys.stderr, flush=True)
        status = best([measure(a.command("status"), "status", timeout) for _ in range(self.args.repeat)])
        size.add(Figure("status", status))
        print("  second-device download (device B)", file=sys.stderr, flush=True)
        b = a.sibling(base, base / "b", "b")
        down = measure(b.command("sync", "--once"), "second-device download", timeout)
        size.add(Figure("second-device download", down, size.files))
        if not down.timed_out:
            got = sum(1 for p in (base / "b").rglob("*.bin"))
            if got != size.files:
                raise SystemExit(f"device B has {got} files, not {size.files}")
        (folder / ".driftbox").unlink(missing_ok=True)  # the marker `link` wrote; peers must not see it
        shutil.rmtree(base / "b", ignore_errors=True)

    def _peers(self, stack: LocalStack, base: Path, folder: Path, size: Size) -> None:
        timeout = self.args.timeout
        if "sha256sum" in self.args.peers:
            hashed = measure(
                ["sh", "-c", 'find "$0" -type f -print0 | xargs -0 sha256sum > /dev/null', str(folder)],
                "sha256sum",
                timeout,
            )
            size.add(Figure(PEER_ROWS[0], hashed, size.files))
        if "aws" not in self.args.peers:
            return
        target = f"s3://{self._bucket(stack)}/n{size.files}"
        up = (
            self._aws(stack, ["s3", "sync", str(folder), target, "--no-progress"], "aws s3 sync up")
            if self.aws
            else None
        )
        size.add(Figure(PEER_ROWS[1], up, size.files))
        down_dir = base / "aws-down"
        down = (
            self._aws(stack, ["s3", "sync", target, str(down_dir), "--no-progress"], "aws s3 sync down")
            if self.aws and up and not up.timed_out
            else None
        )
        size.add(Figure(PEER_ROWS[2], down, size.files))

    def _aws(self, stack: LocalStack, args: list[str], what: str) -> Run:
        assert self.aws
        return measure([self.aws, *args, "--endpoint-url", stack.aws], what, self.args.timeout, KEYS)

    # -- targets and tables -----------------------------------------------------------------------
    def judge(self, size: Size, base: Size) -> None:
        """Set each figure's target and verdict; ``base``: the run's smallest size."""
        f, b = size.figures, base.figures
        for name in ("no-op sync --once", "one-file edit, sync --once"):
            if name in f and f[name].run:
                run, ref = f[name].run, b[name].run
                assert run
                assert ref
                limit = min(1.0, 2 * ref.seconds)
                f[name].target = f"< {limit:.2f} s (1 s, 2 x {base.files:,}); < 100 MiB"
                f[name].ok = not run.timed_out and run.seconds < limit and run.max_rss_mib < 100
        for name in (OPERATIONS[4], "status"):
            if name in f and f[name].run:
                run = f[name].run
                assert run
                f[name].target = "< 0.5 s"
                f[name].ok = not run.timed_out and run.seconds < 0.5
        for name in ("first upload", "second-device download"):
            if name in f and f[name].run and name in b:
                floor = 0.8 * b[name].rate()
                f[name].target = f">= {floor:,.0f} files/s (0.8 x {base.files:,})"
                f[name].ok = not f[name].run.timed_out and f[name].rate() >= floor  # type: ignore[union-attr]
        for figure in f.values():
            if figure.ok is False:
                self.missed.append(f"{figure.operation} at {size.files:,}")

    def table(self, size: Size) -> None:
        made = f"made in {size.made_s:.1f} s; load average {size.load:.1f} on {os.cpu_count()} cores"
        self.say(f"\n## {size.files:,} files of 1 KiB ({made})")
        self.say("| operation | seconds | files/s | MB/s | peak RSS MiB | target | |")
        self.say("| --- | ---: | ---: | ---: | ---: | --- | --- |")
        for name in (*OPERATIONS, *PEER_ROWS):
            figure = size.figures.get(name)
            if figure is None:
                continue
            if figure.run is None:
                self.say(f"| {name} | not installed | | | | | |")
                continue
            run = figure.run
            seconds = f"> {run.seconds:.0f} (timed out)" if run.timed_out else f"{run.seconds:.2f}"
            rate = figure.rate()
            files_s = f"{rate:,.0f}" if rate and not run.timed_out else ""
            mb_s = f"{rate * FILE_BYTES / 1e6:.2f}" if rate and not run.timed_out else ""
            verdict = "" if figure.ok is None else ("PASS" if figure.ok else "MISS")
            rss = f"{run.max_rss_mib:.0f}" if run.max_rss_mib else ""
            self.say(f"| {name} | {seconds} | {files_s} | {mb_s} | {rss} | {figure.target} | {verdict} |")

    def summary(self, sizes: list[Size]) -> None:
        self.say("\n## Summary: seconds (peak RSS MiB); rates in files/s")
        self.say("| operation | " + " | ".join(f"{s.files:,}" for s in sizes) + " |")
        self.say("| --- |" + " ---: |" * len(sizes))
        for name in (*OPERATIONS, *PEER_ROWS):
            cells = []
            for s in sizes:
                figure = s.figures.get(name)
                run = figure.run if figure else None
                if figure is None or run is None:
                    cells.append("")
                elif run.timed_out:
                    cells.append(f"> {run.seconds:.0f} s")
                elif figure.rate_files:
                    rss = (
                        f" ({run.max_rss_mib:.0f})"
                        if run.max_rss_mib and not name.startswith(("sha", "aws"))
                        else ""
                    )
                    cells.append(f"{figure.rate():,.0f}/s{rss}")
                else:
                    cells.append(f"{run.seconds:.2f} s ({run.max_rss_mib:.0f})")
            self.say(f"| {name} | " + " | ".join(cells) + " |")


# -- the pure parts at --big items ----------------------------------------------------------------
BIG_JOBS = (
    "planner, no change",
    "planner, one change",
    "index: write",
    "index: load",
    "index: rewrite stat cache",
    "index: a no-op pass's reads",
    "scoped plan, one change",
)


def big(bench: Bench, items: int) -> None:
    """Each job in a fresh process (``--child``), which prints its own timings as JSON."""
    db = bench.work / "big" / "index.sqlite3"
    db.parent.mkdir()
    best = f", best of {bench.args.repeat}" if bench.args.repeat > 1 else ""
    bench.say(f"\n## The pure parts at {items:,} items (each job a fresh process{best})")
    bench.say("| job | seconds | peak RSS MiB | RSS before it MiB | process seconds |")
    bench.say("| --- | ---: | ---: | ---: | ---: |")
    for job in BIG_JOBS:
        command = [sys.executable, "-m", "bench.scale_bench", "--child", job, "--big", str(items)]
        runs: list[tuple[float, Run, dict[str, float]]] = []
        for _ in range(bench.args.repeat):
            print(f"  {job} at {items:,} items", file=sys.stderr, flush=True)
            if job == "index: write":  # each write starts on an empty index, as a first sync does
                for old in db.parent.glob(db.name + "*"):
                    old.unlink()
            run = measure([*command, "--work", str(db)], job, bench.args.timeout)
            said = json.loads(run.output.strip().splitlines()[-1]) if not run.timed_out else {}
            runs.append((said["seconds"] if said else float("inf"), run, said))
        _, run, said = min(runs, key=lambda r: r[0])
        seconds = f"{said['seconds']:.2f}" if said else f"> {run.seconds:.0f} (timed out)"
        before = f"{said['rss_before_mib']:.0f}" if said else ""
        bench.say(f"| {job} | {seconds} | {run.max_rss_mib:.0f} | {before} | {run.seconds:.1f} |")
    shutil.rmtree(db.parent, ignore_errors=True)


def child(job: str, items: int, db: Path) -> None:
    """One job of ``big``: builds its input, then times the part under test alone."""
    import resource

    from bench import scale_trees

    work = scale_trees.job(job, items, db)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_before_mib": rss_before}))


# -- the run --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="file counts, comma-separated")
    parser.add_argument(
        "--big", type=int, default=1_000_000, help="items for the planner and index (0: skip)"
    )
    parser.add_argument("--peers", default=",".join(PEERS), help=f"of {', '.join(PEERS)}; '' for none")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of no-op, edit, ls, status and each pure job; best kept"
    )
    parser.add_argument("--in-memory", action="store_true", help="the stack keeps no data folder")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a command is killed")
    parser.add_argument(
        "--work", type=Path, default=None, help="where the data goes (default: a temp folder)"
    )
    parser.add_argument("--child", choices=BIG_JOBS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.big, args.work)
        return 0
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    args.peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    if unknown := args.peers - set(PEERS):
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="driftbox-scale-", dir=args.work) as tmp:
        bench = Bench(args, Path(tmp))
        if "aws" in args.peers and not bench.aws:
            bench.say("\naws is not installed, so not compared (`make peers`, bench/README.md)")
        done: list[Size] = []
        for files in sizes:
            size = bench.one_size(files)
            done.append(size)
            bench.judge(size, done[0])
            bench.table(size)
        if len(done) > 1:
            bench.summary(done)
        if args.big:
            big(bench, args.big)
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    bench.say(f"\n{'All targets met.' if not bench.missed else 'Missed: ' + ', '.join(bench.missed)}")
    return 1 if bench.missed else 0


if __name__ == "__main__":
    sys.exit(main())
