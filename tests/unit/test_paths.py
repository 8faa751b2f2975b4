"""Path rules: what a client may name, which names are the same object, and ancestry."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import paths
from chalicelib.errors import InvalidRequest

NFC_E = "\u00e9"  # é, one code point
NFD_E = "e\u0301"  # e + combining acute accent


def _path_of_bytes(total: int) -> str:
    """A valid path of exactly ``total`` UTF-8 bytes, in 200-byte components."""
    parts: list[str] = []
    remaining = total
    while remaining > 0:
        size = min(200, remaining - 1)
        parts.append("a" * size)
        remaining -= size + 1
    path = "/" + "/".join(parts)
    assert len(path.encode("utf-8")) == total
    return path


VALID = [
    ("/a", "/a"),
    ("/a/b.txt", "/a/b.txt"),
    ("/Docs/Report FINAL (2).pdf", "/Docs/Report FINAL (2).pdf"),
    ("/ leading and trailing space ", "/ leading and trailing space "),
    ("/...", "/..."),  # only '.' and '..' are special, not any run of dots
    ("/.hidden", "/.hidden"),
    ("/a./b..", "/a./b.."),
    ("/emoji 😀", "/emoji 😀"),
    ("/caf" + NFD_E, "/caf" + NFC_E),  # stored in NFC
    ("/" + "a" * 255, "/" + "a" * 255),  # longest component, in bytes
    ("/" + NFC_E * 127, "/" + NFC_E * 127),  # 254 bytes
    ("/" + NFD_E * 127, "/" + NFC_E * 127),  # 381 bytes as sent, 254 once NFC: the limit is on NFC
    (_path_of_bytes(4096), _path_of_bytes(4096)),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_normalize_accepts_and_returns_nfc(raw: str, expected: str) -> None:
    assert paths.normalize(raw) == expected


INVALID = [
    ("", "empty"),
    ("a", "relative"),
    ("a/b", "relative with slash"),
    ("/", "the root itself"),
    ("//", "double slash only"),
    ("//a", "leading double slash"),
    ("/a//b", "empty component"),
    ("/a/", "trailing slash"),
    ("/.", "dot"),
    ("/..", "dot dot"),
    ("/a/./b", "dot in the middle"),
    ("/a/../b", "dot dot in the middle"),
    ("/a/..", "trailing dot dot"),
    ("/a\x00b", "NUL"),
    ("/a\x01", "SOH"),
    ("/a\x1f", "unit separator"),
    ("/a\x7f", "DEL"),
    ("/a\nb", "newline"),
    ("/a\rb", "carriage return"),
    ("/a\tb", "tab"),
    ("/a\x85b", "C1 next line"),
    ("/a\ud800", "lone high surrogate"),
    ("/a\udfff", "lone low surrogate"),
    ("/\udc80bad-utf8-escape", "surrogateescape residue"),
    ("/" + "a" * 256, "component of 256 bytes"),
    ("/" + NFC_E * 128, "component of 256 bytes in 128 characters"),
    ("/ok/" + "😀" * 64, "component of 256 bytes in 64 emoji"),
    (_path_of_bytes(4097), "path of 4097 bytes"),
    ("\\a", "backslash is not a separator"),
]


@pytest.mark.parametrize(("raw", "why"), INVALID, ids=[why for _, why in INVALID])
def test_normalize_rejects(raw: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        paths.normalize(raw, field="ops.3.path")
    assert caught.value.details == {"field": "ops.3.path"}
    assert "ops.3.path" in caught.value.message


DISGUISING = [
    ("/invoice\u202etxt.exe", "bidirectional control character (U+202E)"),
    ("/a\u202ab", "bidirectional control character (U+202A)"),
    ("/a\u2066b\u2069", "bidirectional control character (U+2066)"),
    ("/a\u200eb", "bidirectional control character (U+200E)"),
    ("/a\u200f", "bidirectional control character (U+200F)"),
    ("/folder\u061c/b", "bidirectional control character (U+061C)"),
    ("/pay\u200bpal.txt", "invisible format character (U+200B)"),
    ("/a\u200cb", "invisible format character (U+200C)"),
    ("/a\u200db", "invisible format character (U+200D)"),
    ("/a/\u2060b", "invisible format character (U+2060)"),
    ("/\ufeffa", "invisible format character (U+FEFF)"),
    ("/soft\u00adhyphen", "invisible format character (U+00AD)"),
    ("/tag\U000e0041", "invisible format character (U+E0041)"),
]


@pytest.mark.parametrize(("raw", "why"), DISGUISING, ids=[why for _, why in DISGUISING])
def test_normalize_rejects_format_characters_naming_their_class(raw: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        paths.normalize(raw, field="ops.0.to")
    assert caught.value.details == {"field": "ops.0.to"}
    assert why in caught.value.message and "disguise" in caught.value.message


@given(st.text(st.characters(categories=["Cf"]), min_size=1, max_size=3), st.text(max_size=5))
def test_normalize_rejects_every_format_character(format_chars: str, rest: str) -> None:
    with pytest.raises(InvalidRequest):
        paths.normalize("/" + rest + format_chars)


@pytest.mark.parametrize("raw", [None, b"/a", 7, ["/a"], {"path": "/a"}])
def test_normalize_rejects_non_strings(raw: object) -> None:
    with pytest.raises(InvalidRequest, match="must be a string"):
        paths.normalize(raw)


SAME_KEY = [
    ("/A.txt", "/a.txt", "case only"),
    ("/DOCS/Report.PDF", "/docs/report.pdf", "case in every component"),
    ("/caf" + NFD_E, "/caf" + NFC_E, "NFD and NFC of one name"),
    ("/CAF" + NFD_E.upper(), "/caf" + NFC_E, "NFD upper case and NFC lower case"),
    ("/\u00c9t\u00e9", "/e\u0301te\u0301", "É (NFC) and e+accent (NFD)"),
    # Full case folding: German sharp s folds to "ss", and so does capital sharp s (U+1E9E).
    ("/Stra\u00dfe", "/STRASSE", "ß folds to ss"),
    ("/\u1e9e", "/ss", "capital sharp s folds to ss"),
    # Greek final sigma folds to the ordinary sigma.
    ("/\u039f\u0394\u039f\u03a3", "/\u03bf\u03b4\u03bf\u03c2", "ΟΔΟΣ and οδος"),
    ("/\u03bf\u03b4\u03bf\u03c3", "/\u03bf\u03b4\u03bf\u03c2", "σ and ς"),
    ("/\ufb03", "/ffi", "ligature ffi folds to ffi"),
    ("/I", "/i", "ASCII I and i"),
]


@pytest.mark.parametrize(("a", "b", "why"), SAME_KEY, ids=[why for *_, why in SAME_KEY])
def test_same_key(a: str, b: str, why: str) -> None:
    assert paths.key(paths.normalize(a)) == paths.key(paths.normalize(b))


DIFFERENT_KEY = [
    # Case folding is locale-independent: the Turkish dotted capital I folds to "i" + combining dot
    # above (which has no precomposed form), and the dotless ı folds to itself, so neither matches i.
    ("/\u0130", "/i", "Turkish dotted capital I is not i"),
    ("/\u0131", "/i", "Turkish dotless i is not i"),
    ("/\u0131", "/I", "Turkish dotless i is not I"),
    ("/a.txt", "/a.txt ", "trailing space matters"),
    ("/a", "/a/b", "a folder and its child"),
    ("/a/b", "/ab", "separator matters"),
    ("/\uff21", "/a", "fullwidth Ａ is not A: NFC, not NFKC"),
]


@pytest.mark.parametrize(("a", "b", "why"), DIFFERENT_KEY, ids=[why for *_, why in DIFFERENT_KEY])
def test_different_key(a: str, b: str, why: str) -> None:
    assert paths.key(paths.normalize(a)) != paths.key(paths.normalize(b))


def test_turkish_dotted_i_key_is_i_with_combining_dot() -> None:
    assert paths.key("/\u0130") == "/i\u0307"


def test_key_folds_every_component() -> None:
    assert paths.key("/Docs/A.TXT") == "/docs/a.txt"


_COMPONENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cf"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
).filter(lambda c: c not in (".", ".."))
_PATH = st.lists(_COMPONENT, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=300, deadline=None)
@given(_PATH)
def test_key_properties(path: str) -> None:
    nfc = paths.normalize(path)
    # The same name in any canonically equivalent form has one key.
    assert paths.key(unicodedata.normalize("NFD", path)) == paths.key(nfc)
    assert paths.normalize(unicodedata.normalize("NFD", path)) == nfc
    # Keys keep the component structure and are stable.
    assert paths.key(nfc).count("/") == nfc.count("/")
    assert paths.key(paths.key(nfc)) == paths.key(nfc)
    assert paths.key(nfc.casefold()) == paths.key(nfc)
    # normalize is idempotent.
    assert paths.normalize(nfc) == nfc


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a", []),
        ("/a/b", ["/a"]),
        ("/a/b/c.txt", ["/a", "/a/b"]),
        ("/Docs/Sub/x", ["/Docs", "/Docs/Sub"]),
    ],
)
def test_ancestors_outermost_first_without_root(path: str, expected: list[str]) -> None:
    assert paths.ancestors(path) == expected


@pytest.mark.parametrize(
    ("path", "parent", "name"),
    [("/a", "/", "a"), ("/a/b", "/a", "b"), ("/a/b/c.txt", "/a/b", "c.txt")],
)
def test_parent_and_name(path: str, parent: str, name: str) -> None:
    assert paths.parent(path) == parent
    assert paths.name(path) == name


@pytest.mark.parametrize(
    ("path_key", "folder_key", "expected"),
    [
        ("/a/b", "/a", True),
        ("/a/b/c", "/a", True),
        ("/a", "/a", False),  # strictly below
        ("/ab", "/a", False),  # a sibling sharing a prefix
        ("/a b/c", "/a", False),
        ("/a", "/a/b", False),
    ],
)
def test_is_within(path_key: str, folder_key: str, expected: bool) -> None:
    assert paths.is_within(path_key, folder_key) is expected


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        ("/a", "/a", "/b", "/b"),
        ("/a/x.txt", "/a", "/b", "/b/x.txt"),
        ("/a/s/x.txt", "/a", "/deep/er", "/deep/er/s/x.txt"),
        ("/docs/x", "/docs", "/Docs", "/Docs/x"),  # case-only rename
        ("/Stra\u00dfe/x", "/Stra\u00dfe", "/STRASSE", "/STRASSE/x"),  # the prefix changes length
    ],
)
def test_rebase(path: str, old: str, new: str, expected: str) -> None:
    assert paths.rebase(path, old, new) == expected
