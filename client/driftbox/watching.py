"""``driftbox sync`` in the foreground: a pass whenever the folder or the server changes.

Triggers: watchdog events in the folder (debounced: a pass starts once events have been quiet for
half a second, or five seconds after the first), a ``changed`` push on the WebSocket at the
account's ``notify_url``, else a long-poll on the cursor when no WebSocket can be held (a proxy or
firewall that refuses them), and a timer (every minute) that catches whatever the others missed.

A pass costs what changed. The events name the paths that changed, and the pass scans only the
folders holding them (``Synchronizer.once(near=...)``); the journal names what changed on the
server. The whole folder is scanned by stat at start, after the kernel dropped events (an inotify
queue overflow), and every ``FULL_SCAN_S`` in case an event was lost some other way.

The folder is watched by the system's file events (inotify on Linux); where they cannot be used
(inotify instances or watches run out) the watcher falls back to polling the folder every
``POLL_S``. ``--watch polling`` (``DRIFTBOX_WATCH=polling``) polls from the start: network file
systems (NFS, SMB) report no events for changes made by other machines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

import click

from driftbox import errors

if TYPE_CHECKING:
    from driftbox.synchronizer import Synchronizer

QUIET_S = 0.5
MAX_DELAY_S = 5.0
TIMER_S = 60.0
POLL_S = 2.0  # the polling watcher stats the whole folder this often
FULL_SCAN_S = 600.0  # a pass scans the whole folder at least this often, events or not
LONGPOLL_S = 30  # the server caps it (25 s on API Gateway, which ends requests at 29 s)
NATIVE = "inotify" if sys.platform.startswith("linux") else "file system events"
# A file opened, or closed unchanged, changed nothing; and every pass reads files (hashing them,
# uploading them), so a pass would trigger the next one, and so would any other reader of the folder.
READS = frozenset({"opened", "closed_no_write"})
Watch = Literal["auto", "polling"]


class Trigger:
    """Set by any source of change; the loop waits on it, then debounces. Keeps the paths events
    named since the last ``take``, and whether some were lost (then only a whole scan will do)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._last = 0.0
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._lost = False

    def fire(self, *changed: str) -> None:
        with self._lock:
            self._paths.update(changed)
        self._last = time.monotonic()
        self._event.set()

    def events_lost(self) -> None:
        with self._lock:
            self._lost = True
        self.fire()

    def take(self) -> tuple[set[str], bool]:
        """The paths named since the last take, and whether events were lost meanwhile."""
        with self._lock:
            taken, lost = self._paths, self._lost
            self._paths, self._lost = set(), False
        return taken, lost

    def wait(self, timeout_s: float) -> bool:
        if not self._event.wait(timeout_s):
            return False
        first = time.monotonic()
        while time.monotonic() - self._last < QUIET_S and time.monotonic() - first < MAX_DELAY_S:
            time.sleep(0.05)
        self._event.clear()
        return True


class _Overflows(logging.Handler):
    """Watchdog says only in its log that the kernel dropped events: heard there, a whole scan."""

    def __init__(self, trigger: Trigger) -> None:
        super().__init__(logging.WARNING)
        self.trigger = trigger

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.trigger.events_lost()


def driftbox_path(root: str, disk_path: str) -> str | None:
    """The Driftbox path of a path on disk below ``root``; None for the root itself or outside it."""
    relative = os.path.relpath(disk_path, root)
    if relative == "." or relative == ".." or relative.startswith("../"):
        return None
    return "/" + relative.replace(os.sep, "/")


def watch_folder(sync: Synchronizer, trigger: Trigger, watch: Watch) -> tuple[Any, str]:
    """A started watchdog observer of the folder, and how it watches (for the user)."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    root = str(sync.root)

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in READS or ".driftbox-part-" in str(event.src_path):
                return
            if event.is_directory and event.event_type == "modified":
                return  # what changed in it has events of its own; a folder's own stat is not synced
            named = (os.fsdecode(p) for p in (event.src_path, event.dest_path) if p)
            trigger.fire(*(path for path in (driftbox_path(root, p) for p in named) if path is not None))

    ways: list[tuple[str, Any]] = [(f"polling every {POLL_S:g} s", lambda: PollingObserver(timeout=POLL_S))]
    if watch == "auto":
        ways.insert(0, (NATIVE, Observer))
    for name, make in ways:
        observer = make()
        try:
            observer.schedule(Handler(), str(sync.root), recursive=True)
            observer.start()
            logging.getLogger("watchdog").addHandler(_Overflows(trigger))
            return observer, name
        except OSError as exc:  # inotify instances or watches ran out (ENOSPC, EMFILE)
            click.echo(f"driftbox: watching by {name} failed ({exc}); trying the next way", err=True)
    raise errors.DriftboxError("cannot watch the folder")


class _Listener:
    """Hears of remote changes: WebSocket pushes, else long-polls; either way only a hint to run a pass.

    Says on stderr when it changes from one to the other, once each time.
    """

    def __init__(self, sync: Synchronizer, trigger: Trigger, stop: threading.Event) -> None:
        self.sync = sync
        self.trigger = trigger
        self.stop = stop
        self.way = ""

    def _say(self, way: str, why: str) -> None:
        if way != self.way:
            self.way = way
            click.echo(f"driftbox: {why}", err=True)

    def run(self) -> None:
        backoff_s = 1.0
        while not self.stop.is_set():
            try:
                self._websocket()
                backoff_s = 1.0
            except Exception as exc:  # no WebSocket here (refused, proxied away, none offered)
                self._say("longpoll", f"no WebSocket for notifications ({_short(exc)}); long-polling instead")
                self._long_poll(until_s=time.monotonic() + 300)
                self.stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 60.0)

    def _websocket(self) -> None:
        from websockets.sync.client import connect

        url = self.sync.api.account()["notify_url"]
        if not url:
            raise errors.DriftboxError("the server offers none")
        headers = {"Authorization": f"Bearer {self.sync.api.token}"}
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            self._say("websocket", f"notifications by WebSocket from {url}")
            self.trigger.fire()  # catch up on what passed while not connected
            while not self.stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=60))
                except TimeoutError:
                    ws.send(json.dumps({"type": "ping"}))  # API Gateway drops idle sockets at 10 min
                    continue
                if message.get("type") == "changed" and message.get("namespace_id") == self.sync.namespace_id:
                    self.trigger.fire()

    def _long_poll(self, until_s: float) -> None:
        while not self.stop.is_set() and time.monotonic() < until_s:
            cursor = self.sync.last_cursor
            if cursor is None:  # the first pass has not listed the folder yet
                self.stop.wait(1)
                continue
            try:
                answer = self.sync.api.longpoll(self.sync.namespace_id, cursor, timeout_s=LONGPOLL_S)
            except errors.CursorReset:  # the pass re-lists the folder and gets a new cursor
                answer = {"changes": True}
            except errors.DriftboxError:
                self.stop.wait(10)
                continue
            if answer.get("changes"):
                self.trigger.fire()
                self._wait_for_pass(cursor)
            if answer.get("backoff"):
                self.stop.wait(float(answer["backoff"]))

    def _wait_for_pass(self, cursor: str) -> None:
        """Until a pass moved the cursor on: polling with the old one would only answer "changed" again."""
        deadline_s = time.monotonic() + TIMER_S
        while self.sync.last_cursor == cursor and time.monotonic() < deadline_s:
            if self.stop.wait(0.2):
                return


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def run_forever(sync: Synchronizer, watch: Watch = "auto") -> None:
    trigger = Trigger()
    stop = threading.Event()
    observer, how = watch_folder(sync, trigger, watch)
    listener = _Listener(sync, trigger, stop)
    threading.Thread(target=listener.run, daemon=True, name="notify").start()
    click.echo(f"Syncing {sync.root} (watching by {how}). Ctrl-C stops.")
    whole_scan_s = -FULL_SCAN_S  # the first pass scans everything
    try:
        while True:
            near, lost = trigger.take()
            whole = lost or time.monotonic() - whole_scan_s >= FULL_SCAN_S
            try:
                report = sync.once(near=None if whole else near)
                if whole:
                    whole_scan_s = time.monotonic()
                click.echo(f"{time.strftime('%H:%M:%S')} {report.summary()}")
            except (errors.Unsafe, errors.Unauthorized, errors.UsageError):
                raise  # waiting would not help: the user must act
            except errors.DriftboxError as exc:  # unreachable, a server error, a busy index
                click.echo(f"driftbox: {exc}; trying again soon", err=True)
                trigger.fire(*near)  # looked at again by the next pass
            trigger.wait(TIMER_S)
    finally:
        stop.set()
        observer.stop()
        observer.join(5)
