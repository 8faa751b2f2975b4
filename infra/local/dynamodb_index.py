"""A table's items by the value of a secondary index's hash key, kept up to date as moto writes them.

moto finds the items of a secondary index's query by sorting every item of the table
(``dynamodb_query`` explains how its Query is narrowed). ``candidates`` gives it those with the
queried hash key instead, from an index per table and attribute, built at the first query by one
walk of the table and kept from then on: every put and delete of an item (``Table.put_item``,
``Table.delete_item``: items, batches, transactions and their rollbacks all come through them)
files it anew, and so does every UpdateItem, which moto applies to the stored item in place
(``DynamoDBBackend.update_item``, also a transaction's Update). PartiQL statements change items
in place by paths of their own: after one, the indexes are built again. The candidates are
checked again, item by item, so a stale entry cannot answer; a missing one could, which is why
every write path above is held to moto's answers by the tests.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import defaultdict
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from infra.local.moto_patches import require_written_for


class _IndexedItems:
    """A table's items by the value of one attribute (a secondary index's hash key)."""

    def __init__(self, table: Table, attribute: str) -> None:
        self.attribute = attribute
        self.by_value: defaultdict[DynamoType, dict[tuple[Any, Any], Item]] = defaultdict(dict)
        self.value_of: dict[tuple[Any, Any], DynamoType] = {}
        stored: Any
        for stored in table.items.values():
            for item in stored.values() if table.has_range_key else [stored]:
                self.put(item)

    def put(self, item: Item) -> None:
        key = (item.hash_key, item.range_key)
        self.remove(key)
        value = item.attrs.get(self.attribute)
        if value:  # moto's walk passes over an item without it, or with an empty one
            self.by_value[value][key] = item
            self.value_of[key] = value

    def remove(self, key: tuple[Any, Any]) -> None:
        value = self.value_of.pop(key, None)
        if value is not None:
            found = self.by_value[value]
            found.pop(key, None)
            if not found:
                del self.by_value[value]


_INDEXES: weakref.WeakKeyDictionary[Table, dict[str, _IndexedItems]] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.RLock()


def _indexed(table: Table, attribute: str) -> _IndexedItems:
    with _INDEX_LOCK:
        by_attribute = _INDEXES.setdefault(table, {})
        if attribute not in by_attribute:
            by_attribute[attribute] = _IndexedItems(table, attribute)
        return by_attribute[attribute]


def _reindex(table: Table, key: tuple[Any, Any]) -> None:
    """After a write of ``key``: each of the table's indexes files its item anew."""
    with _INDEX_LOCK:
        indexes = _INDEXES.get(table, {}).values()
        item = _stored(table, key) if indexes else None
        for indexed in indexes:
            indexed.remove(key)
            if item is not None:
                indexed.put(item)


def _stored(table: Table, key: tuple[Any, Any]) -> Item | None:
    """The item stored under ``key``, looked up without adding a partition (moto's get_item does)."""
    stored: Any = table.items.get(key[0])
    if stored is None or not table.has_range_key:
        return stored  # type: ignore[no-any-return]
    return stored.get(key[1])  # type: ignore[no-any-return]


def _forget_indexes(table: Table) -> None:
    with _INDEX_LOCK:
        _INDEXES.pop(table, None)


def candidates(
    table: Table, index_name: str, hash_conditions: list[tuple[str, DynamoType]], range_conditions: list[Any]
) -> list[Item]:
    """The items a query of a secondary index can answer with: those with the queried hash key."""
    index = table.get_index(index_name)
    hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1 or len(hash_conditions) != 1 or len(range_conditions) > 1:
        raise LookupError(index_name)  # multi-attribute keys: moto's walk
    attribute, value = hash_conditions[0]
    if attribute != hashes[0]:
        raise LookupError(attribute)
    found = _indexed(table, attribute).by_value.get(value, {})
    # Checked again, item by item, as moto's walk checks them (a stale entry cannot slip in).
    return [item for item in found.values() if item.attrs.get(attribute) == value]


def _after_update(backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
    try:
        table = backend.get_table(table_name)
    except Exception:  # moto refused the table itself: nothing was changed
        return
    try:
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        _reindex(table, (DynamoType(key[table.hash_key_attr]), range_value))
    except Exception:  # a key moto refused: start the table's indexes over
        _forget_indexes(table)


def install() -> None:
    """Every write moto makes to an item files it anew in the indexes ``candidates`` reads."""
    require_written_for()
    original_put, original_delete = Table.put_item, Table.delete_item
    if getattr(original_put, "_driftbox_indexed", False):
        return

    @functools.wraps(original_put)
    def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
        item = original_put(self, *args, **kwargs)
        _reindex(self, (item.hash_key, item.range_key))
        return item

    @functools.wraps(original_delete)
    def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = original_delete(self, hash_key, range_key)
        _reindex(self, (hash_key, range_key))
        return item

    original_update = DynamoDBBackend.update_item

    @functools.wraps(original_update)
    def update_item(
        self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Item:
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:  # moto changes the item in place, and may have before refusing
            _after_update(self, table_name, key)

    def forgetting(original: Any) -> Any:
        @functools.wraps(original)
        def statement(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            finally:  # PartiQL changes items in place, table by table: start the indexes over
                for table in list(self.tables.values()):
                    _forget_indexes(table)

        return statement

    function: Any
    for function in (put_item, delete_item, update_item):
        function._driftbox_indexed = True
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.execute_statement = forgetting(DynamoDBBackend.execute_statement)  # type: ignore[method-assign]
    DynamoDBBackend.batch_execute_statement = forgetting(DynamoDBBackend.batch_execute_statement)  # type: ignore[method-assign]
