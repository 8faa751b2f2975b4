"""`chalice local` for working on the backend: its REST API against `make run`'s data, restarted
whenever the app's source changes.

python -m infra.local.develop [--stage local] [--host 127.0.0.1] [--port 8010] [--no-autoreload]

The `local` stage of .chalice/config.json points the app at the stack `make run` serves (its
emulator on port 5000, its WebSocket gateway on 8001, the dev stage's tables, bucket and queues),
so what this serves and what `make run` serves share every account and file.

Why not plain `chalice local --stage local`: chalice 1.34's reloader restarts the server on every
watchdog event under the project folder, and watchdog (since 2.3, on inotify) reports a file
opened, or closed unwritten, as an event. Every import opens files (the app's, and .venv's, which
is in the folder), as does each handler's first call (chalicelib/lazy.py), and `make run` writes
.local-data/ there: so it restarts in a loop, dropping requests. This is the same server, built by
chalice's own `create_local_server` with the stage's environment, under chalice's own parent and
worker processes; only the watcher differs: it watches app.py, chalicelib/ and .chalice/, for files
written, created, deleted or moved. (Written against chalice 1.34's `chalice.cli.reloader`.)
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from chalice.cli import create_local_server, reloader
from chalice.cli.factory import CLIFactory
from chalice.cli.filewatch import WorkerProcess
from watchdog import events
from watchdog.observers import Observer

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The folders of the app's source (app.py, chalicelib/, .chalice/config.json), and which to watch
# all the way down: not the project folder, which holds .venv and .local-data.
WATCHED = {".": False, "chalicelib": True, ".chalice": False}
SOURCE_SUFFIXES = (".py", ".json")
# Changes only: no event for a file opened, or closed unwritten.
CHANGES = [
    events.FileCreatedEvent,
    events.FileModifiedEvent,
    events.FileClosedEvent,
    events.FileDeletedEvent,
    events.FileMovedEvent,
]


def is_source_change(event: events.FileSystemEvent) -> bool:
    """A source file of the app written, created, deleted or moved (not its bytecode cache)."""
    if event.is_directory:
        return False
    paths = [Path(os.fsdecode(p)) for p in (event.src_path, event.dest_path) if p]
    return any(p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts for p in paths)


class _Restarter(events.FileSystemEventHandler):
    def __init__(self, restart: threading.Event) -> None:
        self.restart = restart

    def on_any_event(self, event: events.FileSystemEvent) -> None:
        if is_source_change(event):
            self.restart.set()


class SourceWatchingWorker(WorkerProcess):
    """Chalice's worker process (it serves, and exits to be restarted), watching the source alone."""

    def _start_file_watcher(self, project_dir: str) -> None:
        handler = _Restarter(self._restart_event)
        observer = Observer()
        for folder, recursive in WATCHED.items():
            observer.schedule(
                handler, str(Path(project_dir, folder)), recursive=recursive, event_filter=CHANGES
            )
        observer.daemon = True
        observer.start()


def _worker(argv: list[str], env: Any) -> subprocess.Popen[bytes]:
    """How chalice's parent process starts each worker: this module again, with its arguments."""
    return subprocess.Popen([sys.executable, "-m", __spec__.name, *argv[1:]], env=env)  # noqa: S603


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.develop", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--stage", default="local", help="the Chalice stage to serve (default local)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010, help="REST API port (default 8010)")
    parser.add_argument(
        "--no-autoreload", dest="autoreload", action="store_false", help="serve without watching"
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    project_dir = str(args.project_dir.resolve())
    # As `chalice local` does: the app's log lines on stdout, as Lambda would show them.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    factory = CLIFactory(project_dir, environ=os.environ)
    serve = functools.partial(create_local_server, factory, args.host, args.port, args.stage)
    try:
        if not args.autoreload:
            serve().serve_forever()
        elif os.environ.get("CHALICE_WORKER"):
            sys.exit(reloader.start_worker_process(serve, project_dir, SourceWatchingWorker))
        else:
            reloader.ParentProcess(os.environ, _worker).main()  # type: ignore[arg-type]  # it only calls it
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
