"""`chalice local --stage local` beside `make run` (infra/local/develop.py): one set of data, and a
restart on each edit of the app's source, and on nothing else."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.child import PROJECT_DIR, LocalStack
from infra.local.ports import free_port
from tests.system.conftest import Client, wait_for


def local_stage_project(stack: LocalStack, into: Path) -> Path:
    """This project's app and config, the local stage pointed at ``stack``'s ports, not make run's."""
    into.mkdir(exist_ok=True)
    shutil.copy(PROJECT_DIR / "app.py", into / "app.py")
    shutil.copytree(
        PROJECT_DIR / "chalicelib", into / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env = config["stages"]["local"]["environment_variables"]
    ports = {"127.0.0.1:5000": f"127.0.0.1:{stack.aws_port}", "127.0.0.1:8001": f"127.0.0.1:{stack.ws_port}"}
    for name, value in env.items():
        for default, used in ports.items():
            env[name] = value = value.replace(default, used)
    (into / ".chalice").mkdir()
    (into / ".chalice" / "config.json").write_text(json.dumps(config))
    return into


class DevServer:
    """``python -m infra.local.develop`` (auto-reload on) as a child process; its output in ``lines``."""

    def __init__(self, project: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        # Only what a shell has, and cheap hashing: the stage's variables do the rest.
        env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        env |= {"PYTHONUNBUFFERED": "1", "ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME_COST": "1"}
        command = [sys.executable, "-m", "infra.local.develop", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--project-dir", str(project)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_serving(self, times: int = 1) -> None:
        wait_for(lambda: self.count("Serving on") >= times, 60, "chalice local to serve\n" + self.output())

    def output(self) -> str:
        return "".join(self.lines[-40:])


@pytest.fixture
def dev_server(make_stack: Any, tmp_path: Path) -> Iterator[tuple[DevServer, LocalStack]]:
    # As make run: its data in the project folder, and its credentials (the emulator checks
    # signatures with the keys it was started with).
    project = tmp_path / "project"
    stack = make_stack(project / ".local-data", AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    server = DevServer(local_stage_project(stack, project))
    yield server, stack
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(30)


def test_chalice_local_serves_make_runs_data_and_restarts_on_an_edit(
    dev_server: tuple[DevServer, LocalStack], tmp_path: Path
) -> None:
    server, stack = dev_server
    server.wait_serving()

    # An account made through chalice local is the stack's: its token works there, and back.
    device, email = Client.sign_up(server.url)
    status, account = Client(stack.api, device.token).get("/v1/account")
    assert status == 200, account
    other = Client(stack.api).log_in(email, device="desktop")
    status, seen = Client(server.url, other.token).get("/v1/account")
    assert (status, seen["user_id"]) == (200, account["user_id"])
    assert {d["name"] for d in seen["devices"]} == {"laptop", "desktop"}
    # Serving those requests imported modules and the stack wrote its data: no restart for either.
    assert server.count("Restarting") == 0, server.output()

    with (tmp_path / "project" / "app.py").open("a") as source:
        source.write("\n# an edit\n")
    server.wait_serving(times=2)
    assert server.count("Restarting") == 1, server.output()
    assert device.get("/v1/account")[0] == 200  # the same data after the restart

    server.process.send_signal(signal.SIGINT)  # Ctrl-C, as a person would
    assert server.process.wait(30) == 0, server.output()
    with pytest.raises(requests.ConnectionError):  # the worker stopped with it
        requests.get(server.url + "/v1/account", timeout=5)
