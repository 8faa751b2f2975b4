"""Strict JSON: what Python's json would read but the server must refuse, and what it keeps."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain import strict_json


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"[" * (strict_json.MAX_DEPTH + 1) + b"]" * (strict_json.MAX_DEPTH + 1),
        b"1" * 5_000,
        str(2**63).encode(),
        str(-(2**63) - 1).encode(),
        b"1e400",
        b"NaN",
        b"-Infinity",
        b'{"a": 1, "a": 2}',
        b"\xff\xfe",
        b"{",
    ],
    ids=[
        "deep-arrays",
        "deep-objects",
        "one-past-the-bound",
        "5000-digits",
        "2**63",
        "-(2**63)-1",
        "overflowing-float",
        "nan",
        "infinity",
        "duplicate-key",
        "not-utf8",
        "truncated",
    ],
)
def test_a_document_the_server_cannot_take_is_refused(raw: bytes) -> None:
    with pytest.raises(strict_json.JsonRefused):
        strict_json.loads(raw)


def test_documents_within_the_bounds_read_as_json_does() -> None:
    deepest = "[" * strict_json.MAX_DEPTH + "]" * strict_json.MAX_DEPTH
    assert strict_json.loads(deepest) == json.loads(deepest)
    assert strict_json.loads(str(2**63 - 1)) == 2**63 - 1
    assert strict_json.loads(str(-(2**63))) == -(2**63)
    assert strict_json.loads('{"a": [1, 2.5, "x", null, true], "b": {}}') == {
        "a": [1, 2.5, "x", None, True],
        "b": {},
    }
