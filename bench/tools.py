"""What the benchmarks run and make: processes timed with their peak memory, the data they sync,
the `driftbox` command on an account of its own, and the peers (`aws s3 sync`, `rclone sync`)
beside it on the same S3."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.local.child import PROJECT_DIR, LocalStack

MiB = 1024 * 1024
KEYS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}
PASSWORD = "bench bench bench"  # noqa: S105 - a throwaway account on a local stack
DRIFTBOX = str(Path(sys.executable).with_name("driftbox"))


@dataclass
class Run:
    """One process: its wall time, exit code, output and peak resident memory; ``timed_out`` if
    killed (scale_bench's runs have a time limit)."""

    seconds: float
    code: int
    output: str
    max_rss_mib: float
    timed_out: bool = False


GNU_TIME = "/usr/bin/time"


def run(command: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to the end, with its peak resident memory.

    The peak is measured by GNU time when it is there: a child forked from this process would count
    this process's own memory in its peak (the kernel carries the high-water mark across exec), and
    this process holds the data it makes. Without it, wait4's figure is an upper bound.

    The stack's S3 is plain HTTP: a CA bundle set for the machine's outside traffic only confuses
    rclone's S3 client, which refuses to start ("unable to load custom CA bundle").
    """
    inherited = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with tempfile.NamedTemporaryFile("r", prefix="driftbox-bench-rss-") as peak:
        timed = [GNU_TIME, "-f", "%M", "-o", peak.name] if os.access(GNU_TIME, os.X_OK) else []
        started = time.perf_counter()
        process = subprocess.Popen(
            [*timed, *command],
            env={**inherited, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        output = process.stdout.read()  # until it closes: the child is exiting
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        said = peak.read().split()
        rss_kib = int(said[-1]) if timed and said and said[-1].isdigit() else usage.ru_maxrss
    return Run(seconds, process.returncode, output.decode(errors="replace"), rss_kib / 1024)


def checked(result: Run, what: str) -> Run:
    if result.code != 0:
        raise SystemExit(f"{what} exited {result.code}:\n{result.output[-3000:]}")
    return result


# -- the data -------------------------------------------------------------------------------------
def write_random(path: Path, size: int, seed: int) -> None:
    """Incompressible bytes, made fast: a SHAKE stream seeded per file, 64 MiB of it reused with a
    counter over the first bytes of every 4 MiB, so no two chunks anywhere are alike (the client
    would otherwise send a repeated chunk once, and look faster than it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.shake_256(f"driftbox-bench-{seed}".encode()).digest(min(size, 64 * MiB)) if size else b""
    with path.open("wb") as out:
        for n, start in enumerate(range(0, size, 4 * MiB)):
            offset = start % len(block)
            piece = block[offset : offset + min(4 * MiB, size - start)]
            out.write(n.to_bytes(8, "big") + piece[8:] if len(piece) >= 8 else piece)


def make_tree(root: Path, big: int, small: int, small_size: int, seed: int) -> Path:
    for i in range(big):
        write_random(root / "big" / f"video-{i}.bin", 64 * MiB, seed * 100_000 + i)
    for i in range(small):
        write_random(root / f"d{i // 100:03d}" / f"f{i:05d}.bin", small_size, seed * 100_000 + 1000 + i)
    return root


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- the tools ------------------------------------------------------------------------------------
class Driftbox:
    """A device: its own home, linked to ``folder``, driven through the ``driftbox`` command."""

    def __init__(self, stack: LocalStack, base: Path, folder: Path, email: str, name: str) -> None:
        self.stack = stack
        self.home = base / f"home-{name}-{uuid.uuid4().hex[:6]}"
        self.folder = folder
        self.email = email
        self.name = name

    def command(self, *args: str) -> list[str]:
        return [DRIFTBOX, "--server", self.stack.api, "--home", str(self.home), *args]

    def do(self, *args: str) -> Run:
        return checked(run(self.command(*args), {"DRIFTBOX_PASSWORD": PASSWORD}), f"driftbox {args[0]}")

    @classmethod
    def new_account(cls, stack: LocalStack, base: Path, folder: Path, name: str) -> Driftbox:
        device = cls(stack, base, folder, f"bench-{uuid.uuid4().hex[:10]}@example.com", name)
        device.do("signup", device.email)
        device.join()
        return device

    def join(self) -> None:
        self.do("login", self.email, "--device", self.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.do("link", str(self.folder))

    def sibling(self, base: Path, folder: Path, name: str) -> Driftbox:
        other = Driftbox(self.stack, base, folder, self.email, name)
        other.join()
        return other

    def sync(self) -> Run:
        return self.do("sync", "--once")


def find_aws() -> str | None:
    mine = PROJECT_DIR / ".venv-peers" / "bin" / "aws"
    return str(mine) if mine.exists() else shutil.which("aws")


class Peers:
    """``aws s3 sync`` and ``rclone sync`` with their default settings, against the stack's S3."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.aws = find_aws()
        self.rclone = shutil.which("rclone")
        self.bucket = f"bench-peers-{uuid.uuid4().hex[:8]}"
        self.env = {
            **KEYS,
            "RCLONE_CONFIG_LOCALS3_TYPE": "s3",
            "RCLONE_CONFIG_LOCALS3_PROVIDER": "Other",
            "RCLONE_CONFIG_LOCALS3_ENDPOINT": stack.aws,
            "RCLONE_CONFIG_LOCALS3_ACCESS_KEY_ID": KEYS["AWS_ACCESS_KEY_ID"],
            "RCLONE_CONFIG_LOCALS3_SECRET_ACCESS_KEY": KEYS["AWS_SECRET_ACCESS_KEY"],
            "RCLONE_CONFIG_LOCALS3_REGION": KEYS["AWS_DEFAULT_REGION"],
        }
        if self.aws:
            make = [self.aws, "s3", "mb", f"s3://{self.bucket}", "--endpoint-url", stack.aws]
            checked(run(make, self.env), "aws s3 mb")

    def tools(self) -> dict[str, Callable[[Path, str], Run]]:
        found: dict[str, Callable[[Path, str], Run]] = {}
        if self.aws:
            found["aws s3 sync"] = self.aws_sync
        if self.rclone and self.aws:  # the bucket is made with aws
            found["rclone sync"] = self.rclone_sync
        return found

    def missing(self) -> list[str]:
        return [n for n, p in (("aws", self.aws), ("rclone", self.rclone)) if not p]

    def aws_sync(self, folder: Path, prefix: str) -> Run:
        assert self.aws
        target = f"s3://{self.bucket}/{prefix}"
        command = [
            self.aws,
            "s3",
            "sync",
            str(folder),
            target,
            "--endpoint-url",
            self.stack.aws,
            "--no-progress",
        ]
        return checked(run(command, self.env), "aws s3 sync")

    def rclone_sync(self, folder: Path, prefix: str) -> Run:
        assert self.rclone
        command = [self.rclone, "sync", str(folder), f"localS3:{self.bucket}/{prefix}", "-v"]
        return checked(run(command, self.env), "rclone sync")

    @staticmethod
    def sent(tool: str, result: Run, folder: Path) -> int:
        """Bytes a peer sent: the sizes of the files it reports uploading (peers send whole files)."""
        if tool.startswith("aws"):
            names = re.findall(r"^upload: (.+?) to s3://", result.output, re.M)
            return sum(Path(os.path.abspath(n)).stat().st_size for n in names)  # aws prints them relative
        names = re.findall(r"INFO\s+:\s+(.+?): Copied", result.output)
        return sum((folder / n).stat().st_size for n in names)


def driftbox_puts(stack: LocalStack, since: int) -> tuple[int, int]:
    """Presigned PUTs the stack accepted after line ``since`` of its output: (count, bytes)."""
    found = (re.search(r"s3 PUT \S+ (\d+) B accepted", line) for line in stack.output[since:])
    sizes = [int(m.group(1)) for m in found if m]
    return len(sizes), sum(sizes)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.seconds)
