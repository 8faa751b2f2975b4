"""The local stack as a child process on free ports: for system tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from infra.local.ports import free_ports

PROJECT_DIR = Path(__file__).resolve().parents[2]


class LocalStack:
    """``python -m infra.local.serve`` in a child process; its output is kept in ``output``."""

    def __init__(
        self,
        data_dir: Path | None,
        *,
        project_dir: Path = PROJECT_DIR,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.project_dir = project_dir
        self.extra_args = extra_args
        self.env = env or {}
        self.port, self.ws_port, self.aws_port = free_ports(3)
        self.api = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.ws_port}"
        self.aws = f"http://127.0.0.1:{self.aws_port}"
        self.output: list[str] = []
        self.start_seconds = 0.0
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 90) -> LocalStack:
        where = ["--data-dir", str(self.data_dir)] if self.data_dir else ["--in-memory"]
        ports = ["--port", str(self.port), "--ws-port", str(self.ws_port), "--aws-port", str(self.aws_port)]
        command = [sys.executable, "-m", "infra.local.serve", *where, *ports, *self.extra_args]
        if self.project_dir != PROJECT_DIR:
            command += ["--project-dir", str(self.project_dir)]
        started = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            command,
            cwd=PROJECT_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(self.process, ready), daemon=True).start()
        if not ready.wait(timeout_s) or self.process.poll() is not None:
            self.kill()
            raise RuntimeError("the local stack did not start:\n" + "".join(self.output[-60:]))
        self.start_seconds = time.monotonic() - started
        return self

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            if line.startswith("Ready in"):
                ready.set()
        ready.set()

    def stop(self, timeout_s: float = 30) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(
                f"the local stack did not stop within {timeout_s} s:\n" + "".join(self.output[-60:])
            ) from None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
