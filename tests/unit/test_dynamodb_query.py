"""The emulator's narrowed Query (infra.local.dynamodb_query) answers every query as moto's walk does.

Random tables are written (puts, deletes, updates, transactions, items big enough to end a page at
1 MB) through boto3 on moto's in-process mock, and each query is answered twice over the same
data, page by page: by the narrowed query and by moto's own (``Table.query`` and ``all_items``
put back for the call), compared item for item with ScannedCount and LastEvaluatedKey. The
tables are this module's own; the rest of moto's state (an emulator started earlier in the
process serves from the same backends) is left alone.
"""

from __future__ import annotations

import contextlib
import copy
import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from infra.local import dynamodb_query

dynamodb_query.install()

_MOTO_QUERY = Table.query.__wrapped__  # type: ignore[attr-defined]
_MOTO_ALL_ITEMS = Table.all_items.__wrapped__  # type: ignore[attr-defined]
HASHES = ("p0", "p1", "p2", "p3")
STRING_SORT_KEYS = ("", "a", "aa", "ab", "aba", "abb", "b", "ba", "bab", "bb", "é", "a b")
GROUPS = ("g0", "g1", "g2")


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # tests/conftest.py points it at a server
    mock = mock_aws()
    mock.start(reset=False)  # a reset would empty the emulator's tables too
    client = boto3.client("dynamodb", region_name="us-east-1")
    made: list[str] = []
    try:
        yield client, made
    finally:
        for name in made:
            client.delete_table(TableName=name)
        mock.stop(remove_data=False)


def _table(dynamodb: Any, sort_type: str | None) -> str:
    client, made = dynamodb
    name = f"query-test-{uuid.uuid4().hex[:12]}"
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "g", "AttributeType": "S"},
        {"AttributeName": "gr", "AttributeType": "N"},
    ]
    if sort_type:
        key_schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": sort_type})
    client.create_table(
        TableName=name,
        KeySchema=key_schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {  # sparse: only items with both attributes
                "IndexName": "by_group",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "gr", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_group_only",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    made.append(name)
    return name


def _sort_value(rnd: random.Random, sort_type: str | None) -> dict[str, str]:
    if sort_type == "N":
        return {"N": rnd.choice(["-3", "0", "1", "2.5", "3", "10", "11", "20", "100"])}
    return {"S": rnd.choice([key for key in STRING_SORT_KEYS if key])}


def _hashes(sort_type: str | None) -> tuple[str, ...]:
    return HASHES if sort_type else tuple(f"h{n}" for n in range(40))  # hash-only: an item each


def _key(rnd: random.Random, sort_type: str | None) -> dict[str, Any]:
    key: dict[str, Any] = {"pk": {"S": rnd.choice(_hashes(sort_type))}}
    if sort_type:
        key["sk"] = _sort_value(rnd, sort_type)
    return key


def _item(rnd: random.Random, sort_type: str | None) -> dict[str, Any]:
    item = _key(rnd, sort_type) | {"n": {"N": str(rnd.randrange(10))}}
    if rnd.random() < 0.7:
        item["g"] = {"S": rnd.choice(GROUPS)}
    if rnd.random() < 0.7:
        item["gr"] = {"N": str(rnd.randrange(6))}
    if rnd.random() < 0.1:  # a few pages end at moto's 1 MB, not at their Limit
        item["blob"] = {"S": "x" * rnd.choice([150_000, 300_000, 390_000])}
    return item


def _write(client: Any, table: str, rnd: random.Random, sort_type: str | None) -> None:
    """One random write: a put, a delete, an update of the index keys, or a transaction of them."""
    roll = rnd.random()
    if roll < 0.45:
        client.put_item(TableName=table, Item=_item(rnd, sort_type))
    elif roll < 0.6:
        client.delete_item(TableName=table, Key=_key(rnd, sort_type))
    elif roll < 0.85:
        update = rnd.choice(["SET g = :g", "SET gr = :r", "REMOVE g", "SET g = :g, gr = :r", "SET n = :r"])
        values = {":g": {"S": rnd.choice(GROUPS)}, ":r": {"N": str(rnd.randrange(6))}}
        used = {name: value for name, value in values.items() if name in update}
        extra = {"ExpressionAttributeValues": used} if used else {}
        client.update_item(TableName=table, Key=_key(rnd, sort_type), UpdateExpression=update, **extra)
    else:
        ops: list[dict[str, Any]] = []
        keys_used: set[str] = set()
        for _ in range(rnd.randint(1, 3)):
            op = rnd.choice(
                [
                    {"Put": {"TableName": table, "Item": _item(rnd, sort_type)}},
                    {"Delete": {"TableName": table, "Key": _key(rnd, sort_type)}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": _key(rnd, sort_type),
                            "UpdateExpression": "SET g = :g",
                            "ExpressionAttributeValues": {":g": {"S": rnd.choice(GROUPS)}},
                        }
                    },
                ]
            )
            body: Any = next(iter(op.values()))
            written = body.get("Key") or body["Item"]
            key = repr([written.get("pk"), written.get("sk")])  # one op per item, as DynamoDB asks
            if key not in keys_used:
                keys_used.add(key)
                ops.append(op)
        if rnd.random() < 0.3:  # a refused transaction changes nothing
            ops.append(
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "nobody"}}
                        | ({"sk": _sort_value(rnd, sort_type)} if sort_type else {}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        with contextlib.suppress(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=ops)


def _key_condition(
    rnd: random.Random, sort_type: str | None, index: str | None
) -> tuple[str, dict[str, Any]]:
    """A random key condition: the hash key alone or with a range condition of any kind."""
    if index:
        hash_condition, values = "g = :h", {":h": {"S": rnd.choice(GROUPS)}}
        if index == "by_group_only":
            return hash_condition, values
        sort_name, low, high = "gr", {"N": str(rnd.randrange(6))}, {"N": str(rnd.randrange(6))}
        kinds = ["=", "<", "<=", ">", ">=", "BETWEEN", None]
    else:
        hash_condition, values = "pk = :h", {":h": {"S": rnd.choice([*_hashes(sort_type), "absent"])}}
        if not sort_type:
            return hash_condition, values
        sort_name, low, high = "sk", _sort_value(rnd, sort_type), _sort_value(rnd, sort_type)
        kinds = ["=", "<", "<=", ">", ">=", "BETWEEN", None] + (["begins_with"] if sort_type == "S" else [])
    kind = rnd.choice(kinds)
    if kind is None:
        return hash_condition, values
    if kind == "BETWEEN":
        if rnd.random() < 0.8 and (
            float(low["N"]) > float(high["N"]) if "N" in low else low["S"] > high["S"]
        ):
            low, high = high, low
        return f"{hash_condition} AND {sort_name} BETWEEN :lo AND :hi", values | {":lo": low, ":hi": high}
    if kind == "begins_with":
        prefix = {"S": rnd.choice(["a", "ab", "b", "c", "é", "a "])}
        return f"{hash_condition} AND begins_with({sort_name}, :lo)", values | {":lo": prefix}
    return f"{hash_condition} AND {sort_name} {kind} :lo", values | {":lo": low}


def _random_query(rnd: random.Random, table: str, sort_type: str | None) -> dict[str, Any]:
    index = rnd.choice([None, None, "by_group", "by_group_only"])
    condition, values = _key_condition(rnd, sort_type, index)
    params: dict[str, Any] = {"TableName": table, "KeyConditionExpression": condition}
    if index:
        params["IndexName"] = index
    if rnd.random() < 0.6:
        params["Limit"] = rnd.choice([1, 2, 3, 5, 8])
    if rnd.random() < 0.5:
        params["ScanIndexForward"] = False
    if rnd.random() < 0.25:
        params["FilterExpression"] = "n < :cap"
        values = values | {":cap": {"N": str(rnd.randrange(10))}}
    if rnd.random() < 0.2:
        params["ProjectionExpression"] = "pk, n"
    elif rnd.random() < 0.15:
        params["Select"] = "COUNT"
    if not index and rnd.random() < 0.2:
        params["ConsistentRead"] = True
    params["ExpressionAttributeValues"] = values
    return params


def _answer(client: Any, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch, moto_own: bool) -> Any:
    with monkeypatch.context() as patch:
        if moto_own:
            patch.setattr(Table, "query", _MOTO_QUERY)
            patch.setattr(Table, "all_items", _MOTO_ALL_ITEMS)
        try:
            answer = client.query(**params)
        except client.exceptions.ClientError as exc:
            return ("refused", exc.response["Error"])
    del answer["ResponseMetadata"]
    return answer


def _compare_pages(
    client: Any,
    params: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    rnd: random.Random,
    table: str,
    sort_type: str | None,
) -> int:
    """Page through the query, each page answered both ways; between pages, sometimes a write."""
    pages = 0
    while True:
        narrowed = _answer(client, params, monkeypatch, moto_own=False)
        assert narrowed == _answer(client, params, monkeypatch, moto_own=True), params
        pages += 1
        if not isinstance(narrowed, dict) or "LastEvaluatedKey" not in narrowed:
            return pages
        assert pages < 200, params
        if rnd.random() < 0.3:  # the page's last item may be gone when the next page is asked for
            _write(client, table, rnd, sort_type)
        params = {**params, "ExclusiveStartKey": narrowed["LastEvaluatedKey"]}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "sort_type", ["S", "N", None], ids=["string-sort-key", "number-sort-key", "hash-only"]
)
def test_every_query_is_answered_as_moto_answers_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, sort_type: str | None, seed: int
) -> None:
    client, _ = dynamodb
    rnd = random.Random(f"{sort_type}-{seed}")
    table = _table(dynamodb, sort_type)
    pages = 0
    for _ in range(10):
        for _ in range(rnd.randint(5, 25)):
            _write(client, table, rnd, sort_type)
        for _ in range(10):
            pages += _compare_pages(
                client, _random_query(rnd, table, sort_type), monkeypatch, rnd, table, sort_type
            )
    assert pages > 100  # the queries did page


def test_a_page_deep_in_a_large_partition_starts_right_after_the_start_key(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = dynamodb
    table = _table(dynamodb, "N")
    for n in range(300):
        client.put_item(TableName=table, Item={"pk": {"S": "p0"}, "sk": {"N": str(n)}})
    params = {
        "TableName": table,
        "KeyConditionExpression": "pk = :h AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":h": {"S": "p0"}, ":lo": {"N": "100"}, ":hi": {"N": "199"}},
        "Limit": 7,
        "ExclusiveStartKey": {"pk": {"S": "p0"}, "sk": {"N": "150"}},
    }
    looked_at: list[int] = []
    window = dynamodb_query._page_of_partition

    def counted(*args: Any) -> Any:
        found = window(*args)
        looked_at.append(len(found))
        return found

    monkeypatch.setattr(dynamodb_query, "_page_of_partition", counted)
    for forward, expected in ((True, range(151, 158)), (False, range(149, 142, -1))):
        page = _answer(client, params | {"ScanIndexForward": forward}, monkeypatch, moto_own=False)
        assert [int(item["sk"]["N"]) for item in page["Items"]] == list(expected)
        assert page["LastEvaluatedKey"]["sk"] == {"N": str(expected[-1])}
    assert looked_at == [8, 8]  # moto walked the page and the item after it, not the partition


def test_an_item_past_the_matches_still_ends_the_page_at_one_megabyte_as_in_moto(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = dynamodb
    table = _table(dynamodb, "S")
    sizes = {"a1": 250_000, "a2": 250_000, "a3": 250_000, "b1": 10, "b2": 300_000}
    for sort_key, size in sizes.items():
        client.put_item(
            TableName=table, Item={"pk": {"S": "p0"}, "sk": {"S": sort_key}, "blob": {"S": "x" * size}}
        )
    query = {
        "TableName": table,
        "KeyConditionExpression": "pk = :h AND begins_with(sk, :a)",
        "ExpressionAttributeValues": {":h": {"S": "p0"}, ":a": {"S": "a"}},
        "ProjectionExpression": "sk",
    }
    moto_page = _answer(client, query, monkeypatch, moto_own=True)
    # moto stops at b2: with it the page would pass 1 MB, though b2 does not match
    assert moto_page["LastEvaluatedKey"] == {"pk": {"S": "p0"}, "sk": {"S": "a3"}}
    assert _answer(client, query, monkeypatch, moto_own=False) == moto_page


def test_an_index_follows_updates_that_move_an_item_between_its_partitions(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = dynamodb
    table = _table(dynamodb, "S")
    client.put_item(
        TableName=table, Item={"pk": {"S": "p0"}, "sk": {"S": "a"}, "g": {"S": "g0"}, "gr": {"N": "1"}}
    )
    query = {
        "TableName": table,
        "IndexName": "by_group",
        "KeyConditionExpression": "g = :h",
        "ExpressionAttributeValues": {":h": {"S": "g1"}},
    }
    assert _answer(client, query, monkeypatch, moto_own=False)["Count"] == 0
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "p0"}, "sk": {"S": "a"}},
        UpdateExpression="SET g = :g",
        ExpressionAttributeValues={":g": {"S": "g1"}},
    )
    assert [item["pk"] for item in _answer(client, query, monkeypatch, moto_own=False)["Items"]] == [
        {"S": "p0"}
    ]
    client.delete_item(TableName=table, Key={"pk": {"S": "p0"}, "sk": {"S": "a"}})
    assert _answer(client, query, monkeypatch, moto_own=False)["Count"] == 0


def test_a_partition_keeps_its_keys_in_order_through_every_change() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    rnd = random.Random(3)
    partition: Any = dynamodb_query.Partition()
    plain: dict[Any, Any] = {}
    for step in range(2000):
        key = DynamoType({"N": str(rnd.randrange(60))})
        roll = rnd.random()
        if roll < 0.5:
            partition[key] = plain[key] = step
        elif roll < 0.8:
            assert partition.pop(key, None) == plain.pop(key, None)
        elif roll < 0.9 and key in plain:
            del partition[key]
            del plain[key]
        elif roll < 0.95:
            partition.update({key: step})
            plain.update({key: step})
        else:
            partition.setdefault(key, step)
            plain.setdefault(key, step)
        if step % 50 == 0:
            copied = copy.deepcopy(partition)
            assert copied.ordered() == sorted(plain) and dict(copied) == plain
        assert partition.ordered() == sorted(plain)
        assert dict(partition) == plain
