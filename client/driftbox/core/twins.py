"""Twins: two names in one folder with one path key (``a.txt`` and ``A.txt``, or an NFC and an NFD
spelling), which a case-sensitive disk holds and the server cannot tell apart.

Only one of them can be synced at the key. ``keeper`` says which: the item the synced tree holds
there (the same inode, else the same name), else the one the server spells that way, else the NFC
spelling, else the first in code point order, so that every scan of the same folder picks the same.
Each other twin is renamed on disk, before planning, to ``twin_path``: ``A (case conflict).txt``,
or ``é (Unicode encoding conflict).txt`` for a twin that differs only in Unicode form, with the
conflicted copy's rules for extensions, taken names and the 255-byte limit
(``conflicts.noted_path``). Then it is an ordinary new item: uploaded, so every device gets both,
and nothing ever lands over the synced item, nor over the newcomer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from driftbox.core import paths
from driftbox.core.conflicts import noted_path
from driftbox.core.model import Item, Kind

CASE_NOTE = "case conflict"
FORM_NOTE = "Unicode encoding conflict"


@dataclass(frozen=True)
class Spelling:
    """One name on disk among those that share a key."""

    path: str  # as on disk
    kind: Kind
    inode: int | None


@dataclass(frozen=True)
class Twin:
    """A name that lost its key to ``kept_path``: it is renamed before it can be synced."""

    path: str
    kind: Kind
    kept_path: str

    @property
    def note(self) -> str:
        """What the rename says: a case twin, or one spelled in another Unicode form."""
        same_letters = _nfc(paths.name(self.path)) == _nfc(paths.name(self.kept_path))
        return FORM_NOTE if same_letters else CASE_NOTE

    def reason(self) -> str:
        what = "in Unicode form" if self.note == FORM_NOTE else "in case"
        return f"its name differs only {what} from {paths.name(self.kept_path)!r}"


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def keeper(spellings: Sequence[Spelling], synced: Item | None, remote: Item | None) -> Spelling:
    """Which of ``spellings`` (one key, at least one) keeps the key; see the module docstring."""

    def rank(s: Spelling) -> tuple[bool, bool, bool, bool, str]:
        name = paths.name(s.path)
        return (
            not (synced is not None and synced.inode is not None and s.inode == synced.inode),
            not (synced is not None and name == paths.name(synced.path)),
            not (remote is not None and name == paths.name(remote.path)),
            name != _nfc(name),
            name,
        )

    return min(spellings, key=rank)


def split(
    spellings: Sequence[Spelling], synced: Item | None, remote: Item | None
) -> tuple[Spelling, list[Twin]]:
    """The keeper of one key, and every other spelling as a twin to rename."""
    kept = keeper(spellings, synced, remote)
    return kept, [Twin(s.path, s.kind, kept.path) for s in spellings if s is not kept]


def twin_path(twin: Twin, taken: Callable[[str], bool]) -> str:
    """Where ``twin`` goes: beside itself, with its note, at a key ``taken`` says is free."""
    return noted_path(twin.path, kind=twin.kind, note=twin.note, taken=taken)
