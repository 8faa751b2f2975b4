"""DynamoDB request parameters parsed by functions made once per shape, not by moto's generic walk.

moto turns each JSON request body into parameters with a parser that walks the service model
node by node, looking up a handler by name for every value: a fifth of the emulator's DynamoDB
time in a commit's writes, more than storing the items. ``install`` replaces moto's
``DynamoHandler.parse_parameters`` with one that applies, per operation, a tree of small functions
built once from the same model, with the same rules as moto's JSON parser: structure members
read by their serialised names, those absent or null left out, blobs base64-decoded, numbers
converted, maps and lists walked, anything else as it came. The tests hold the two to the same
result. Requests in any other protocol go to moto's parser.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any

from moto.core.parse import JSONParser, default_timestamp_parser
from moto.core.request import determine_request_protocol
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler

from infra.local.moto_patches import require_written_for

Parse = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _compile(shape: Any, made: dict[str, Parse]) -> Parse:
    """The parser of ``shape``; the shapes it holds are compiled into ``made`` (by name: recursion)."""
    if shape.name in made:
        return made[shape.name]
    kind = shape.type_name
    parse: Parse
    if kind == "structure" and not shape.is_document_type:
        members: dict[str, tuple[str, str]] = {}  # by serialised name: (name, shape)

        def structure(value: Any) -> Any:
            # Over what came rather than over the members: an attribute value has ten members
            # and sets one. moto's walk goes in member order; dicts compare regardless of order.
            if value is None:
                return None
            parsed = {}
            for json_name, raw in value.items():
                member = members.get(json_name)
                if member is not None and raw is not None:
                    parsed[member[0]] = made[member[1]](raw)
            return parsed

        made[shape.name] = parse = structure
        for name, member_shape in shape.members.items():
            _compile(member_shape, made)
            members[member_shape.serialization.get("name", name)] = (name, member_shape.name)
        return parse
    if kind == "list":
        member = shape.member.name
        made[shape.name] = parse = lambda value: [made[member](item) for item in value]
        _compile(shape.member, made)
        return parse
    if kind == "map":
        key, val = shape.key.name, shape.value.name
        made[shape.name] = parse = lambda value: {made[key](k): made[val](v) for k, v in value.items()}
        _compile(shape.key, made)
        _compile(shape.value, made)
        return parse
    converters: dict[str, Parse] = {
        "blob": base64.b64decode,
        "timestamp": default_timestamp_parser,
        "float": float,
        "double": float,
        "integer": int,
        "byte": int,
        "short": int,
        "long": int,
    }
    made[shape.name] = parse = converters.get(kind, _identity)
    return parse


@functools.cache
def operation_parser(operation: str) -> Callable[[bytes], dict[str, Any]]:
    """The parameters of a DynamoDB ``operation`` from its JSON request body."""
    model = get_service_model("dynamodb").operation_model(operation)
    if model.input_shape is None:
        return lambda body: {}
    parse = _compile(model.input_shape, {})
    read_body: Parse = JSONParser(model, map_type=dict)._parse_body_as_json  # the same reading of JSON

    def parameters(body: bytes) -> dict[str, Any]:
        parsed: dict[str, Any] = parse(read_body(body))
        return parsed

    return parameters


def install() -> None:
    require_written_for()
    original = DynamoHandler.parse_parameters
    if getattr(original, "_driftbox_compiled", False):
        return

    @functools.wraps(original)
    def parse_parameters(self: DynamoHandler, request: Any) -> None:
        service_model = get_service_model(self.boto3_service_name)
        if determine_request_protocol(service_model, request.content_type) != "json":
            original(self, request)
            return
        self.params = operation_parser(self._get_action())(request.data)

    parse_parameters._driftbox_compiled = True  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign,assignment]
