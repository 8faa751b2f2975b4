"""The emulator's DynamoDB parameter parsing gives exactly what moto's own JSON parser gives."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.parse import JSONParser
from moto.core.utils import get_service_model

from infra.local.dynamodb_params import operation_parser

names = st.text(min_size=1, max_size=6)
blobs = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
numbers = st.integers(-(10**6), 10**6).map(str)
scalars = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=8)),
    st.builds(lambda v: {"N": v}, numbers),
    st.builds(lambda v: {"B": v}, blobs),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=4), min_size=1, max_size=3)),
    st.builds(lambda v: {"NS": v}, st.lists(numbers, min_size=1, max_size=3)),
    st.builds(lambda v: {"BS": v}, st.lists(blobs, min_size=1, max_size=3)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        st.builds(lambda v: {"M": v}, st.dictionaries(names, inner, max_size=3)),
    ),
    max_leaves=12,
)
items = st.dictionaries(names, values, min_size=1, max_size=4)
condition = {
    "ConditionExpression": "attribute_not_exists(#k) OR #s < :v",
    "ExpressionAttributeNames": {"#k": "k"},
}
# What a client may add that the model does not have, or sends as null: moto leaves both out.
extras = st.dictionaries(
    st.sampled_from(["Unknown", "ReturnValues", "Extra"]), st.one_of(st.none(), st.text(max_size=3))
)


@st.composite
def requests_(draw: Any) -> tuple[str, dict[str, Any]]:
    table = draw(st.sampled_from(["t1", "paths"]))
    item = draw(items)
    eav = {":v": draw(values)}
    body: dict[str, Any]
    operation = draw(
        st.sampled_from(
            [
                "PutItem",
                "UpdateItem",
                "TransactWriteItems",
                "BatchWriteItem",
                "Query",
                "BatchGetItem",
                "GetItem",
            ]
        )
    )
    if operation == "PutItem":
        body = {"TableName": table, "Item": item, **condition, "ExpressionAttributeValues": eav}
    elif operation == "UpdateItem":
        body = {
            "TableName": table,
            "Key": item,
            "UpdateExpression": "SET a = :v",
            "ExpressionAttributeValues": eav,
        }
    elif operation == "TransactWriteItems":
        puts = [
            {"Put": {"TableName": table, "Item": i, **condition, "ExpressionAttributeValues": eav}}
            for i in draw(st.lists(items, min_size=1, max_size=3))
        ]
        body = {
            "TransactItems": [*puts, {"Delete": {"TableName": table, "Key": item}}],
            "ClientRequestToken": "x",
        }
    elif operation == "BatchWriteItem":
        body = {
            "RequestItems": {
                table: [{"PutRequest": {"Item": i}} for i in draw(st.lists(items, min_size=1, max_size=3))]
            }
        }
    elif operation == "Query":
        body = {
            "TableName": table,
            "KeyConditionExpression": "k = :v",
            "ExpressionAttributeValues": eav,
            "Limit": draw(st.integers(1, 100)),
            "ExclusiveStartKey": item,
            "ConsistentRead": True,
        }
    elif operation == "BatchGetItem":
        body = {
            "RequestItems": {
                table: {"Keys": draw(st.lists(items, min_size=1, max_size=3)), "ConsistentRead": True}
            }
        }
    else:
        body = {"TableName": table, "Key": item, "ConsistentRead": draw(st.booleans())}
    return operation, {**body, **draw(extras)}


def _moto(operation: str, body: bytes) -> dict[str, Any]:
    model = get_service_model("dynamodb").operation_model(operation)
    parsed: dict[str, Any] = JSONParser(model, map_type=dict).parse(
        {"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/", "url_params": {}}  # type: ignore[typeddict-item]
    )
    return parsed


@settings(max_examples=300, deadline=None)
@given(requests_())
def test_parameters_equal_moto_s(request: tuple[str, dict[str, Any]]) -> None:
    operation, body = request
    raw = json.dumps(body).encode()
    assert operation_parser(operation)(raw) == _moto(operation, raw)


def test_empty_and_unreadable_bodies_as_moto_reads_them() -> None:
    for raw in (b"", b"not json", b"{}", b'{"TableName": null}'):
        for operation in ("PutItem", "ListTables", "DescribeTable"):
            assert operation_parser(operation)(raw) == _moto(operation, raw)
