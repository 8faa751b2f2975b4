"""A running `driftbox sync` without its usual means: no WebSocket (a proxy refuses it), and no
inotify (`--watch polling`, as on a network file system). It still hears of both sides' changes
well before its one-minute timer would have caught them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.child import LocalStack
from tests.system.conftest import wait_for
from tests.system.devices import DRIFTBOX, PASSWORD, Device, new_user

# The running sync's timer would catch any change within 60 s of its last pass; noticing within
# this (typically well under a second) shows that something else told it.
BEFORE_TIMER_S = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


class RunningSync:
    """`driftbox sync` in the foreground, as a user starts it; its output read as it comes."""

    def __init__(self, device: Device, **env: str) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        command = [DRIFTBOX, "--server", device.stack.api, "--home", str(device.home), "sync"]
        self.process = subprocess.Popen(
            command,
            env={**clean, "DRIFTBOX_PASSWORD": PASSWORD, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def passes(self) -> int:
        return sum(" In sync. " in line for line in self.lines)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        return self.output


class RefusingProxy:
    """An HTTP proxy that refuses every tunnel (403), as a corporate proxy refuses WebSockets."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:  # closed
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and (data := conn.recv(4096)):
                    head += data
                self.requests.append(head.decode("latin-1").split("\r\n")[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.server.close()


def test_without_a_websocket_a_running_sync_hears_of_remote_changes_by_long_poll(
    stack: LocalStack, tmp_path: Path
) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    proxy = RefusingProxy()
    # websockets takes ws_proxy from the environment (requests ignores it: the REST calls go direct).
    running = RunningSync(phone, ws_proxy=proxy.url)
    try:
        wait_for(lambda: running.passes() >= 1, 60, "the first pass")
        wait_for(lambda: "long-polling instead" in running.output, 30, "the fall-back to long-poll")

        laptop.file("first.txt").write_bytes(b"pushed while the phone long-polls")
        laptop.sync()
        wait_for(lambda: phone.file("first.txt").exists(), BEFORE_TIMER_S, "the phone to hear of it")
        assert phone.file("first.txt").read_bytes() == b"pushed while the phone long-polls"

        laptop.file("second.txt").write_bytes(b"and again")  # the long-poll goes on after a change
        laptop.sync()
        wait_for(lambda: phone.file("second.txt").exists(), BEFORE_TIMER_S, "the phone to hear again")
    finally:
        output = running.stop()
        proxy.close()
    ws_port = stack.ws.rsplit(":", 1)[1]
    assert any(r.startswith("CONNECT ") and f":{ws_port} " in r for r in proxy.requests), proxy.requests
    assert "by WebSocket" not in output  # no socket got through: the news came by long-poll
    assert any("GET /v1/objects/longpoll?" in line for line in stack.output)
    assert running.process.returncode == 130 and "Traceback" not in output, output


def test_polling_watcher_picks_up_local_changes(stack: LocalStack, tmp_path: Path) -> None:
    (laptop,) = new_user(stack, tmp_path, "laptop")
    (laptop.folder / "docs").mkdir()
    laptop.file("docs/old.txt").write_bytes(b"before the sync started")
    running = RunningSync(laptop, DRIFTBOX_WATCH="polling")
    try:
        wait_for(lambda: running.passes() >= 1, 60, "the first pass")
        assert "watching by polling" in running.output, running.output

        laptop.file("docs/new.txt").write_bytes(b"made while polling")
        wait_for(lambda: "new.txt" in laptop.run("ls", "/docs").stdout, BEFORE_TIMER_S, "the upload")
        laptop.file("docs/old.txt").write_bytes(b"edited while polling, longer")
        listed = lambda: "28  old.txt" in laptop.run("ls", "/docs").stdout  # noqa: E731
        wait_for(listed, BEFORE_TIMER_S, "the edit's upload")
    finally:
        output = running.stop()
    assert running.process.returncode == 130 and "Traceback" not in output, output
