"""The emulator's DynamoDB shortcuts give moto's own answers: the same conditions, the same items."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.serialize import BaseJSONSerializer, JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from infra.local import dynamodb_shortcuts

dynamodb_shortcuts.install()


class _Moto(ConditionExpressionParser):
    """moto's parser as it comes."""

    parse = ConditionExpressionParser.parse.__wrapped__  # type: ignore[attr-defined]
    _lex_condition_expression = ConditionExpressionParser._lex_condition_expression.__wrapped__  # type: ignore[attr-defined]


_moto_item_init = Item.__init__.__wrapped__  # type: ignore[attr-defined]

# -- conditions ------------------------------------------------------------------------------------
ATTRIBUTES = ["a", "b", "seq", "m"]
NAMES = {"#a": "a", "#s": "seq", "#m": "m", "#x": "b"}
VALUE_NAMES = [":v0", ":v1", ":v2"]

scalar_values = st.one_of(
    st.builds(lambda v: {"S": v}, st.sampled_from(["", "a", "ab", "b", "S", "N"])),
    st.builds(lambda v: {"N": str(v)}, st.integers(-3, 3)),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.builds(
        lambda v: {"SS": v}, st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2, unique=True)
    ),
    st.just({"NULL": True}),
)
attribute_values = st.one_of(
    scalar_values,
    st.builds(lambda v: {"L": v}, st.lists(scalar_values, max_size=2)),
    st.builds(lambda v: {"M": v}, st.dictionaries(st.sampled_from(["a", "b"]), scalar_values, max_size=2)),
)
paths = st.sampled_from(["a", "b", "seq", "#a", "#s", "#m.a", "m.b", "#m", "m[0]", "size(#a)", "size(m)"])
operands = st.one_of(paths, st.sampled_from(VALUE_NAMES))
comparators = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
plain_paths = st.sampled_from(["a", "#a", "#s", "#m.a", "m[0]"])


def _conditions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, b: f"{a} AND {b}", inner, inner),
        st.builds(lambda a, b: f"{a} OR {b}", inner, inner),
        st.builds(lambda a: f"NOT {a}", inner),
        st.builds(lambda a: f"({a})", inner),
    )


leaves = st.one_of(
    st.builds(lambda a, op, b: f"{a} {op} {b}", operands, comparators, operands),
    st.builds(lambda a, lo, hi: f"{a} BETWEEN {lo} AND {hi}", operands, operands, operands),
    st.builds(
        lambda a, vs: f"{a} IN ({', '.join(vs)})", operands, st.lists(operands, min_size=1, max_size=3)
    ),
    st.builds(lambda p: f"attribute_exists({p})", plain_paths),
    st.builds(lambda p: f"attribute_not_exists({p})", plain_paths),
    st.builds(lambda p, v: f"begins_with({p}, {v})", plain_paths, st.sampled_from(VALUE_NAMES)),
    st.builds(lambda p, v: f"contains({p}, {v})", plain_paths, st.sampled_from(VALUE_NAMES)),
    st.builds(lambda p, v: f"attribute_type({p}, {v})", plain_paths, st.sampled_from(VALUE_NAMES)),
    st.sampled_from(["a ==", "AND a", "((a = :v0))", "a = :nope", "#nope = a", "size(:v0) > a", "a = b c"]),
)
expressions = st.recursive(leaves, _conditions, max_leaves=5)
value_sets = st.fixed_dictionaries({name: attribute_values for name in VALUE_NAMES})
items = st.dictionaries(st.sampled_from(ATTRIBUTES), attribute_values, max_size=4)


def _outcome(parser_class: type[ConditionExpressionParser], expression: str, values: Any, item: Item) -> Any:
    parser = parser_class(expression, NAMES, values)
    try:
        op = parser.parse()
    except Exception as exc:  # the kind and text of the refusal are the answer
        return ("refused", type(exc), str(exc))
    verdict: Any
    try:
        verdict = op.expr(item)
    except Exception as exc:
        verdict = ("raised", type(exc), str(exc))
    return verdict, parser.expr_attr_names_found, parser.expr_attr_values_found


@settings(max_examples=400, deadline=None)
@given(expressions, st.lists(st.tuples(value_sets, items), min_size=2, max_size=3))
def test_a_parsed_condition_judges_every_item_as_moto_does(expression: str, uses: list[Any]) -> None:
    for values, attrs in uses:  # the first use parses, the others reuse the tree with new values
        item = Item(DynamoType({"S": "key"}), None, attrs)
        assert _outcome(ConditionExpressionParser, expression, values, item) == _outcome(
            _Moto, expression, values, item
        ), expression


def test_values_are_bound_anew_on_every_use() -> None:
    item = Item(DynamoType({"S": "key"}), None, {"seq": {"N": "5"}})
    expression = "attribute_not_exists(#s) OR #s < :v0"
    judged = [
        ConditionExpressionParser(expression, NAMES, {":v0": {"N": str(n)}}).parse().expr(item)
        for n in (4, 6, 5, 7)
    ]
    assert judged == [False, True, False, True]


def test_other_names_make_another_condition() -> None:
    item = Item(DynamoType({"S": "key"}), None, {"a": {"N": "1"}, "b": {"N": "2"}})
    values = {":v0": {"N": "2"}}
    assert not ConditionExpressionParser("#p = :v0", {"#p": "a"}, values).parse().expr(item)
    assert ConditionExpressionParser("#p = :v0", {"#p": "b"}, values).parse().expr(item)


def test_a_missing_value_is_refused_even_after_the_expression_was_seen() -> None:
    ConditionExpressionParser("a = :v0", {}, {":v0": {"N": "1"}}).parse()
    with pytest.raises(KeyError):
        _Moto("a = :v0", {}, {":v9": {"N": "1"}}).parse()
    with pytest.raises(KeyError):
        ConditionExpressionParser("a = :v0", {}, {":v9": {"N": "1"}}).parse()


# -- item sizes ------------------------------------------------------------------------------------
sized_values = st.one_of(
    st.builds(lambda n: {"S": "x" * n}, st.integers(0, 150_000)),
    st.builds(lambda n: {"B": b"y" * n}, st.integers(0, 150_000)),
    st.builds(lambda n: {"N": "9" * n}, st.integers(1, 38)),
    st.builds(lambda n, k: {"L": [{"S": "z" * n}] * k}, st.integers(0, 60_000), st.integers(0, 4)),
    st.builds(lambda n: {"M": {"k": {"S": "w" * n}, "n": {"N": "1"}}}, st.integers(0, 150_000)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
)


def _made(init: Any, attrs: dict[str, Any]) -> Any:
    item = cast(Item, Item.__new__(Item))
    try:
        init(item, DynamoType({"S": "h"}), None, attrs)
    except ItemSizeTooLarge:
        return "too large"
    return dict(item.attrs), type(item.attrs)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=30), sized_values, max_size=6))
def test_items_are_accepted_and_refused_as_moto_does(attrs: dict[str, Any]) -> None:
    assert _made(Item.__init__, attrs) == _made(_moto_item_init, attrs)


@pytest.mark.parametrize("over", [0, 1])
def test_the_limit_falls_where_moto_puts_it(over: int) -> None:
    empty = {"k": {"S": ""}, "n": {"N": "1"}}
    size = sum(len(name) + DynamoType(value).size() for name, value in empty.items())
    at_limit = empty | {"k": {"S": "x" * (dynamodb_shortcuts.ITEM_SIZE_LIMIT - size + over)}}
    assert _made(_moto_item_init, at_limit) == _made(Item.__init__, at_limit)
    assert (_made(Item.__init__, at_limit) == "too large") == bool(over)


# -- answers written out -----------------------------------------------------------------------------
_DYNAMODB = get_service_model("dynamodb")  # as moto builds it
_moto_structure = BaseJSONSerializer._serialize_type_structure.__wrapped__  # type: ignore[attr-defined]

wire_values = st.recursive(
    st.one_of(
        st.builds(lambda v: {"S": v}, st.text(max_size=5)),
        st.builds(lambda v: {"N": v}, st.sampled_from(["0", "-1", "3.5", "1e3"])),
        st.builds(lambda v: {"BOOL": v}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=3), min_size=1, max_size=3)),
        st.builds(lambda v: {"NS": v}, st.lists(st.sampled_from(["1", "2"]), min_size=1, max_size=2)),
    ),
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
        # Keys of one character or more: moto writes a map's value under an empty key in place of
        # the map itself (DynamoDB does not), and such a map is not ours to write.
        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=3)),
    ),
    max_leaves=8,
)
# What moto may hold that is not the wire form as it is: binaries, numbers as numbers, stray or
# missing members, two types at once.
odd_values = st.one_of(
    st.builds(lambda v: {"B": v}, st.binary(max_size=4)),
    st.builds(lambda v: {"BS": v}, st.lists(st.binary(max_size=3), min_size=1, max_size=2)),
    st.builds(lambda v: {"N": v}, st.integers(-5, 5)),
    st.builds(lambda v: {"S": v}, st.sampled_from([None, 7, ""])),
    st.just({"S": "a", "N": "1"}),
    st.just({}),
    st.just({"NULL": False}),
    st.builds(lambda v: {"L": [v]}, st.builds(lambda b: {"B": b}, st.binary(max_size=2))),
)
any_values = st.one_of(wire_values, odd_values, st.builds(lambda v: {"M": {"k": v}}, odd_values))
items = st.dictionaries(st.text(min_size=1, max_size=4), any_values, max_size=4)


def _written(operation: str, result: dict[str, Any], *, moto_alone: bool) -> Any:
    serializer = JSONSerializer(
        operation_model=_DYNAMODB.operation_model(operation),
        pretty_print=False,
        value_picker=XFormedAttributePicker(),
    )
    if moto_alone:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BaseJSONSerializer, "_serialize_type_structure", _moto_structure)
            return json.loads(serializer.serialize(result)["body"])
    return json.loads(serializer.serialize(result)["body"])


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=4), st.one_of(st.none(), items))
def test_answers_of_items_are_written_as_moto_writes_them(rows: list[dict[str, Any]], last: Any) -> None:
    answers = [
        ("BatchGetItem", {"Responses": {"t": rows}, "UnprocessedKeys": {}}),
        ("Query", {"Items": rows, "Count": len(rows), "ScannedCount": len(rows), "LastEvaluatedKey": last}),
        ("GetItem", {"Item": rows[0]} if rows else {}),
    ]
    for operation, result in answers:
        assert _written(operation, result, moto_alone=False) == _written(operation, result, moto_alone=True)


def test_a_wire_value_is_passed_through_and_an_odd_one_is_not() -> None:
    assert dynamodb_shortcuts.is_wire_value({"M": {"a": {"L": [{"S": "x"}, {"NULL": True}]}}})
    assert not dynamodb_shortcuts.is_wire_value({"M": {"a": {"B": b"x"}}})
    assert not dynamodb_shortcuts.is_wire_value({"N": 1})
