"""Every storage key format in one place: S3 object keys and composite DynamoDB keys."""

from __future__ import annotations

import hashlib


def chunk_prefix(namespace_id: str) -> str:
    """The prefix of every chunk key of the namespace, and of no other namespace's (the slash)."""
    return f"chunks/{namespace_id}/"


def chunk_object(namespace_id: str, chunk_hash: str) -> str:
    # Per namespace: holding the key proves a member uploaded the bytes (no cross-user hash claim).
    return chunk_prefix(namespace_id) + chunk_hash


def manifest_object(namespace_id: str, list_hash: str) -> str:
    return f"manifests/{namespace_id}/{list_hash}"


def journal_object(namespace_id: str, last_seq: int, nonce: str) -> str:
    return f"journal/{namespace_id}/{last_seq:020d}-{nonce}.json.z"


def idempotency(user_id: str, idempotency_key: str) -> str:
    return f"{user_id}#{idempotency_key}"


ANSWER_PREFIX = "answers/"  # S3 expires these (infra/template.yaml): their items live a day


def answer_object(idempotency_row: str, nonce: str) -> str:
    # The client's key may hold any printable character: name the object by its hash.
    digest = hashlib.sha256(idempotency_row.encode("utf-8")).hexdigest()
    return f"{ANSWER_PREFIX}{digest}/{nonce}.json.z"


def offered_bytes(namespace_id: str, window: int) -> str:
    return f"offered#{namespace_id}#{window}"


def login_throttle(email_key: str) -> str:
    """The failed logins of an email from every source not known to it."""
    return f"login#{email_key}"


# A source key has no "#" (an IPv4 address, an IPv6 /64 or "unknown"), an email key may: the source
# goes first, so no email can name another's row.
def login_source_throttle(source: str, email_key: str) -> str:
    """The failed logins of an email from one source."""
    return f"login-source#{source}#{email_key}"


def login_known_source(source: str, email_key: str) -> str:
    """A source the email's account logged in from recently."""
    return f"login-known#{source}#{email_key}"


# Namespaces waiting for their change message are indexed under a few partition keys, so that
# neither the commits marking them nor the sweep reading them all hit one partition.
NOTIFY_SHARDS = 8


def notify_shard(namespace_id: str) -> int:
    return int.from_bytes(hashlib.sha256(namespace_id.encode("utf-8")).digest()[:4], "big") % NOTIFY_SHARDS


# DynamoDB caps a sort key at 1,024 bytes; a path may have 4,096 (and case folding can lengthen it).
SORT_KEY_LIMIT = 1000
_SORT_KEY_PREFIX = 900
_LONG_KEY_MARK = "\x1f"  # paths cannot hold control characters, so no real key contains it


def _utf8_prefix(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def path_row(path_key: str) -> str:
    """The paths table's sort key for a path key: itself, or for a long one, its first 900 bytes
    and the SHA-256 of the whole. Every row below a folder keeps the folder's leading bytes, so a
    prefix query still finds all descendants (see path_rows_below). Rows sort in path order
    (parents first) up to 900 bytes; past that, rows sharing their first 900 bytes sort by hash.
    """
    if len(path_key.encode("utf-8")) <= SORT_KEY_LIMIT:
        return path_key
    digest = hashlib.sha256(path_key.encode("utf-8")).hexdigest()
    return f"{_utf8_prefix(path_key, _SORT_KEY_PREFIX)}{_LONG_KEY_MARK}{digest}"


def path_rows_below(path_key: str) -> str:
    """A sort-key prefix shared by the rows of every path strictly below ``path_key`` (and maybe
    a few others, when it is long: filter by the rows' real paths)."""
    return _utf8_prefix(path_key + "/", _SORT_KEY_PREFIX)


# The paths table keeps a path's row at one of two sort keys: a live file or folder at
# ``path_row`` (every one starts with "/"), a tombstone at ``tombstone_row`` (starting with "#",
# which sorts before "/"). So the live tree is one key range that holds no tombstone: listings
# never read them. Rows written before this layout may still hold a tombstone at ``path_row``
# (docs/architecture.md, "The paths table's two key ranges").
LIVE_ROWS_START = "/"
TREE_LAYOUT = 2  # a namespace's ``tree_layout`` once all its rows are laid out so (tree_migration.py)
_TOMBSTONE_MARK = "#"


def tombstone_row(path_key: str) -> str:
    return _TOMBSTONE_MARK + path_row(path_key)


def folder_children(namespace_id: str, folder_key: str) -> str:
    """The ``by_folder`` index's partition key of a folder's live children (the root's key is "/").

    The namespace id never holds "#", so no folder of one namespace can name another's.
    """
    return f"{namespace_id}#{path_row(folder_key)}"
