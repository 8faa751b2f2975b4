"""Which of a run of actions may be committed: the longest prefix whose files are all on the server.

The executor sends a run's chunks and commits its ops at the same time, in two threads: a commit
takes whatever prefix of the run is ready when the previous commit returns (at most ``most`` ops),
so the server is committing one part while the next part's bytes are on their way, and each commit
is as large as the time it waited allows. Ops are committed in plan order (a folder before what is
in it, a move before what takes its old place), so a file whose chunks arrive early waits for the
ones before it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable


class Frontier:
    """Actions 0..n-1 become resolved (ready, or given up on) in any order; commits take prefixes.

    Every ``needs`` comes before the first ``stored``: a chunk stored before an action said it
    needs it is not remembered.
    """

    def __init__(self, count: int) -> None:
        self._count = count
        self._resolved = [False] * count
        self._end = 0  # every action before it is resolved
        self._changed = threading.Condition()
        self._waiting_on: dict[Hashable, set[int]] = {}  # a chunk -> the actions still waiting on it
        self._needs: dict[int, int] = {}  # an action -> how many of its chunks are not stored yet

    def needs(self, action: int, chunks: Iterable[Hashable]) -> None:
        """Action ``action`` is ready once all of ``chunks`` are stored; with none, it is ready now."""
        with self._changed:
            wanted = set(chunks)
            for chunk in wanted:
                self._waiting_on.setdefault(chunk, set()).add(action)
            self._needs[action] = len(wanted)
            if not wanted:
                self._resolve(action)

    def stored(self, chunk: Hashable) -> None:
        with self._changed:
            for action in self._waiting_on.pop(chunk, ()):
                self._needs[action] -= 1
                if self._needs[action] == 0:
                    self._resolve(action)

    def resolve(self, action: int) -> None:
        """Nothing more will happen to ``action``: ready, or given up on (the caller knows which)."""
        with self._changed:
            self._resolve(action)

    def waiting(self) -> list[int]:
        """The actions still waiting for a chunk."""
        with self._changed:
            return sorted(action for action, count in self._needs.items() if count > 0)

    def close(self) -> None:
        """Every action is resolved: the sending is over, whatever it achieved."""
        with self._changed:
            for action in range(self._end, self._count):
                self._resolve(action)

    def wait_past(self, start: int, most: int, least: int = 1) -> int:
        """Block until ``least`` actions from ``start`` on are resolved with all before them (or all
        the rest are); return the end of the ready prefix from ``start``, at most ``most`` long."""
        with self._changed:
            while self._end < min(start + least, self._count):
                self._changed.wait()
            return min(self._end, start + most)

    def _resolve(self, action: int) -> None:
        if self._resolved[action]:
            return
        self._resolved[action] = True
        while self._end < self._count and self._resolved[self._end]:
            self._end += 1
        self._changed.notify_all()
