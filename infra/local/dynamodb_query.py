"""moto's DynamoDB Query, answered from the queried partition's page, not from the whole table.

moto answers every Query by sorting every item of the table (``Table.all_items``), keeping the
queried partition's, sorting those, and walking them from the first, skipping up to the
ExclusiveStartKey: a page of one namespace's journal cost as much as every namespace's. moto's
own ``Table.query`` still answers here (key conditions, Limit and the 1 MB page, the
LastEvaluatedKey, filters, projections, Select, its errors), but the items it walks are only those
its answer can depend on, handed to it in place of ``all_items`` (``_NARROWED``):

- A query of the table: the page and the item after it. Each partition of a table with a range
  key keeps its range keys sorted (``Partition``, a dict that inserts a new key by bisection), so
  the first item after the ExclusiveStartKey (moto's own test, bisected: it is true of a prefix)
  and the block of keys the range condition can match (bisected on the bounds moto compares with)
  are found in O(log n). Walking the block, moto stops at the item after its Limit. After the block
  nothing matches; moto still looks at each item left, for the 1 MB limit, so those are handed to
  it too when the page already holds more than 1 MB less one item's 405 KB limit.
- A query of a secondary index: the items whose index hash key has the queried value, found in
  an index of the table kept up to date on put, delete and update (``dynamodb_index``), which
  moto sorts and walks as before: proportional to the matching items, not to the page.

Anything else (legacy QueryFilter, multi-attribute keys, a Limit below one, a partition dict made
elsewhere, an error while narrowing) goes to moto's walk as it comes. The tests hold the two to
the same answers over random tables and queries.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

from infra.local import dynamodb_index
from infra.local.moto_patches import require_written_for

_LARGEST_ITEM = 405_000  # moto's item size limit (LimitedSizeDict), in its own measure (Item.size)
_NARROWED = threading.local()  # (table, items) while moto's query runs on a narrowed list


class Partition(dict[DynamoType, Item]):
    """One hash key's items by range key, with the range keys also kept in sorted order."""

    def __init__(self, items: Iterable[tuple[DynamoType, Item]] = ()) -> None:
        super().__init__(items)
        self._ordered: list[DynamoType] | None = None

    def ordered(self) -> list[DynamoType]:
        """The range keys in moto's order (``DynamoType.__lt__``, as its query sorts them)."""
        if self._ordered is None:
            self._ordered = sorted(self)
        return self._ordered

    def __setitem__(self, key: DynamoType, value: Item) -> None:
        if self._ordered is not None and key not in self:
            bisect.insort(self._ordered, key)
        super().__setitem__(key, value)

    def __delitem__(self, key: DynamoType) -> None:
        super().__delitem__(key)
        self._drop(key)

    def pop(self, key: DynamoType, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        value = super().pop(key)
        self._drop(key)
        return value

    def _drop(self, key: DynamoType) -> None:
        if self._ordered is not None:
            del self._ordered[bisect.bisect_left(self._ordered, key)]

    def _forget(self, result: Any) -> Any:
        self._ordered = None  # any other change: sorted again when next asked
        return result

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._forget(super().update(*args, **kwargs))

    def setdefault(self, key: DynamoType, default: Any = None) -> Any:
        return self._forget(super().setdefault(key, default))

    def popitem(self) -> tuple[DynamoType, Item]:
        return self._forget(super().popitem())  # type: ignore[no-any-return]

    def clear(self) -> None:
        self._forget(super().clear())

    def __ior__(self, other: Any) -> Partition:  # type: ignore[override,misc]
        return self._forget(super().__ior__(other))  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return Partition, (list(self.items()),)  # copies and pickles sort their own keys


def _first_false(count: int, holds: Callable[[int], bool]) -> int:
    """The first of ``0..count`` where ``holds`` (true of a prefix) is false; ``count`` if none."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _block(keys: list[DynamoType], comparison: str | None, values: list[DynamoType]) -> tuple[int, int]:
    """The keys ``keys[lo:hi]`` that can meet the range condition; none outside do."""
    if not comparison:
        return 0, len(keys)
    bounds = [value.cast_value for value in values]

    def cast(key: DynamoType) -> Any:
        return key.cast_value

    def left(bound: Any) -> int:
        return bisect.bisect_left(keys, bound, key=cast)

    def right(bound: Any) -> int:
        return bisect.bisect_right(keys, bound, key=cast)

    if comparison == "=":
        return left(bounds[0]), right(bounds[0])
    if comparison == "<":
        return 0, left(bounds[0])
    if comparison == "<=":
        return 0, right(bounds[0])
    if comparison == ">":
        return right(bounds[0]), len(keys)
    if comparison == ">=":
        return left(bounds[0]), len(keys)
    if comparison == "BETWEEN":
        lo = left(bounds[0])
        return lo, max(lo, right(bounds[1]))
    if comparison == "BEGINS_WITH" and isinstance(bounds[0], str | bytes):
        prefix = bounds[0]
        lo = left(prefix)  # every key with the prefix sorts at or after it, and they sort together
        past = bisect.bisect_left(keys, True, lo=lo, key=lambda key: not key.cast_value.startswith(prefix))
        return lo, past
    raise LookupError(comparison)  # moto's walk decides


def _page_of_partition(
    table: Table,
    partition: Partition,
    comparison: str | None,
    values: list[DynamoType],
    limit: int | None,
    start_key: dict[str, Any] | None,
    forward: bool,
) -> list[Item]:
    """The items of ``partition`` moto's walk of a table query can look at, in key order."""
    keys = partition.ordered()
    count = len(keys)
    lo, hi = _block(keys, comparison, values)
    # In scan order: position p is keys[p] forward, keys[count - 1 - p] backward.
    at: Callable[[int], int] = (lambda p: p) if forward else (lambda p: count - 1 - p)
    skipped = 0
    if start_key is not None:
        names = ([table.hash_key_attr], [table.range_key_attr])
        skipped = _first_false(
            count, lambda p: table._item_comes_before_dct(partition[keys[at(p)]], start_key, *names, forward)
        )
    block_start, block_end = (lo, hi) if forward else (count - hi, count - lo)
    first = max(block_start, skipped)
    wanted = count if limit is None else limit + 1  # moto stops at the item after its Limit
    taken = list(range(first, min(block_end, first + wanted)))
    if len(taken) < wanted:  # the block ended: moto looks on, for its Limit and its 1 MB
        rest = range(max(block_end, first), count)
        page_size = sum(partition[keys[at(p)]].size() for p in taken)
        taken.extend(rest if page_size > RESULT_SIZE_LIMIT - _LARGEST_ITEM else rest[:1])
    return [partition[keys[i]] for i in sorted(at(p) for p in taken)]


def _window(table: Table, args: dict[str, Any]) -> list[Item] | None:
    """What to hand moto's query in place of ``all_items``; None for moto's own walk."""
    limit = args["limit"]
    if args["filter_kwargs"] or (limit is not None and limit < 1):
        return None
    range_conditions = args["range_key_conditions"] or []
    if args["index_name"]:
        hash_conditions = args["hash_key_conditions"] or []
        return dynamodb_index.candidates(table, args["index_name"], hash_conditions, range_conditions)
    hash_key = args["hash_key"]
    if hash_key is None or len(range_conditions) > 1:
        return None
    partition: Any = table.items.get(hash_key)
    if partition is None:
        return []
    if not table.has_range_key:
        return [partition]
    if type(partition) is not Partition:
        return None
    return _page_of_partition(
        table,
        partition,
        args["range_comparison"],
        args["range_objs"],
        limit,
        args["exclusive_start_key"],
        args["scan_index_forward"] is not False,
    )


def _narrow_queries() -> None:
    original_query = Table.query
    if getattr(original_query, "_driftbox_narrowed", False):
        return
    original_all_items = Table.all_items
    original_init = Table.__init__

    @functools.wraps(original_all_items)
    def all_items(self: Table) -> list[Item]:
        narrowed = getattr(_NARROWED, "items", None)
        if narrowed is not None and narrowed[0] is self:
            return list(narrowed[1])
        return original_all_items(self)

    @functools.wraps(original_init)
    def __init__(self: Table, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.range_key_attr is not None and not self.items:
            self.items = defaultdict(Partition)

    @functools.wraps(original_query)
    def query(
        self: Table,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        args = dict(locals())
        del args["self"]

        def answer() -> tuple[list[Item], int, dict[str, Any] | None]:
            return original_query(  # type: ignore[no-any-return]
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        try:
            window = _window(self, args)
        except Exception:  # moto's walk answers, or reports the error itself
            window = None
        if window is None:
            return answer()
        _NARROWED.items = (self, window)
        try:
            return answer()
        finally:
            _NARROWED.items = None

    all_items._driftbox_narrowed = True  # type: ignore[attr-defined]
    query._driftbox_narrowed = True  # type: ignore[attr-defined]
    __init__._driftbox_narrowed = True  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.__init__ = __init__  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def install() -> None:
    require_written_for()
    _narrow_queries()
    dynamodb_index.install()
