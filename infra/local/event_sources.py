"""What every local event source shares: a set of daemon threads, one per source, started and
stopped together, with a grace period at stop for handlers still running."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol, Self


class Worker(Protocol):
    """One source's thread and what it serves."""

    thread: threading.Thread
    source: Any


class Workers:
    """Subclasses make one worker per source in ``_workers_for`` and say what an overrun means."""

    what = "event sources"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._workers: list[Worker] = []

    def _workers_for(self, stopping: threading.Event) -> list[Worker]:
        raise NotImplementedError

    def _overran(self, worker: Worker) -> None:
        """Called at stop for a worker whose handler outlived the grace period."""

    @property
    def sources(self) -> list[Any]:
        return [worker.source for worker in self._workers]

    @property
    def running(self) -> bool:
        """True while any worker thread, or a handler it left running at stop, is still running."""
        return any(worker.thread.is_alive() for worker in self._workers)

    def start(self) -> Self:
        if self.running:
            raise RuntimeError(f"{self.what} already started")
        self._stopping = threading.Event()
        self._workers = self._workers_for(self._stopping)
        for worker in self._workers:
            worker.thread.start()
        return self

    def stop(self, grace_s: float = 2.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + grace_s
        for worker in self._workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                self._overran(worker)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
