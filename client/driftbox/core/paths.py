"""Driftbox paths on the client: the same rules as the server's (NFC, case-insensitive keys).

A Driftbox path starts with "/" and names something below the root of the linked folder, with "/"
between components, in NFC, case as the user typed it. Its *key* is how two paths are compared:
NFC, case-folded, NFC again. Two local names with one key (``a.txt`` and ``A.txt`` on Linux, or
one in NFC and one in NFD) cannot both hold that key: the scanner keeps one there and the sync
renames the other (``core/twins.py``).

A path holds no control character and no format character (Unicode category Cf: the bidirectional
controls such as U+202E, which make ``invoice<U+202E>txt.exe`` show as ``invoiceexe.txt``, and the
zero-width characters): the server refuses them, so a local name holding one is not synced.
"""

from __future__ import annotations

import unicodedata

ROOT = "/"
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class InvalidPath(ValueError):
    """Not a path Driftbox can hold (the server would refuse it)."""


def key(path: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def disguising_character(path: str) -> str | None:
    """What is wrong with the first invisible format character in ``path`` (category Cf), or None."""
    for ch in path:
        if unicodedata.category(ch) == "Cf":
            bidi = ch in BIDI_CONTROLS
            what = "a bidirectional control character" if bidi else "an invisible format character"
            return f"{what} (U+{ord(ch):04X}), which can disguise a name"
    return None


def normalize(path: str) -> str:
    """The NFC form of a valid Driftbox path, or InvalidPath saying what is wrong."""
    if not path.startswith("/") or path == ROOT:
        raise InvalidPath(f"{path!r}: a path starts with '/' and names something below the root")
    nfc = unicodedata.normalize("NFC", path)
    if any(unicodedata.category(ch) == "Cc" for ch in nfc):
        raise InvalidPath(f"{path!r}: contains a control character")
    disguise = disguising_character(nfc)
    if disguise is not None:
        raise InvalidPath(f"{path!r}: contains {disguise}")
    if len(nfc.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPath(f"{path!r}: longer than {MAX_PATH_BYTES} bytes")
    try:
        nfc.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPath(f"{path!r}: not valid Unicode") from exc
    for component in nfc[1:].split("/"):
        if component in ("", ".", ".."):
            raise InvalidPath(f"{path!r}: empty, '.' or '..' component")
        if len(component.encode("utf-8")) > MAX_NAME_BYTES:
            raise InvalidPath(f"{path!r}: a name longer than {MAX_NAME_BYTES} bytes")
    return nfc


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or ROOT


def name(path: str) -> str:
    return path.rsplit("/", 1)[1]


def join(folder: str, child: str) -> str:
    return f"{folder.rstrip('/')}/{child}"


def ancestors(path: str) -> list[str]:
    """Every folder above ``path``, outermost first, without the root."""
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def is_within(path_key: str, folder_key: str) -> bool:
    """True if ``path_key`` is strictly below ``folder_key``."""
    return path_key.startswith(folder_key.rstrip("/") + "/")


def rebase(path: str, old_root: str, new_root: str) -> str:
    """``path`` (at or below ``old_root``) moved to ``new_root``; ``old_root`` matched by key."""
    if key(path) == key(old_root):
        return new_root
    return new_root + path[len(old_root) :]


def depth(path: str) -> int:
    """How many components ``path`` has: 1 for "/a", 0 for the root."""
    return 0 if path == ROOT else path.count("/")


def reroot(path: str, old_root: str, new_root: str) -> str:
    """``path`` (at or below ``old_root``) moved to ``new_root``, by component count.

    Unlike ``rebase`` it does not assume ``path`` spells ``old_root`` with as many characters:
    one may be NFD and the other NFC (a disk's name and the server's).
    """
    rest = path.split("/")[depth(old_root) + 1 :]
    return "/".join([new_root, *rest]) if rest else new_root
