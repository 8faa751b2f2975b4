"""Content rules: chunk hash form, 4 MiB fixed chunking, and Dropbox's content hash."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import content
from chalicelib.errors import InvalidRequest

MiB = 1024 * 1024
C = content.CHUNK_SIZE
HASH = "0123456789abcdef" * 4


def test_chunk_size_is_4_mib() -> None:
    assert 4 * MiB == C


@pytest.mark.parametrize("value", [HASH, "0" * 64, "f" * 64, hashlib.sha256(b"x").hexdigest()])
def test_check_hash_accepts_lowercase_hex_sha256(value: str) -> None:
    assert content.check_hash(value) == value


BAD_HASHES = [
    (HASH.upper(), "upper case"),
    (HASH[:-1] + "A", "one upper-case digit"),
    (HASH[:-1], "63 characters"),
    (HASH + "0", "65 characters"),
    ("", "empty"),
    (HASH[:-1] + "g", "not hex"),
    (HASH + "\n", "trailing newline"),
    ("\n" + HASH, "leading newline"),
    (HASH + " ", "trailing space"),
    (" " + HASH[1:], "leading space"),
    ("0x" + HASH[2:], "0x prefix"),
    (HASH[:32] + "-" + HASH[33:], "dash"),
    ("\uff10" * 64, "fullwidth digits"),
    ("٠" * 64, "Arabic-Indic digits"),
    (None, "None"),
    (HASH.encode(), "bytes"),
    (123, "int"),
    ([HASH], "list"),
]


@pytest.mark.parametrize(("value", "why"), BAD_HASHES, ids=[why for _, why in BAD_HASHES])
def test_check_hash_rejects(value: object, why: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        content.check_hash(value, field="ops.0.chunks.2")
    assert caught.value.details == {"field": "ops.0.chunks.2"}


SIZES = [
    (0, []),
    (1, [1]),
    (C - 1, [C - 1]),
    (C, [C]),
    (C + 1, [C, 1]),
    (2 * C, [C, C]),
    (2 * C + 5, [C, C, 5]),
    (10 * MiB, [C, C, 2 * MiB]),
]


@pytest.mark.parametrize(("size", "expected"), SIZES)
def test_chunk_sizes_and_count(size: int, expected: list[int]) -> None:
    assert content.chunk_sizes(size) == expected
    assert content.chunk_count(size) == len(expected)


def test_chunk_count_of_a_50_gib_file() -> None:
    assert content.chunk_count(50 * 1024**3) == 12_800


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=200 * 1024**3))
def test_chunk_sizes_cover_the_file_in_full_chunks_then_a_remainder(size: int) -> None:
    sizes = content.chunk_sizes(size)
    assert sum(sizes) == size
    assert len(sizes) == content.chunk_count(size)
    assert all(s == C for s in sizes[:-1])
    assert all(0 < s <= C for s in sizes)


def _chunk_hashes(data: bytes) -> list[str]:
    return [hashlib.sha256(data[i : i + C]).hexdigest() for i in range(0, len(data), C)]


def test_empty_file_content_hash_is_sha256_of_empty_string() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert content.content_hash([]) == expected
    assert content.content_hash(()) == expected
    assert expected == content.EMPTY_CONTENT_HASH


def test_content_hash_of_one_chunk_hashes_its_digest_not_its_bytes() -> None:
    data = b"hello, world"
    chunk = hashlib.sha256(data).hexdigest()
    assert content.content_hash([chunk]) == hashlib.sha256(hashlib.sha256(data).digest()).hexdigest()
    assert content.content_hash([chunk]) != chunk


def test_content_hash_concatenates_binary_digests_in_order() -> None:
    data = bytes(range(256)) * (C // 256) + b"tail"  # 4 MiB + 4 bytes: two chunks
    chunks = _chunk_hashes(data)
    assert len(chunks) == 2 == content.chunk_count(len(data))
    first = hashlib.sha256(data[:C]).digest()
    second = hashlib.sha256(data[C:]).digest()
    assert content.content_hash(chunks) == hashlib.sha256(first + second).hexdigest()
    assert content.content_hash(list(reversed(chunks))) != content.content_hash(chunks)
    # Not the hex text of the digests concatenated.
    assert content.content_hash(chunks) != hashlib.sha256("".join(chunks).encode()).hexdigest()


def test_content_hash_accepts_tuple_and_list_alike() -> None:
    assert content.content_hash((HASH, HASH)) == content.content_hash([HASH, HASH])
