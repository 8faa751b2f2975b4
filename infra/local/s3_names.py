"""Each bucket's key names kept in sorted order as they are written, for listings to bisect.

moto keeps a bucket's keys in a dict of name to versions (``_VersionedKeyStore``) and sorts the
names afresh for every listing; the emulator's listing (``s3_listing``) sorted them again whenever
the set of names had changed, which after every upload meant a comparison of every name and a
sort of them all: O(n log n) per listing after a PUT. ``SortedKeyStore`` is moto's store with the
names also in a sorted list: a write of a new name inserts it by bisection (one memmove of the
list's pointers), a removal takes it out the same way, and any other change (none that moto
5.2.5 makes) has the list sorted again when next read. ``install`` gives every new bucket one.
"""

from __future__ import annotations

import bisect
import functools
import threading
from typing import Any

from moto.s3.models import FakeBucket
from moto.s3.utils import _VersionedKeyStore

from infra.local.moto_patches import require_written_for


class SortedKeyStore(_VersionedKeyStore):
    """moto's store of a bucket's keys (name to versions), with the names also in sorted order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._ordered: list[str] | None = None

    def names_from(self, low: str, after: str | None, count: int) -> list[str]:
        """Up to ``count`` names, in order, from the first at or past ``low`` and past ``after``."""
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(dict.keys(self))
            names = self._ordered
            start = bisect.bisect_left(names, low)
            if after is not None:
                start = max(start, bisect.bisect_right(names, after))
            return names[start : start + count]  # a copy: writers may insert meanwhile

    def __setitem__(self, key: str, value: Any) -> Any:
        with self._lock:
            new = not dict.__contains__(self, key)
            super().__setitem__(key, value)
            if new and self._ordered is not None:
                bisect.insort(self._ordered, key)

    def setlist(self, key: Any, list_: Any) -> Any:
        with self._lock:
            new = not dict.__contains__(self, key)
            super().setlist(key, list_)
            if new and self._ordered is not None:
                bisect.insort(self._ordered, key)

    def pop(self, key: str) -> None:  # type: ignore[override]
        with self._lock:
            super().pop(key)
            self._drop(key)

    def __delitem__(self, key: str) -> None:
        with self._lock:
            super().__delitem__(key)
            self._drop(key)

    def _drop(self, key: str) -> None:
        if self._ordered is not None:
            del self._ordered[bisect.bisect_left(self._ordered, key)]

    def _forget(self, result: Any) -> Any:
        self._ordered = None  # sorted again when next read
        return result

    def update(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._forget(super().update(*args, **kwargs))

    def setdefault(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._forget(super().setdefault(key, default))

    def popitem(self) -> tuple[str, Any]:
        with self._lock:
            return self._forget(super().popitem())  # type: ignore[no-any-return]

    def clear(self) -> None:
        with self._lock:
            self._forget(super().clear())


def install() -> None:
    """Give every bucket made from now on a ``SortedKeyStore``."""
    require_written_for()
    original = FakeBucket.__init__
    if getattr(original, "_driftbox_sorted", False):
        return

    @functools.wraps(original)
    def __init__(self: FakeBucket, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if type(self.keys) is _VersionedKeyStore and not dict.__len__(self.keys):
            self.keys = SortedKeyStore()

    __init__._driftbox_sorted = True  # type: ignore[attr-defined]
    FakeBucket.__init__ = __init__  # type: ignore[method-assign]
