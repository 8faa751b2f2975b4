"""Path rules: validation, the case- and Unicode-insensitive key, and ancestry.

A path is namespace-relative and starts with ``/``. Two paths name the same object when their
keys are equal: the key is the NFC form, case-folded (case-preserving, as Dropbox and macOS do).

A path holds no control character and no *format* character (Unicode category Cf): those are
invisible, and some reorder what is shown around them (``invoice<U+202E>txt.exe`` shows as
``invoiceexe.txt``), so a name holding one can pass for another. That covers the bidirectional
controls (U+061C, U+200E, U+200F, U+202A-202E, U+2066-2069), the zero-width characters (U+200B-200D,
U+2060, U+FEFF) and the rest of Cf (soft hyphen, tags); the zero-width joiners of emoji sequences
and Persian names go too, the price of one rule the client can apply the same way.
"""

from __future__ import annotations

import unicodedata

from chalicelib.errors import InvalidRequest

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
ROOT = "/"


BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def disguising_character(path: str) -> str | None:
    """What is wrong with the first invisible format character in ``path`` (category Cf), or None."""
    for ch in path:
        if unicodedata.category(ch) == "Cf":
            bidi = ch in BIDI_CONTROLS
            what = "a bidirectional control character" if bidi else "an invisible format character"
            return f"{what} (U+{ord(ch):04X}), which can disguise a name"
    return None


def normalize(path: object, *, field: str = "path") -> str:
    """Return the NFC form of a valid path, or raise InvalidRequest saying what is wrong."""
    if not isinstance(path, str):
        raise InvalidRequest(f"{field} must be a string", field=field)
    if not path.startswith("/") or path == ROOT:
        raise InvalidRequest(f"{field} must start with '/' and name something below the root", field=field)
    if any(_is_control(ch) for ch in path):
        raise InvalidRequest(f"{field} contains a control character", field=field)
    disguise = disguising_character(path)
    if disguise is not None:
        raise InvalidRequest(f"{field} contains {disguise}", field=field)
    try:
        encoded = unicodedata.normalize("NFC", path).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(f"{field} is not valid Unicode", field=field) from exc
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidRequest(f"{field} is longer than {MAX_PATH_BYTES} bytes", field=field)
    nfc = encoded.decode("utf-8")
    for component in nfc[1:].split("/"):
        if component in ("", ".", ".."):
            raise InvalidRequest(f"{field} has an empty, '.' or '..' component", field=field)
        if len(component.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise InvalidRequest(
                f"{field} has a component longer than {MAX_COMPONENT_BYTES} bytes", field=field
            )
    return nfc


def key(path: str) -> str:
    """The comparison key of a normalized path: NFC, then case-folded, then NFC again."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def parent(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or ROOT


def name(path: str) -> str:
    return path.rsplit("/", 1)[1]


def ancestors(path: str) -> list[str]:
    """Every folder above ``path``, outermost first, without the root."""
    parts = path[1:].split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def is_within(path_key: str, folder_key: str) -> bool:
    """True when ``path_key`` lies strictly below ``folder_key``."""
    return path_key.startswith(folder_key + "/")


def rebase(path: str, old_prefix: str, new_prefix: str) -> str:
    """Move ``path`` (at or below ``old_prefix``) under ``new_prefix``."""
    return new_prefix + path[len(old_prefix) :]
