"""How much a plan moves: the size of each transfer, and the bar a terminal shows while they run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

from driftbox.core import actions as a
from driftbox.core import paths
from driftbox.core.model import Item


def pending_size(action: a.Action, local: Mapping[str, Item]) -> int | None:
    if isinstance(action, a.Download):
        return action.size
    if isinstance(action, a.Upload):
        item = local.get(paths.key(action.path))
        return item.size if item is not None else None  # a conflicted copy not made yet
    return None


@contextlib.contextmanager
def transfer_bar(work: Sequence[a.Action], local: Mapping[str, Item]) -> Iterator[Callable[[int], None]]:
    """A transfer bar on a terminal, for passes that move files; elsewhere nothing.

    Its total is the size of the files to move; chunks the server or the folder already holds are
    not sent, so it may end short of it.
    """
    moving = [x for x in work if isinstance(x, a.Upload | a.Download)]
    if not moving or not sys.stdout.isatty():
        yield lambda size: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TransferSpeedColumn,
    )

    total = sum(pending_size(x, local) or 0 for x in moving)
    columns = (
        SpinnerColumn(),
        TextColumn(f"{len(moving)} file(s)"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("transfer", total=total or None)
        yield lambda size: bar.advance(task, size)
