"""``driftbox sync`` in the foreground: a pass whenever the folder or the server changes.

Triggers: watchdog events in the folder (debounced: a pass starts once events have been quiet for
half a second, or five seconds after the first), a ``changed`` push on the WebSocket at the
account's ``notify_url``, else a long-poll on the cursor when no WebSocket can be held, and a timer
(every minute) that catches whatever the others missed. Every pass rescans the whole folder by stat,
so an event lost or an inotify queue overflow costs nothing but a little time. Where inotify
watches run out, the watcher falls back to polling.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from driftbox import errors

if TYPE_CHECKING:
    from driftbox.synchronizer import Synchronizer

QUIET_S = 0.5
MAX_DELAY_S = 5.0
TIMER_S = 60.0


class Trigger:
    """Set by any source of change; the loop waits on it, then debounces."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._last = 0.0

    def fire(self) -> None:
        self._last = time.monotonic()
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        if not self._event.wait(timeout_s):
            return False
        first = time.monotonic()
        while time.monotonic() - self._last < QUIET_S and time.monotonic() - first < MAX_DELAY_S:
            time.sleep(0.05)
        self._event.clear()
        return True


def _watch(sync: Synchronizer, trigger: Trigger) -> Any:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if ".driftbox-part-" not in str(event.src_path):
                trigger.fire()

    for name, make in (("inotify", Observer), ("polling", PollingObserver)):  # watches can run out
        observer = make()
        try:
            observer.schedule(Handler(), str(sync.root), recursive=True)
            observer.start()
            return observer
        except OSError as exc:
            click.echo(f"driftbox: watching by {name} failed ({exc}); trying the next way", err=True)
    raise errors.DriftboxError("cannot watch the folder")


def _listen(sync: Synchronizer, trigger: Trigger, stop: threading.Event) -> None:
    """WebSocket pushes, else long-polls; either way only a hint to run a pass."""
    from websockets.sync.client import connect

    backoff_s = 1.0
    while not stop.is_set():
        try:
            url = sync.api.account()["notify_url"]
            headers = {"Authorization": f"Bearer {sync.api.token}"}
            with connect(url, additional_headers=headers, open_timeout=10) as ws:
                backoff_s = 1.0
                trigger.fire()  # catch up on what passed while not connected
                while not stop.is_set():
                    try:
                        message = json.loads(ws.recv(timeout=60))
                    except TimeoutError:
                        ws.send(json.dumps({"type": "ping"}))  # API Gateway drops idle sockets at 10 min
                        continue
                    if message.get("type") == "changed" and message.get("namespace_id") == sync.namespace_id:
                        trigger.fire()
        except Exception:  # no WebSocket here: long-poll until it works again
            _long_poll(sync, trigger, stop, until_s=time.monotonic() + 300)
            stop.wait(backoff_s)
            backoff_s = min(backoff_s * 2, 60.0)


def _long_poll(sync: Synchronizer, trigger: Trigger, stop: threading.Event, until_s: float) -> None:
    while not stop.is_set() and time.monotonic() < until_s:
        cursor = sync.last_cursor
        if cursor is None:
            return
        try:
            answer = sync.api.longpoll(sync.namespace_id, cursor, timeout_s=30)
        except errors.DriftboxError:
            stop.wait(10)
            continue
        if answer.get("changes"):
            trigger.fire()
            stop.wait(1)  # let the pass move the cursor on
        if answer.get("backoff"):
            stop.wait(float(answer["backoff"]))


def run_forever(sync: Synchronizer) -> None:
    trigger = Trigger()
    stop = threading.Event()
    observer = _watch(sync, trigger)
    threading.Thread(target=_listen, args=(sync, trigger, stop), daemon=True, name="notify").start()
    click.echo(f"Syncing {sync.root}. Ctrl-C stops.")
    try:
        while True:
            try:
                report = sync.once()
                click.echo(f"{time.strftime('%H:%M:%S')} {report.summary()}")
            except errors.Unreachable as exc:
                click.echo(f"driftbox: {exc}; trying again soon", err=True)
            trigger.wait(TIMER_S)
    finally:
        stop.set()
        observer.stop()
        observer.join(5)
