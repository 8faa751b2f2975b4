"""Cursors: what the server issues decodes to itself; anything else is a 400, never a 500."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import cursors
from chalicelib.domain.cursors import Cursor
from chalicelib.errors import InvalidRequest

ROUND_TRIP = [
    Cursor("ns_1", "ep_1", 0),
    Cursor("ns_1", "ep_1", 1),
    Cursor("ns_1", "ep_1", 2**53 + 1),
    Cursor("ns_1", "ep_1", 17, "/docs/a.txt"),
    Cursor("ns_1", "ep_1", 17, ""),
    Cursor("ns_1", "ep_1", 3, "/caf\u00e9/stra\u00dfe/😀"),
    Cursor("", "", 0),
]


@pytest.mark.parametrize("cursor", ROUND_TRIP)
def test_round_trip(cursor: Cursor) -> None:
    text = cursor.encode()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text), "URL-safe, without padding"
    assert cursors.decode(text) == cursor


def test_listing_cursor_differs_from_journal_cursor() -> None:
    assert Cursor("n", "e", 5).encode() != Cursor("n", "e", 5, "/a").encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _json(body: Any) -> str:
    return _b64(json.dumps(body).encode())


GOOD = {"n": "ns", "e": "ep", "s": 4}

GARBAGE = [
    ("", "empty"),
    ("!!!!", "not base64"),
    ("a", "one character"),
    ("not a cursor at all", "spaces"),
    ("\u00e9t\u00e9", "non-ASCII text"),
    (_b64(b"\xff\xfe\xfd"), "not UTF-8"),
    (_b64(b"{not json"), "not JSON"),
    (_b64(b""), "empty JSON"),
    (_json([1, 2, 3]), "a JSON list"),
    (_json("ns"), "a JSON string"),
    (_json(7), "a JSON number"),
    (_json(None), "JSON null"),
    (_json({}), "an empty object"),
    (_json({"n": "ns", "e": "ep"}), "no seq"),
    (_json({"n": "ns", "s": 1}), "no epoch"),
    (_json({"e": "ep", "s": 1}), "no namespace"),
    (_json({**GOOD, "s": -1}), "negative seq"),
    (_json({**GOOD, "s": -(2**70)}), "very negative seq"),
    (_json({**GOOD, "s": "4"}), "seq as a string"),
    (_json({**GOOD, "s": 4.0}), "seq as a float"),
    (_json({**GOOD, "s": True}), "seq as a bool"),
    (_json({**GOOD, "s": None}), "seq null"),
    (_json({**GOOD, "s": [4]}), "seq as a list"),
    (_b64(b'{"n":"ns","e":"ep","s":NaN}'), "seq NaN"),
    (_b64(b'{"n":"ns","e":"ep","s":Infinity}'), "seq Infinity"),
    (_b64(b'{"n":"ns","e":"ep","s":' + b"9" * 5000 + b"}"), "seq with 5000 digits"),
    (_json({**GOOD, "n": 1}), "namespace as a number"),
    (_json({**GOOD, "n": None}), "namespace null"),
    (_json({**GOOD, "e": ["ep"]}), "epoch as a list"),
    (_json({**GOOD, "k": 5}), "after_key as a number"),
    (_json({**GOOD, "k": {"a": 1}}), "after_key as an object"),
    (_b64(b"[" * 5000), "deeply nested arrays"),
    (_b64(b'{"n":' * 3000), "deeply nested objects"),
]


@pytest.mark.parametrize(("text", "why"), GARBAGE, ids=[why for _, why in GARBAGE])
def test_decode_rejects_with_invalid_request(text: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        cursors.decode(text)
    assert caught.value.details == {"field": "cursor"}


@pytest.mark.parametrize("value", [None, 5, b"abcd", ["abcd"], {"n": "ns"}])
def test_decode_rejects_wrong_types(value: Any) -> None:
    with pytest.raises(InvalidRequest):
        cursors.decode(value)


def test_decode_accepts_padding_and_ignores_unknown_fields() -> None:
    text = base64.urlsafe_b64encode(json.dumps({**GOOD, "x": 1}).encode()).decode()
    assert cursors.decode(text) == Cursor("ns", "ep", 4)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_decode_of_any_text_is_a_cursor_or_invalid_request(text: str) -> None:
    try:
        cursor = cursors.decode(text)
    except InvalidRequest:
        return
    assert cursor.seq >= 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("nesk"), inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_decode_of_any_json_is_a_valid_cursor_or_invalid_request(body: Any) -> None:
    try:
        cursor = cursors.decode(_json(body))
    except InvalidRequest:
        return
    assert isinstance(cursor.namespace_id, str)
    assert isinstance(cursor.epoch, str)
    assert type(cursor.seq) is int
    assert cursor.seq >= 0
    assert cursor.after_key is None or isinstance(cursor.after_key, str)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(min_value=0, max_value=2**63 - 1),  # every whole number the API takes fits 64 bits
    st.none() | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),  # type: ignore[arg-type,operator]
)
def test_round_trip_property(namespace_id: str, epoch: str, seq: int, after_key: str | None) -> None:
    cursor = Cursor(namespace_id, epoch, seq, after_key)
    assert cursors.decode(cursor.encode()) == cursor


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=40), st.text(max_size=40))
def test_a_folder_cursor_round_trips_and_is_never_a_journal_cursor(
    namespace_id: str, epoch: str, folder_key: str, after_key: str
) -> None:
    cursor = cursors.FolderCursor(namespace_id, epoch, folder_key, after_key)
    assert cursors.decode_folder(cursor.encode()) == cursor
    with pytest.raises(InvalidRequest):
        cursors.decode(cursor.encode())


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_decode_folder_of_any_json_is_a_folder_cursor_or_invalid_request(body: Any) -> None:
    try:
        cursor = cursors.decode_folder(_json(body))
    except InvalidRequest:
        return
    assert all(
        isinstance(v, str) for v in (cursor.namespace_id, cursor.epoch, cursor.folder_key, cursor.after_key)
    )
