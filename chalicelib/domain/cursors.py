"""Cursors: opaque positions in a namespace's journal, or in a paged listing of its tree.

A cursor carries the namespace, its epoch (a namespace recreated after a server reset has a new
one, so an old cursor is recognised as a reset and never as "everything was deleted"), the journal
seq, and, while a listing is being paged, the last path key listed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from chalicelib.domain import strict_json
from chalicelib.errors import InvalidRequest


@dataclass(frozen=True)
class Cursor:
    namespace_id: str
    epoch: str
    seq: int
    after_key: str | None = None  # set while paging a listing of the current tree

    def encode(self) -> str:
        body: dict[str, object] = {"n": self.namespace_id, "e": self.epoch, "s": self.seq}
        if self.after_key is not None:
            body["k"] = self.after_key
        return _encode(body)


def _encode(body: dict[str, object]) -> str:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _body(text: str) -> dict[str, object]:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    body = strict_json.loads(raw)
    if not isinstance(body, dict):
        raise TypeError("not an object")
    return body


def decode(text: str) -> Cursor:
    try:
        body = _body(text)
        if "f" in body:
            raise KeyError("a folder listing's cursor")
        cursor = Cursor(body["n"], body["e"], body["s"], body.get("k"))  # type: ignore[arg-type]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidRequest("cursor is not one this server issued", field="cursor") from exc
    fields_ok = (
        isinstance(cursor.namespace_id, str)
        and isinstance(cursor.epoch, str)
        and isinstance(cursor.seq, int)
        and not isinstance(cursor.seq, bool)
        and cursor.seq >= 0
        and (cursor.after_key is None or isinstance(cursor.after_key, str))
    )
    if not fields_ok:
        raise InvalidRequest("cursor is not one this server issued", field="cursor")
    return cursor


@dataclass(frozen=True)
class FolderCursor:
    """Where a paged listing of one folder's children stands: after the row keyed ``after_key``."""

    namespace_id: str
    epoch: str
    folder_key: str
    after_key: str

    def encode(self) -> str:
        return _encode({"n": self.namespace_id, "e": self.epoch, "f": self.folder_key, "k": self.after_key})


def decode_folder(text: str) -> FolderCursor:
    try:
        body = _body(text)
        cursor = FolderCursor(body["n"], body["e"], body["f"], body["k"])  # type: ignore[arg-type]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidRequest("cursor is not one this server issued", field="cursor") from exc
    if not all(
        isinstance(v, str) for v in (cursor.namespace_id, cursor.epoch, cursor.folder_key, cursor.after_key)
    ):
        raise InvalidRequest("cursor is not one this server issued", field="cursor")
    return cursor
