"""Devices for system tests: each a `driftbox` command with its own home and folder, run as a user
would run it, against a local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from driftbox.adapters.api import Api
from driftbox.adapters.home import Home
from driftbox.core import actions as a
from driftbox.disk_scan import MARKER
from driftbox.executor import Executor
from driftbox.synchronizer import Synchronizer

from infra.local.child import PROJECT_DIR, LocalStack

DRIFTBOX = str(Path(sys.executable).with_name("driftbox"))
PASSWORD = "correct horse battery"


class Device:
    def __init__(self, stack: LocalStack, base: Path, name: str) -> None:
        self.stack = stack
        self.name = name
        self.home = base / f"{name}-home"
        self.folder = base / f"{name}-folder"
        self.folder.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DRIFTBOX_PASSWORD": PASSWORD}
        done = subprocess.run(
            [DRIFTBOX, "--server", self.stack.api, "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            check=False,
        )
        if check and done.returncode != 0:
            said = f"{done.stdout}\n{done.stderr}"
            raise AssertionError(f"driftbox {' '.join(args)} exited {done.returncode}:\n{said}")
        return done

    def sync(self) -> subprocess.CompletedProcess[str]:
        return self.run("sync", "--once")

    def file(self, relative: str) -> Path:
        return self.folder / relative


def new_user(stack: LocalStack, base: Path, *names: str, email: str | None = None) -> list[Device]:
    """A new account with a device per name, each logged in and linked to its own folder."""
    email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
    devices = [Device(stack, base, name) for name in names]
    devices[0].run("signup", email)
    for device in devices:
        device.run("login", email, "--device", device.name)
        device.run("link", str(device.folder))
    return devices


@contextmanager
def in_process(device: Device) -> Iterator[Synchronizer]:
    """The device's synchronizer in this process (device name "laptop"), so that a test can stop
    it between its plan and its execution, or run its executor on a plan it made earlier."""
    home = Home.resolve(str(device.home), {})
    settings = home.load_settings()
    assert settings.linked_folder and settings.namespace_id
    api = Api(device.stack.api, home.load_token())
    with Synchronizer.open(api, home, Path(settings.linked_folder), settings.namespace_id, "laptop") as sync:
        yield sync


def plan_now(sync: Synchronizer) -> tuple[list[a.Action], Executor]:
    """Pull, scan and plan, as a round does; the caller runs the plan later, on the executor given."""
    found, actions, in_scope = sync.plan_round()
    return actions, sync.round_executor(found, in_scope)


def converge(*devices: Device) -> None:
    """Sync every device twice, in turn: what one sends, the others have after."""
    for device in (*devices, *devices):
        device.sync()


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) below ``folder``, by relative path."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        found[relative] = path.read_bytes() if path.is_file() else None
    return found


def files(device: Device) -> dict[str, bytes]:
    """The device's synced files (the folder's marker left out), by relative path."""
    return {k: v for k, v in tree(device.folder).items() if v is not None and k != MARKER}


def stack_dynamodb(stack: LocalStack) -> tuple[Any, dict[str, str]]:
    """A DynamoDB client on the stack's emulator, and the stack's table names by variable
    (``PATHS_TABLE``...): for the tests that write rows no API request may write."""
    stage = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]["dev"]
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.aws,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return client, stage["environment_variables"]
