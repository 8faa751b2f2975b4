"""The local stack as a separate process on free ports, driven over HTTP and WebSocket."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.child import PROJECT_DIR, LocalStack

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Note on the test whether its call failed, for ``make_stack`` to say what its stacks logged."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


def said_amiss(output: list[str], most: int = 80) -> str:
    """The lines of a stack's output that tell of an error (a 500's traceback, a failed write)."""
    amiss = [line for line in output if "ERROR" in line or "Traceback" in line or "Error" in line]
    return "".join(amiss[-most:])


@pytest.fixture
def make_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``make_stack(data_dir, project_dir=, args=, **env)`` starts a stack; each is killed at the end.
    After a failed test, what each stack logged of errors is printed (pytest shows it with the failure)."""
    started: list[LocalStack] = []

    def make(
        data_dir: Path | None = tmp_path / "data",
        project_dir: Path = PROJECT_DIR,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> LocalStack:
        stack = LocalStack(data_dir, project_dir=project_dir, extra_args=args, env=env).start()
        started.append(stack)
        return stack

    yield make
    for stack in started:
        stack.kill()
        if request.node.stash.get(_FAILED, False):
            print(f"--- errors the stack at {stack.api} logged ---\n{said_amiss(stack.output)}")


class Client:
    """A device talking to the REST API over real HTTP."""

    def __init__(self, base: str, token: str | None = None, namespace_id: str = "") -> None:
        self.base = base
        self.token = token
        self.namespace_id = namespace_id
        self.session = requests.Session()

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.session.request(
            method, self.base + path, json=body, headers=sent | (headers or {}), timeout=30
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)

    @classmethod
    def sign_up(cls, base: str, password: str = "correct horse battery") -> tuple[Client, str]:
        email = f"u{uuid.uuid4().hex[:10]}@example.com"
        client = cls(base)
        status, body = client.post("/v1/auth/signup", {"email": email, "password": password})
        assert status == 201, body
        return client.log_in(email, password), email

    def log_in(self, email: str, password: str = "correct horse battery", device: str = "laptop") -> Client:
        status, body = Client(self.base).post(
            "/v1/auth/login", {"email": email, "password": password, "device_name": device}
        )
        assert status == 200, body
        return Client(self.base, body["token"], body["namespace_id"])


def wait_for(condition: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
