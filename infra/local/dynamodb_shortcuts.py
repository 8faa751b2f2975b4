"""moto's DynamoDB answers, given in less time: condition expressions parsed once, items sized
once, item attributes written out as they are stored.

A commit writes hundreds of rows, each with the same condition and the same attributes, and moto
redoes the same work for every one:

- It parses every ConditionExpression again, compiling a dozen regular expressions per token, a
  third of the emulator's DynamoDB time in a commit. The syntax tree depends on the text and the
  attribute names alone; the values are bound into it when the conditions are made, as moto does.
- It sizes an item attribute by attribute, summing the size of every attribute stored so far at
  each step: quadratic in the attributes. The sizes only grow, so checking the total once, at the
  end, accepts and refuses the very same items.
- It writes every answer out member by member along the service's shapes, looking each member's
  name up in several spellings: for an answer of items, each attribute's value is a structure of
  ten members, and that is four fifths of a 100-key BatchGetItem. An attribute value held as the
  wire form itself (strings, numbers, booleans, nulls, string and number sets, lists and maps of
  them) serializes to itself; one holding anything else (a binary, a stray key) goes moto's way.

``install`` patches both into moto; the tests hold each to moto's own answers.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

from infra.local.moto_patches import require_written_for

ITEM_SIZE_LIMIT = 405_000  # moto's: between DynamoDB's documented 400 KB and the 410 KB it takes
_KEPT = 4096  # expressions remembered; a client's are a handful

_Node = ConditionExpressionParser.Node
_VALUE = ConditionExpressionParser.Kind.EXPRESSION_ATTRIBUTE_VALUE


def _with_values(node: Any, values: dict[str, Any]) -> Any:
    """``node``'s tree with each expression attribute value taken from ``values``."""
    if node.kind == _VALUE:
        return node._replace(value=values[node.text])
    if not node.children:
        return node
    return node._replace(children=[_with_values(child, values) for child in node.children])


def _syntax_tree(parser: ConditionExpressionParser) -> Any:
    """The syntax tree ``parse`` builds before it makes the conditions (moto's own steps)."""
    nodes = parser._lex_condition_expression()
    for step in (
        parser._parse_paths,
        parser._apply_functions,
        parser._apply_comparator,
        parser._apply_in,
        parser._apply_between,
        parser._apply_parens_and_booleans,
    ):
        nodes = step(nodes)
    return nodes[0]


def _parse_once() -> None:
    original_lex = ConditionExpressionParser._lex_condition_expression
    original_parse = ConditionExpressionParser.parse
    if getattr(original_parse, "_driftbox_cached", False):
        return
    lexed: dict[str | None, tuple[tuple[str, str], ...]] = {}
    trees: dict[tuple[Any, ...], tuple[Any, list[str], list[str]]] = {}  # by text and names

    @functools.wraps(original_lex)
    def lex(self: ConditionExpressionParser) -> deque[Any]:
        # Tokens depend on the text alone. Kept for the parsers moto makes without parsing whole.
        tokens = lexed.get(self.condition_expression)
        if tokens is None:
            tokens = tuple((node.nonterminal, node.text) for node in original_lex(self))
            if len(lexed) < _KEPT:
                lexed[self.condition_expression] = tokens
        literal = self.Kind.LITERAL
        return deque(_Node(nonterminal=k, kind=literal, text=t, value=t, children=[]) for k, t in tokens)

    @functools.wraps(original_parse)
    def parse(self: ConditionExpressionParser) -> Any:
        if not self.condition_expression:
            return original_parse(self)
        names = self.expression_attribute_names or {}
        values = self.expression_attribute_values or {}
        key = (self.condition_expression, tuple(names.items()))  # a missing value fails in binding
        found = trees.get(key)
        if found is None:
            op = original_parse(self)  # an invalid expression raises here, every time
            if len(trees) < _KEPT:
                tree = _syntax_tree(self)
                trees[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            return op
        tree, names_found, values_found = found
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return self._make_op_condition(_with_values(tree, values))

    parse._driftbox_cached = True  # type: ignore[attr-defined]
    ConditionExpressionParser._lex_condition_expression = lex  # type: ignore[method-assign]
    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]


def _size_items_once() -> None:
    original = Item.__init__
    if getattr(original, "_driftbox_sized", False):
        return

    @functools.wraps(original)
    def __init__(
        self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
    ) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = LimitedSizeDict()
        size = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size += bytesize(key) + typed.size()
            dict.__setitem__(converted, key, typed)  # the total is checked once, below
        if size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = converted

    __init__._driftbox_sized = True  # type: ignore[attr-defined]
    Item.__init__ = __init__  # type: ignore[method-assign]


_SCALARS: dict[str, type] = {"S": str, "N": str, "BOOL": bool}


def is_wire_value(value: Any) -> bool:
    """Whether ``value`` is an attribute value in its wire form, which moto writes out unchanged."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _SCALARS:
        return type(inner) is _SCALARS[kind]
    if kind == "NULL":
        return inner is True
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(v) is str for v in inner)
    if kind == "L":
        return type(inner) is list and all(is_wire_value(v) for v in inner)
    if kind == "M":
        return type(inner) is dict and all(type(k) is str and is_wire_value(v) for k, v in inner.items())
    return False


def _write_values_as_they_are() -> None:
    original = BaseJSONSerializer._serialize_type_structure
    if getattr(original, "_driftbox_wire", False):
        return

    @functools.wraps(original)
    def _serialize_type_structure(
        self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if key and shape.name == "AttributeValue" and is_wire_value(value):
            serialized[shape.serialization.get("name", key)] = value
            return
        original(self, serialized, value, shape, key)

    _serialize_type_structure._driftbox_wire = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


def install() -> None:
    require_written_for()
    _parse_once()
    _size_items_once()
    _write_values_as_they_are()
