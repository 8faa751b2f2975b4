"""ListObjectsV2 in time proportional to the page, not to the bucket.

The backend lists a namespace's chunk keys to verify many chunks at once (``blobs.stored_sizes``):
S3 prices a page of 1,000 keys as 12.5 HEADs and answers it from its index. moto instead walks
every key of the bucket, sorts the matches and skips to the start, then writes the XML through
botocore's generic serializer: a page of 1,000 keys cost about 60 ms of the emulator's one core,
as much as 60 HEADs, and grew with the bucket. Two changes bring it back in line:

- the bucket's key names are kept sorted as they are written (``s3_names``), and a page is found
  by bisection;
- the answer's XML is written directly (same elements, same escaping).

Listings with a delimiter keep moto's own code.
"""

from __future__ import annotations

import bisect
import functools
import threading
import weakref
from typing import Any
from xml.sax.saxutils import escape

from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend
from moto.s3.responses import S3Response

from infra.local import s3_names
from infra.local.moto_patches import require_written_for
from infra.local.s3_names import SortedKeyStore

_LOCK = threading.Lock()


class _SortedNames:
    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self.ordered: list[str] = []


_CACHE: weakref.WeakKeyDictionary[Any, _SortedNames] = weakref.WeakKeyDictionary()


def _sorted_names(bucket: Any) -> list[str]:
    with _LOCK:
        cached = _CACHE.setdefault(bucket, _SortedNames())
        if cached.names != dict.keys(bucket.keys):
            cached.names = frozenset(dict.keys(bucket.keys))
            cached.ordered = sorted(cached.names)
        return cached.ordered


def _names_from(bucket: Any, low: str, after: str | None, count: int) -> list[str]:
    """Up to ``count`` of the bucket's names in order, from the first at or past ``low``, past ``after``."""
    if isinstance(bucket.keys, SortedKeyStore):
        return bucket.keys.names_from(low, after, count)
    names = _sorted_names(bucket)  # a bucket made before install: sorted whenever its names change
    start = bisect.bisect_left(names, low)
    if after is not None:
        start = max(start, bisect.bisect_right(names, after))
    return names[start : start + count]


def _page(bucket: Any, prefix: str, after: str | None, max_keys: int) -> list[Any]:
    """Up to ``max_keys + 1`` live keys under ``prefix``, in name order, after ``after``."""
    found: list[Any] = []
    while len(found) <= max_keys:
        names = _names_from(bucket, prefix, after, max_keys + 1 - len(found))
        for name in names:
            if not name.startswith(prefix):
                return found
            key = bucket.keys.get(name)  # the latest version; None if deleted meanwhile
            if key is not None and not isinstance(key, FakeDeleteMarker):
                found.append(key)
        if not names:
            break
        after = names[-1]  # deleted names (markers) took places: the next few after the last seen
    return found


def install() -> None:
    """Replace moto's ListObjectsV2 (without a delimiter) by the indexed one, and its XML writer."""
    require_written_for()
    s3_names.install()
    original = S3Backend.list_objects_v2
    if getattr(original, "_driftbox_indexed", False):
        return

    @functools.wraps(original)
    def list_objects_v2(
        self: S3Backend,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        if delimiter or isinstance(bucket, FakeTableStorageBucket) or (continuation_token and after is None):
            return original(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        return self._truncate_result(_page(bucket, prefix or "", after, max_keys), max_keys)

    list_objects_v2._driftbox_indexed = True  # type: ignore[attr-defined]
    S3Backend.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]
    _install_writer()


def _xml(name: str, value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for each in value:
            _xml(name, each, out)
        return
    out.append(f"<{name}>")
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml(key, inner, out)
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    else:
        out.append(escape(str(value)))
    out.append(f"</{name}>")


def listing_xml(result: dict[str, Any]) -> str:
    """The ListBucketResult document for ListObjectsV2's ``result`` (moto's dict of it)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    ]
    for key, value in result.items():
        _xml(key, value, out)
    out.append("</ListBucketResult>")
    return "".join(out)


def _install_writer() -> None:
    original = S3Response.serialized
    if getattr(original, "_driftbox_direct", False):
        return

    @functools.wraps(original)
    def serialized(self: S3Response, action_result: Any) -> Any:
        result = getattr(action_result, "result", None)
        if self.data.get("Action") != "ListObjectsV2" or not isinstance(result, dict):
            return original(self, action_result)
        return 200, {"Content-Type": "application/xml", **self.response_headers}, listing_xml(result)

    serialized._driftbox_direct = True  # type: ignore[attr-defined]
    S3Response.serialized = serialized  # type: ignore[method-assign,assignment]
