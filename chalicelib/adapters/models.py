"""The DynamoDB tables as pynamodb models; docs/architecture.md has the table of keys."""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.settings import SETTINGS


class _Meta:
    region = SETTINGS.region
    billing_mode = "PAY_PER_REQUEST"


class UserModel(Model):
    class Meta(_Meta):
        table_name = SETTINGS.users_table

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    plan = UnicodeAttribute(default="basic")
    home_namespace_id = UnicodeAttribute()
    created_at_ms = NumberAttribute()


class EmailModel(Model):
    """Makes an email unique: written with its user in one transaction."""

    class Meta(_Meta):
        table_name = SETTINGS.emails_table

    email_key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()


class DeviceModel(Model):
    class Meta(_Meta):
        table_name = SETTINGS.devices_table

    user_id = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    created_at_ms = NumberAttribute()


class TokenModel(Model):
    """Only the SHA-256 of a token is stored; the row is the token's whole life."""

    class Meta(_Meta):
        table_name = SETTINGS.tokens_table

    token_hash = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    expires_at = TTLAttribute()


class ThrottleModel(Model):
    """A login tally: failed logins (attempts charged and not refunded) and when the last was."""

    class Meta(_Meta):
        table_name = SETTINGS.throttle_table

    key = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    last_failure_s = NumberAttribute(null=True)
    expires_at = TTLAttribute()


class KnownSourceModel(Model):
    """In the throttle table: a source an account logged in from recently, spared the email's tally."""

    class Meta(_Meta):
        table_name = SETTINGS.throttle_table

    key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


class WaitersModel(Model):
    """The long-poll gauge, in the throttle table: long-polls waiting, per minute started and shard."""

    class Meta(_Meta):
        table_name = SETTINGS.throttle_table

    key = UnicodeAttribute(hash_key=True)
    waiters = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class NamespaceMembersIndex(GlobalSecondaryIndex["MembershipModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_namespace"
        projection = AllProjection()

    namespace_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)


class MembershipModel(Model):
    class Meta(_Meta):
        table_name = SETTINGS.memberships_table

    user_id = UnicodeAttribute(hash_key=True)
    namespace_id = UnicodeAttribute(range_key=True)
    role = UnicodeAttribute()
    by_namespace = NamespaceMembersIndex()


class PendingNotifyIndex(GlobalSecondaryIndex["NamespaceModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only namespaces whose newest commit's change message is not known to be queued."""

    class Meta:
        index_name = "pending_notify"
        projection = KeysOnlyProjection()

    notify_shard = NumberAttribute(hash_key=True)
    notify_since_ms = NumberAttribute(range_key=True)


class NamespaceModel(Model):
    """The journal head: every commit moves ``head_seq`` in the same transaction as its record.

    The same transaction sets ``notify_shard``/``notify_since_ms`` (the outbox mark); queuing the
    change message removes them.
    """

    class Meta(_Meta):
        table_name = SETTINGS.namespaces_table

    namespace_id = UnicodeAttribute(hash_key=True)
    epoch = UnicodeAttribute()
    owner_user_id = UnicodeAttribute()
    head_seq = NumberAttribute(default=0)
    applied_seq = NumberAttribute(default=0)
    usage_bytes = NumberAttribute(default=0)
    quota_bytes = NumberAttribute()
    created_at_ms = NumberAttribute()
    notify_shard = NumberAttribute(null=True)
    notify_since_ms = NumberAttribute(null=True)
    pending_notify = PendingNotifyIndex()
    # TREE_LAYOUT once every paths row of the namespace is in the two-range layout (keys.py);
    # absent on namespaces made before it until tree_migration.py has moved their rows.
    tree_layout = NumberAttribute(null=True)
    tree_migrated_to = UnicodeAttribute(null=True)  # the last row key moved so far, while moving


class _ContentAttributes:
    kind = UnicodeAttribute()
    path = UnicodeAttribute()
    object_id = UnicodeAttribute(null=True)
    rev = NumberAttribute()
    deleted = BooleanAttribute()
    seq = NumberAttribute()
    size = NumberAttribute(default=0)
    mtime_ns = NumberAttribute(null=True)
    mtime = NumberAttribute(null=True)  # rows written before mtime_ns: the unit unchecked (codec)
    executable = BooleanAttribute(null=True)  # the owner-execute bit; absent in older rows: false
    content_hash = UnicodeAttribute(null=True)
    chunks = BinaryAttribute(null=True, legacy_encoding=False)  # 32-byte digests, concatenated
    manifest = UnicodeAttribute(null=True)  # S3 key of a long chunk list


# What a folder listing shows of each child: everything but the chunk list, which only a download
# needs (and which would make the index hold up to 64 KB more per file).
FOLDER_LISTING_ATTRIBUTES = (
    "kind",
    "path",
    "object_id",
    "rev",
    "deleted",
    "seq",
    "size",
    "mtime_ns",
    "mtime",
    "executable",
    "content_hash",
)


class FolderChildrenIndex(GlobalSecondaryIndex["PathModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only live rows carry ``folder``, so a folder's children and no tombstone."""

    class Meta:
        index_name = "by_folder"
        projection = IncludeProjection(list(FOLDER_LISTING_ATTRIBUTES))

    folder = UnicodeAttribute(hash_key=True)
    path_key = UnicodeAttribute(range_key=True)


class PathModel(_ContentAttributes, Model):
    """The current tree: one row per path key ever used, a live row or a tombstone (keys.py)."""

    class Meta(_Meta):
        table_name = SETTINGS.paths_table

    namespace_id = UnicodeAttribute(hash_key=True)
    path_key = UnicodeAttribute(range_key=True)
    folder = UnicodeAttribute(null=True)  # keys.folder_children of the parent, on live rows only
    by_folder = FolderChildrenIndex()


class RevisionModel(_ContentAttributes, Model):
    """Immutable file revisions, keyed (so sharded) by object id."""

    class Meta(_Meta):
        table_name = SETTINGS.revisions_table

    object_id = UnicodeAttribute(hash_key=True)  # type: ignore[assignment]
    rev = NumberAttribute(range_key=True)
    namespace_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    created_at_ms = NumberAttribute()


class JournalModel(Model):
    """One record per commit, holding its entries (seqs first_seq..last_seq)."""

    class Meta(_Meta):
        table_name = SETTINGS.journal_table

    namespace_id = UnicodeAttribute(hash_key=True)
    last_seq = NumberAttribute(range_key=True)
    first_seq = NumberAttribute()
    body = BinaryAttribute(null=True, legacy_encoding=False)  # zlib JSON of the entries
    body_object = UnicodeAttribute(null=True)  # S3 key, when the body is too large for an item


class ChunkModel(Model):
    """A chunk verified to be stored for a namespace: the only grant of its bytes."""

    class Meta(_Meta):
        table_name = SETTINGS.chunks_table

    namespace_id = UnicodeAttribute(hash_key=True)
    chunk_hash = UnicodeAttribute(range_key=True)
    size = NumberAttribute()


class OfferModel(Model):
    """A chunk handed a presigned PUT for a namespace: it may be stored there since. Never a grant."""

    class Meta(_Meta):
        table_name = SETTINGS.offers_table

    namespace_id = UnicodeAttribute(hash_key=True)
    chunk_hash = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute()
    size = NumberAttribute(null=True)
    window = NumberAttribute(null=True)  # the OfferedBytesModel window its size is counted in


class OfferedBytesModel(Model):
    """In the throttle table: bytes offered to a namespace and not granted since, per URL lifetime."""

    class Meta(_Meta):
        table_name = SETTINGS.throttle_table

    key = UnicodeAttribute(hash_key=True)
    offered_bytes = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class IdempotencyModel(Model):
    """A commit's answer, written in the commit's own transaction, replayed for a retried key."""

    class Meta(_Meta):
        table_name = SETTINGS.idempotency_table

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    response = UnicodeAttribute(null=True)  # the answer's JSON, or:
    response_object = UnicodeAttribute(null=True)  # the S3 key of a large one (zlib JSON)
    expires_at = TTLAttribute()


class UserConnectionsIndex(GlobalSecondaryIndex["ConnectionModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


class ConnectionModel(Model):
    """An open WebSocket of a device; expires with API Gateway's 2-hour connection limit."""

    class Meta(_Meta):
        table_name = SETTINGS.connections_table

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    connected_at_ms = NumberAttribute()
    expires_at = TTLAttribute()
    by_user = UserConnectionsIndex()


ALL_MODELS: tuple[type[Model], ...] = (
    UserModel,
    EmailModel,
    DeviceModel,
    TokenModel,
    ThrottleModel,
    KnownSourceModel,
    WaitersModel,
    MembershipModel,
    NamespaceModel,
    PathModel,
    RevisionModel,
    JournalModel,
    ChunkModel,
    OfferModel,
    OfferedBytesModel,
    IdempotencyModel,
    ConnectionModel,
)


_CONNECTION = Connection(region=SETTINGS.region)


def transaction() -> TransactWrite:
    """A write transaction across any of the tables above."""
    return TransactWrite(connection=_CONNECTION)
