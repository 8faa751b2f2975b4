"""JSON from clients, read strictly: one meaning per document, nothing the rest of the server trips on.

Python's json reads what the API never sends and the rest of the server cannot take: nesting deep
enough to exhaust the stack (a RecursionError, not a ValueError), NaN and Infinity, floats that
overflow to infinity, whole numbers of thousands of digits (DynamoDB takes 38), and duplicate keys
(the last silently wins, so two readers of one body may disagree). Every such document is refused
here with a ``JsonRefused`` that says why.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32  # the API's deepest body (a commit: body, ops, op, chunks) is 4 levels
MIN_INT, MAX_INT = -(2**63), 2**63 - 1  # every whole number the API takes fits a signed 64-bit integer
_MAX_INT_DIGITS = len(str(MIN_INT))  # with its sign; checked before converting, which is quadratic


class JsonRefused(ValueError):
    """The text is not JSON, or not JSON this server takes."""


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS or not MIN_INT <= (value := int(text)) <= MAX_INT:
        raise JsonRefused(f"whole numbers must lie within {MIN_INT}..{MAX_INT} (signed 64 bits)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused("a number is too large")
    return value


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise JsonRefused("an object has the same key twice")
    return found


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, without recursing (so without a stack to exhaust)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(raw: bytes | str) -> Any:
    """The document in ``raw`` (UTF-8), or JsonRefused."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(
            text, parse_int=_int, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object
        )
    except JsonRefused:
        raise
    except RecursionError as exc:  # the decoder gave up on the nesting before we could count it
        raise JsonRefused(f"JSON may nest at most {MAX_DEPTH} levels") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise JsonRefused("not valid JSON") from exc
    if _depth(value) > MAX_DEPTH:
        raise JsonRefused(f"JSON may nest at most {MAX_DEPTH} levels")
    return value
