"""The emulated AWS services of the local stack, in two processes: S3 in one, DynamoDB and SQS in another.

On AWS, S3 and DynamoDB are separate fleets: a commit's writes do not wait behind other clients'
chunk uploads. moto serves every service from one Python process, under one interpreter lock, so
in one process a sync of many small files had its DynamoDB writes queue behind its own PUTs
(measured: the emulator busy about 90 % of a 5,000-file upload, on one core of two). Here each
process has its own core, its own moto and its own log of writes (``<data>/s3``,
``<data>/dynamodb``); the backend is pointed at each directly (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL_SQS``), and the S3 process, on the stack's one
advertised emulator port, passes any other service's request on (``forward.Forward``).

A data folder written by the single-process emulator (one ``aws-writes.log``) is split by service
before either process starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Collection
from pathlib import Path

from infra.local import durable
from infra.local.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]
SPLIT = {"s3": "s3", "dynamodb": "dynamodb", "sqs": "dynamodb"}  # service -> the process holding it


class EmulatorProcess:
    """``python -m infra.local.emulator`` as a child; it exits by itself if this process dies."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            command,
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # Its own session: Ctrl-C at a terminal reaches the stack, which stops its parts in order.
            start_new_session=True,
        )
        self.url = ""
        self.replayed: dict[str, float] | None = None

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("READY "):
                ready = json.loads(line.removeprefix("READY "))
                self.url, self.replayed = ready["url"], ready["replayed"]
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError(f"the emulator exited with code {self.process.wait()} before it was ready")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def stop(self, timeout_s: float = 30) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()


class Services:
    """The two emulator processes; ``url`` is the advertised one (S3, passing the rest on)."""

    def __init__(self, s3: EmulatorProcess, dynamodb: EmulatorProcess) -> None:
        self.s3, self.dynamodb = s3, dynamodb

    @property
    def url(self) -> str:
        return self.s3.url

    def endpoints(self) -> dict[str, str]:
        """The environment that points boto3 at the process holding each service."""
        return {
            "AWS_ENDPOINT_URL": self.s3.url,
            "AWS_ENDPOINT_URL_S3": self.s3.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.url,
            "AWS_ENDPOINT_URL_SQS": self.dynamodb.url,
        }

    @property
    def replayed(self) -> durable.Replayed | None:
        """Both processes' replays, as one (they replay at the same time)."""
        parts = [p.replayed for p in (self.s3, self.dynamodb) if p.replayed is not None]
        if not parts:
            return None
        return durable.Replayed(
            records=int(sum(p["records"] for p in parts)),
            failed=int(sum(p["failed"] for p in parts)),
            bytes=int(sum(p["bytes"] for p in parts)),
            seconds=max(p["seconds"] for p in parts),
            cut_bytes=int(sum(p["cut_bytes"] for p in parts)),
        )

    def stop(self) -> None:
        for process in (self.s3, self.dynamodb):
            process.stop()


def split_legacy_log(data_dir: Path) -> None:
    """Move the records of a single-process log into one log per process, then remove it.

    Until the old log is removed, this can be run again from the start: the new logs are rewritten.
    """
    legacy = data_dir / durable.LOG_NAME
    if not legacy.exists():
        return
    outputs = {name: data_dir / name / durable.LOG_NAME for name in set(SPLIT.values())}
    files = {}
    try:
        for name, path in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            files[name] = path.open("wb")
            os.chmod(path, 0o600)
        for _, payload in durable.read_records(legacy):
            environ, _ = durable.decode(payload)
            owner = SPLIT.get(durable.service_of(environ), "dynamodb")
            files[owner].write(durable.frame(payload))
        for file in files.values():
            file.flush()
            os.fsync(file.fileno())
    finally:
        for file in files.values():
            file.close()
    legacy.unlink()
    durable.fsync_dir(data_dir)


def start(
    host: str, port: int, *, data_dir: Path | None, fsync: bool = True, promised: Collection[int] = ()
) -> Services:
    """Start both processes (S3 on ``port``) and wait until both have replayed their data.

    DynamoDB's port is picked here, clear of ``port`` and of ``promised`` (the stack's other ports,
    not yet bound).
    """

    def command(name: str, at: int, *extra: str) -> list[str]:
        where = ["--data-dir", str(data_dir / name)] if data_dir is not None else []
        return [
            sys.executable,
            "-m",
            "infra.local.emulator",
            "--host",
            host,
            "--port",
            str(at),
            *where,
            *([] if fsync else ["--no-fsync"]),
            *extra,
        ]

    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        split_legacy_log(data_dir)
    dynamodb_port = free_port(host, avoid={port, *promised})
    dynamodb_url = f"http://{host}:{dynamodb_port}"
    elsewhere = [f"--elsewhere={s}={dynamodb_url}" for s, owner in SPLIT.items() if owner == "dynamodb"]
    dynamodb = EmulatorProcess(command("dynamodb", dynamodb_port))
    s3 = EmulatorProcess(command("s3", port, *elsewhere))
    services = Services(s3, dynamodb)
    try:
        dynamodb.wait_ready()
        s3.wait_ready()
    except BaseException:
        services.stop()
        raise
    return services
