"""What ``driftbox status`` says: in sync or not, each pending change, what cannot be synced, the last sync.

Built by ``Synchronizer.status`` from a plan made as a pass would make it now, without applying it;
this module only words it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from driftbox.core import actions as a

_WHAT: dict[type, str] = {
    a.Upload: "upload",
    a.CreateRemoteFolder: "create folder on server",
    a.DeleteRemote: "delete on server",
    a.MoveRemote: "move on server",
    a.Download: "download",
    a.CreateLocalFolder: "create folder here",
    a.DeleteLocal: "delete here",
    a.MoveLocal: "move here",
}


@dataclass(frozen=True)
class Pending:
    """One change the next pass would make, and the bytes it moves (None: none, or not known yet)."""

    action: a.Action
    size_bytes: int | None

    @property
    def upward(self) -> bool:
        return isinstance(self.action, a.REMOTE_ACTIONS)

    def describe(self) -> str:
        what = _WHAT.get(type(self.action), type(self.action).__name__)
        if isinstance(self.action, a.MoveRemote | a.MoveLocal):
            where = f"{self.action.from_path} -> {self.action.to_path}"
        else:
            where = getattr(self.action, "path", "")
        size = "" if self.size_bytes is None else f"  ({size_text(self.size_bytes)})"
        return f"{what:<23} {where}{size}"


@dataclass(frozen=True)
class NotSynced:
    path: str
    reason: str
    recorded_s: float | None  # when the last pass recorded it (None: it did not)
    found_now: bool  # this look at the folder found it too

    def describe(self) -> str:
        recorded = None if self.recorded_s is None else f"at the last sync, {_clock(self.recorded_s)}"
        when = " and ".join(filter(None, [recorded, "now" if self.found_now else None]))
        return f"{shown(self.path)}: {self.reason} ({when})"


@dataclass(frozen=True)
class Status:
    folder: Path
    pending: Sequence[Pending]
    not_synced: Sequence[NotSynced]
    last_pass_s: float | None  # Unix time the last pass that ran to its end finished
    offline: str | None = None  # why the server could not be asked: remote changes as last seen
    notices: Sequence[str] = ()
    sync_running: bool = False

    @property
    def in_sync(self) -> bool:
        return not self.pending and not self.not_synced

    def describe(self, limit: int | None = 20, now_s: float | None = None) -> str:
        """Lines for a person; at most ``limit`` pending changes listed (None: all)."""
        ups = [p for p in self.pending if p.upward]
        downs = [p for p in self.pending if not p.upward]
        lines = [f"Folder: {self.folder}"]
        if self.in_sync:
            lines.append("In sync.")
        else:
            counts = [_count(ups, "upload"), _count(downs, "download")]
            if self.not_synced:
                counts.append(f"{len(self.not_synced)} item(s) cannot be synced")
            lines.append(f"Not in sync: {', '.join(counts)}.")
        if self.offline:
            lines.append(f"Server not reached ({self.offline}): remote changes as last seen.")
        lines += list(self.notices)
        running = " A `driftbox sync` is running with this home." if self.sync_running else ""
        lines.append(f"Last sync: {_when(self.last_pass_s, now_s)}.{running}")
        if self.pending:
            shown = list(self.pending if limit is None else self.pending[:limit])
            lines.append("Pending:")
            lines += [f"  {p.describe()}" for p in shown]
            if len(self.pending) > len(shown):
                more = len(self.pending) - len(shown)
                lines.append(f"  and {more} more (`driftbox status --all` lists them)")
        if self.not_synced:
            lines.append("Not synced:")
            lines += [f"  {problem.describe()}" for problem in self.not_synced]
        return "\n".join(lines)


def shown(path: str) -> str:
    """``path`` for a terminal: what does not print (a bidi override would reorder the line) escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in path)


def reason(message: str) -> str:
    """A problem's message without the "not synced: " its heading already says."""
    return message.removeprefix("not synced: ")


def size_text(size_bytes: int) -> str:
    """Decimal units, as file managers show them: 999 B, 1.2 kB, 34.0 MB."""
    if size_bytes < 1000:
        return f"{size_bytes} B"
    value = float(size_bytes)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def _count(pending: Sequence[Pending], direction: str) -> str:
    size_bytes = sum(p.size_bytes or 0 for p in pending)
    return f"{len(pending)} to {direction}" + (f" ({size_text(size_bytes)})" if pending else "")


def _clock(time_s: float) -> str:
    return dt.datetime.fromtimestamp(time_s).strftime("%Y-%m-%d %H:%M:%S")


def _when(time_s: float | None, now_s: float | None) -> str:
    if time_s is None:
        return "never finished (run `driftbox sync`)"
    ago_s = max(0, int((time.time() if now_s is None else now_s) - time_s))
    ago = f"{ago_s} s" if ago_s < 120 else f"{ago_s // 60} min" if ago_s < 7200 else f"{ago_s // 3600} h"
    return f"finished {_clock(time_s)} ({ago} ago)"
