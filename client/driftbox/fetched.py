"""The server's tree as a pass reads it: what a fetch of the journal (or a whole listing) brought,
the pull that saves it to the index, and the index seen through it (``Look``, the
``core.scope.Outside`` a plan reads); ``status`` plans on a fetch without saving anything."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftbox import errors
from driftbox.adapters.api import Api
from driftbox.adapters.index import Index
from driftbox.core import journal, paths
from driftbox.core.model import Item, Tree


@dataclass
class Fetched:
    tree: dict[str, Item]  # the remote tree at the keys the journal named; after a listing, all of it
    files: dict[str, journal.RemoteFile]
    cursor: str | None
    seq: int | None  # the journal seq the cursor stands at (cursor_seq)
    before: dict[str, Item] | None  # the saved tree at those keys; None for a whole listing
    reset: bool = False  # the server no longer knew the saved cursor
    unusable: dict[str, journal.Unusable] = field(default_factory=dict)  # held paths, by key

    def changed(self) -> set[str]:
        """The keys the journal moved on (after a listing: every key)."""
        if self.before is None:
            return set(self.tree)
        return {k for k in self.before.keys() | self.tree.keys() if self.before.get(k) != self.tree.get(k)}


def named_keys(pages: Iterable[Mapping[str, object]]) -> set[str]:
    """Every key the journal's entries name (their paths, and where moves came from)."""
    named: set[str] = set()
    for page in pages:
        entries = page.get("entries")
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict):
                for field_name in ("path", "from_path"):
                    value = entry.get(field_name)
                    if isinstance(value, str):
                        with contextlib.suppress(ValueError):  # a bad path is held by its text
                            named.add(paths.key(value))
    return named


def fetch(api: Api, index: Index, namespace_id: str) -> Fetched:
    """The server's tree now: the saved one moved on by the journal since the cursor (read and kept
    at the keys the journal names only), or a whole listing (no cursor yet, or the server forgot
    it). Saves nothing."""
    cursor = index.cursor()
    fetched = _journal_since(api, index, namespace_id, cursor) if cursor is not None else None
    if fetched is not None:
        return fetched
    fetched = Fetched({}, {}, None, None, None, reset=cursor is not None)
    for page in api.pages(namespace_id):
        journal.apply(fetched.tree, fetched.files, page["entries"], fetched.unusable)
        fetched.cursor, fetched.seq = page["cursor"], page.get("cursor_seq")
    return fetched


def _journal_since(api: Api, index: Index, namespace_id: str, cursor: str) -> Fetched | None:
    """The saved tree at the keys the journal names since ``cursor``, moved on by it; None when the
    server no longer knows the cursor."""
    try:
        return _moved_on(index, list(api.pages(namespace_id, cursor)))
    except errors.CursorReset:
        return None


def _moved_on(index: Index, pages: list[dict[str, Any]]) -> Fetched:
    """The saved tree at the keys these journal pages name (and the held ones), moved on by them."""
    unusable = index.load_unusable()
    named = named_keys(pages) | set(unusable)
    before, files = index.remote_items(named), index.remote_files_of(named)
    tree = dict(before)
    for page in pages:
        journal.apply(tree, files, page["entries"], unusable)
    last = pages[-1]
    return Fetched(tree, files, last["cursor"], last.get("cursor_seq"), before, unusable=unusable)


def pull(api: Api, index: Index, namespace_id: str) -> bool:
    """Bring the saved remote tree and cursor up to the server; whether the server had forgotten
    the cursor (a reset: the synced tree is forgotten too, so that both sides merge and nothing is
    deleted).

    The journal since the cursor is saved a page at a time, each page with the cursor after it in
    one transaction: no more of it is held than a page, and a pull cut short keeps what it saved,
    the next one going on from its cursor. (A page may end inside a commit: the pass that pulled
    stops there, and no plan is made of a tree a pull left half way.)
    """
    cursor = index.cursor()
    if cursor is not None:
        try:
            for page in api.pages(namespace_id, cursor):
                _save_page(index, page)
            return False
        except errors.CursorReset:
            pass
    _pull_listing(api, index, namespace_id, reset=cursor is not None)
    return cursor is not None


def _save_page(index: Index, page: dict[str, Any]) -> None:
    """One page of the journal, applied to the saved tree at the keys it names."""
    fetched = _moved_on(index, [page])
    before = fetched.before or {}
    with index.transaction() as tx:
        for path_key in before.keys() - fetched.tree.keys():
            tx.delete_remote(path_key)
        tx.put_remote_many(
            (k, item, fetched.files.get(k)) for k, item in fetched.tree.items() if before.get(k) != item
        )
        tx.mark_remote_changed(fetched.changed())
        tx.replace_unusable(fetched.unusable)
        tx.set_cursor(fetched.cursor, fetched.seq)


def _pull_listing(api: Api, index: Index, namespace_id: str, *, reset: bool) -> None:
    """The whole remote tree, saved page by page as the listing arrives (no more of it in memory
    than a page), in one transaction: a listing cut short saves nothing."""
    unusable: dict[str, journal.Unusable] = {}
    with index.transaction() as tx:
        tx.clear_remote()
        if reset:
            tx.clear_synced()
        for page in api.pages(namespace_id):
            tree: dict[str, Item] = {}
            files: dict[str, journal.RemoteFile] = {}
            journal.apply(tree, files, page["entries"], unusable)  # a listing names each key once
            tx.put_remote_many((k, item, files.get(k)) for k, item in tree.items())
            tx.mark_remote_changed(tree)
            cursor, seq = page["cursor"], page.get("cursor_seq")
        tx.mark_synced_changed()
        tx.replace_unusable(unusable)
        tx.set_cursor(cursor, seq)


class Look:
    """The trees a plan reads (``scope.Outside``): the index, seen through what a fetch brought but
    did not save (``status`` saves nothing), and without the synced tree after a reset."""

    def __init__(self, index: Index, fetched: Fetched | None = None, *, forget_synced: bool = False) -> None:
        self.index = index
        self.fetched = fetched
        self.forget_synced = forget_synced
        whole = fetched is not None and fetched.before is None
        self._whole: Tree | None = fetched.tree if whole and fetched is not None else None
        self._sorted = sorted(self._whole) if self._whole is not None else []

    def keys_below(self, path_key: str) -> Iterable[str]:
        if self._whole is not None:
            low, high = path_key + "/", path_key + "0"  # "0" follows "/": the keys below, in order
            below = set(
                self._sorted[bisect.bisect_left(self._sorted, low) : bisect.bisect_left(self._sorted, high)]
            )
            return below if self.forget_synced else below | set(self.index.keys_below(path_key))
        keys = set(self.index.keys_below(path_key))
        if self.fetched is not None:
            keys |= {k for k in self.fetched.tree if paths.is_within(k, path_key)}
        return keys

    def synced_items(self, keys: Collection[str]) -> dict[str, Item]:
        return {} if self.forget_synced else self.index.synced_items(keys)

    def remote_items(self, keys: Collection[str]) -> dict[str, Item]:
        if self._whole is not None:
            return {k: self._whole[k] for k in keys if k in self._whole}
        items = self.index.remote_items(keys)
        if self.fetched is not None and self.fetched.before is not None:
            for k in self.fetched.before.keys() - self.fetched.tree.keys():
                items.pop(k, None)
            items.update({k: v for k, v in self.fetched.tree.items() if k in keys})
        return items

    def taken(self, path_key: str) -> bool:
        if self._whole is not None:
            return path_key in self._whole or (not self.forget_synced and self.index.taken(path_key))
        return self.index.taken(path_key) or (self.fetched is not None and path_key in self.fetched.tree)

    def synced_count(self) -> int:
        return 0 if self.forget_synced else self.index.synced_count()

    def remote_changed(self) -> set[str]:
        """The keys where the remote tree (with what was fetched) is not the synced one."""
        if self._whole is not None and self.forget_synced:
            return set(self._whole)
        changed = self.index.remote_changed_keys()
        return changed | self.fetched.changed() if self.fetched is not None else changed
