"""DynamoDB side of the metadata service: the journal head, commit records and their projection.

A commit is one transaction of two or three items: the namespace head (moved from ``head_seq``
to ``head_seq + k``, conditional on nobody having moved it first), the commit's journal record,
and its idempotency answer. So seqs are gapless and a reader never passes an entry that lands
late. The current tree, revisions and chunk grants are then written from the record; a commit
interrupted before that is finished by the next reader or writer (``catch_up``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import answers, blobs, codec, keys
from chalicelib.adapters.models import (
    IdempotencyModel,
    JournalModel,
    NamespaceModel,
    PathModel,
    RevisionModel,
    transaction,
)
from chalicelib.domain import paths, projection
from chalicelib.domain.model import Entry, Node
from chalicelib.errors import Busy, NotFound, TooLarge

_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ddb")
# Bodies above this go to S3: an item holds 400 KB, and a transaction 4 MB.
_MAX_INLINE_BODY = 300_000


class HeadMoved(Exception):
    """Another commit landed first (or holds an item of ours right now): plan again on the new head."""


class AlreadyAnswered(Exception):
    """This Idempotency-Key already has an answer."""

    def __init__(self, answer: answers.Answer) -> None:
        super().__init__("already answered")
        self.answer = answer


def _conditional_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def get_namespace(namespace_id: str) -> NamespaceModel:
    try:
        return NamespaceModel.get(namespace_id, consistent_read=True)
    except NamespaceModel.DoesNotExist as exc:
        raise NotFound("no such namespace", namespace_id=namespace_id) from exc


def head_seq(namespace_id: str) -> int:
    """The head alone: one consistent read of two attributes (long-poll asks 20 times a second)."""
    try:
        row = NamespaceModel.get(
            namespace_id, consistent_read=True, attributes_to_get=["namespace_id", "head_seq"]
        )
    except NamespaceModel.DoesNotExist as exc:
        raise NotFound("no such namespace", namespace_id=namespace_id) from exc
    return int(row.head_seq)


# -- commit ------------------------------------------------------------------------------------
# Why a commit's transaction was cancelled, item by item: only a lost race is worth planning again.
_RACES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def write_commit(
    namespace: NamespaceModel, entries: list[Entry], usage_delta: int, answer: IdempotencyModel | None
) -> None:
    """Land a commit's journal record and move the head, atomically; or raise why it did not.

    HeadMoved: another commit won (plan again). AlreadyAnswered: the answer's key has one. TooLarge
    or Busy: DynamoDB refused the write for its size or its rate (planning again would not help).
    """
    head = int(namespace.head_seq)
    namespace_id = namespace.namespace_id
    record = JournalModel(namespace_id, entries[-1].seq if entries else head, first_seq=head + 1)
    body = codec.encode_body(entries, namespace_id)
    if len(body) > _MAX_INLINE_BODY:
        record.body_object = keys.journal_object(namespace_id, int(record.last_seq), uuid.uuid4().hex)
        blobs.put_bytes(record.body_object, body)
    else:
        record.body = body
    try:
        with transaction() as tx:
            tx.update(
                NamespaceModel(namespace_id),
                actions=[
                    NamespaceModel.head_seq.set(head + len(entries)),
                    NamespaceModel.usage_bytes.add(usage_delta),
                    *_outbox_mark(namespace_id, entries),
                ],
                condition=(NamespaceModel.head_seq == head) & (NamespaceModel.applied_seq == head),
            )
            if entries:
                tx.save(record, condition=JournalModel.last_seq.does_not_exist())
            if answer is not None:
                tx.save(answer, condition=IdempotencyModel.key.does_not_exist())
    except TransactWriteError as exc:
        if answer is not None:
            answers.discard(answer)
        raise _refusal(exc, answer) from exc


def _refusal(exc: TransactWriteError, answer: IdempotencyModel | None) -> Exception:
    """What a cancelled commit transaction means, from the reason DynamoDB gives per item."""
    codes = [r.code if r is not None else None for r in exc.cancellation_reasons or []]
    if answer is not None and codes and codes[-1] == "ConditionalCheckFailed":
        stored = answers.find(answer.key)
        if stored is not None:
            return AlreadyAnswered(stored)
    refused = {code for code in codes if code not in (None, "None")}
    if refused and refused <= _RACES:
        return HeadMoved()
    if exc.cause_response_code == "ValidationException" or "ValidationError" in refused:
        return TooLarge("the commit is too large to store; split it into smaller commits")
    if refused & {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}:
        return Busy("the namespace is too busy; retry the commit", retry_after_s=1)
    return exc


# -- projection ----------------------------------------------------------------------------------
# A path's row is at its live key or its tombstone key (keys.py), so writing a node is two items:
# its row, put, and the row at its other key, deleted; both on condition that what is stored there
# is older, in one transaction, so that a slow writer of an older commit can never leave a row
# beside a newer one (nor overwrite it). A commit's nodes go 50 to a transaction (100 items and
# 4 MB at most; a row holds up to about 70 KB: a long path and 2,000 inline digests), those of a
# cancelled one a transaction each.
_TRANSACT_ITEMS = 100
_ITEMS_PER_NODE = 2
_TRANSACT_BYTES = 3_000_000
_CONFLICT_RETRIES = 8


def _newer(node: Node) -> Condition:
    # Never let a slow writer of an older commit overwrite a newer state.
    condition: Condition = PathModel.seq.does_not_exist() | (PathModel.seq < node.seq)
    return condition


def _write_node(tx: TransactWrite, namespace_id: str, node: Node) -> None:
    tx.save(codec.node_to_row(namespace_id, node), condition=_newer(node))
    tx.delete(PathModel(namespace_id, codec.row_keys(node)[1]), condition=_newer(node))


def _save_node(namespace_id: str, node: Node) -> None:
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with transaction() as tx:
                _write_node(tx, namespace_id, node)
            return
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            codes = {r.code for r in exc.cancellation_reasons or [] if r is not None}
            if "ConditionalCheckFailed" in codes:
                return  # a newer state of the path is stored: it stays
            if codes - {"None", "TransactionConflict"} or attempt == _CONFLICT_RETRIES - 1:
                raise
        time.sleep(0.01 * 2**attempt)  # another writer holds one of the two items right now


def _row_bytes(namespace_id: str, node: Node) -> int:
    """At least the size of the node's two items, as DynamoDB counts them."""
    inline = len(node.content.chunks) if len(node.content.chunks) <= codec.INLINE_CHUNKS else 0
    texts = (namespace_id, namespace_id, node.path, *codec.row_keys(node), keys.path_row(node.path_key))
    return sum(len(t.encode("utf-8")) for t in texts) + 32 * inline + 512


def _transaction_batches(namespace_id: str, nodes: list[Node]) -> list[list[Node]]:
    batches: list[list[Node]] = [[]]
    size = 0
    for node in nodes:
        row_bytes = _row_bytes(namespace_id, node)
        full = (len(batches[-1]) + 1) * _ITEMS_PER_NODE > _TRANSACT_ITEMS
        if full or size + row_bytes > _TRANSACT_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(node)
        size += row_bytes
    return batches


def _save_in_transaction(namespace_id: str, nodes: list[Node]) -> list[Node]:
    """Write the nodes' rows at once; if the transaction is cancelled, return those to write one by one."""
    try:
        with transaction() as tx:
            for node in nodes:
                _write_node(tx, namespace_id, node)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if exc.cause_response_code != "TransactionCanceledException" or len(reasons) != 2 * len(nodes):
            raise
        # A node either of whose items failed its condition has a newer state stored: it stays (a
        # path's seq only grows). The others are written one by one: another writer may have held
        # one of their items.
        failed = [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]
        return [n for i, n in enumerate(nodes) if not (failed[2 * i] or failed[2 * i + 1])]
    return []


def apply(namespace_id: str, entries: list[Entry]) -> None:
    """Write what ``entries`` make of the tree and the history (idempotent).

    Chunk grants are not written here: a commit's chunks were granted when it verified them.
    """
    nodes = list(projection.nodes_from_entries(entries).values())
    batches = _transaction_batches(namespace_id, nodes) if nodes else []
    left = _POOL.map(lambda batch: _save_in_transaction(namespace_id, batch), batches)
    one_by_one = [node for batch in left for node in batch]
    list(_POOL.map(lambda node: _save_node(namespace_id, node), one_by_one))
    with RevisionModel.batch_write() as batch:
        for entry in projection.revisions_from_entries(entries):
            batch.save(codec.entry_to_revision(namespace_id, entry))


def _outbox_mark(namespace_id: str, entries: list[Entry]) -> list[Action]:
    if not entries:
        return []
    return [
        NamespaceModel.notify_shard.set(keys.notify_shard(namespace_id)),
        NamespaceModel.notify_since_ms.set(int(time.time() * 1000)),
    ]


_CLEAR_MARK = (NamespaceModel.notify_shard.remove(), NamespaceModel.notify_since_ms.remove())


def _update_if(namespace_id: str, actions: list[Action], condition: Condition) -> bool:
    try:
        NamespaceModel(namespace_id).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not _conditional_failed(exc):
            raise
        return False
    return True


def mark_applied(namespace_id: str, seq: int, *, notified: bool = False) -> None:
    """Record that the projection is written up to ``seq``; with ``notified``, that its change
    message is queued too (clearing the outbox mark unless a newer commit has landed)."""
    applied = NamespaceModel.applied_seq.set(seq)
    newer = NamespaceModel.applied_seq < seq
    still_head = NamespaceModel.head_seq == seq
    if notified and _update_if(namespace_id, [applied, *_CLEAR_MARK], newer & still_head):
        return
    _update_if(namespace_id, [applied], newer)
    if notified:
        clear_pending_notify(namespace_id, seq)


def clear_pending_notify(namespace_id: str, head_seq: int) -> None:
    """Remove the outbox mark if ``head_seq`` is still the head (a newer commit keeps it)."""
    _update_if(namespace_id, list(_CLEAR_MARK), NamespaceModel.head_seq == head_seq)


def pending_notify(shard: int) -> list[str]:
    """Namespaces whose newest change message may not have been queued."""
    return [row.namespace_id for row in NamespaceModel.pending_notify.query(shard)]


def catch_up(namespace_id: str) -> NamespaceModel:
    """Finish any commit whose record landed but whose projection did not; return the head."""
    namespace = get_namespace(namespace_id)
    while int(namespace.applied_seq) < int(namespace.head_seq):
        for record in _records_after(namespace_id, int(namespace.applied_seq)):
            apply(namespace_id, _entries_of(record))
            mark_applied(namespace_id, int(record.last_seq))
        namespace = get_namespace(namespace_id)
    return namespace


# -- reading ------------------------------------------------------------------------------------
def _records_after(namespace_id: str, seq: int) -> Iterator[JournalModel]:
    return JournalModel.query(namespace_id, JournalModel.last_seq > seq, consistent_read=True, page_size=20)


def _entries_of(record: JournalModel) -> list[Entry]:
    if record.body_object:
        return codec.decode_body(blobs.get_bytes(record.body_object))
    return codec.decode_body(record.body or b"")


def read_entries(namespace_id: str, after_seq: int, limit: int) -> list[Entry]:
    """Up to ``limit`` journal entries with seq above ``after_seq``, in order."""
    found: list[Entry] = []
    for record in _records_after(namespace_id, after_seq):
        found.extend(e for e in _entries_of(record) if e.seq > after_seq)
        if len(found) >= limit:
            break
    return found[:limit]


def list_live(namespace_id: str, after_row: str | None, limit: int) -> list[Node]:
    """Up to ``limit`` live nodes in row order, after the row keyed ``after_row``.

    Only the live key range is read; the filter drops the tombstones rows written before the
    two-range layout may still hold there (tree_migration.py moves them).
    """
    start = (
        PathModel.path_key > after_row
        if after_row is not None
        else PathModel.path_key >= keys.LIVE_ROWS_START
    )
    rows = PathModel.query(
        namespace_id,
        start,
        filter_condition=PathModel.deleted == False,  # noqa: E712
        consistent_read=True,
        limit=limit,
        page_size=max(limit, 100),
    )
    return [codec.node_from_row(row) for row in rows]


def list_children(namespace_id: str, folder_key: str, after_row: str | None, limit: int) -> list[Node]:
    """Up to ``limit`` live children of a folder in row order, after the row keyed ``after_row``.

    Read from the ``by_folder`` index: eventually consistent, and without chunk lists (the nodes'
    ``content.chunks`` are empty).
    """
    condition = PathModel.path_key > after_row if after_row is not None else None
    rows = PathModel.by_folder.query(
        keys.folder_children(namespace_id, folder_key), condition, limit=limit, page_size=limit
    )
    return [codec.node_from_row(row) for row in rows]


def _newest(rows: Iterable[PathModel]) -> dict[str, Node]:
    """The newest node per path key among rows at both of a path's keys."""
    found: dict[str, Node] = {}
    for row in rows:
        node = codec.node_from_row(row)
        if node.path_key not in found or found[node.path_key].seq < node.seq:
            found[node.path_key] = node
    return found


def _both_keys(namespace_id: str, path_keys: Iterable[str]) -> list[tuple[str, str]]:
    return [(namespace_id, k(p)) for p in path_keys for k in (keys.path_row, keys.tombstone_row)]


def get_node(namespace_id: str, path_key: str) -> Node | None:
    rows = PathModel.batch_get(_both_keys(namespace_id, [path_key]), consistent_read=True)
    return _newest(rows).get(path_key)


def revisions(object_id: str, limit: int) -> list[RevisionModel]:
    return list(RevisionModel.query(object_id, scan_index_forward=False, limit=limit, consistent_read=True))


def get_revision(object_id: str, rev: int) -> RevisionModel | None:
    try:
        return RevisionModel.get(object_id, rev, consistent_read=True)
    except RevisionModel.DoesNotExist:
        return None


# -- the tree as the commit planner sees it ------------------------------------------------------
class TreeReader:
    """``TreeView`` over the paths table: batch-prefetched, then read on demand."""

    def __init__(self, namespace_id: str) -> None:
        self._namespace_id = namespace_id
        self._nodes: dict[str, Node | None] = {}
        self._below: dict[str, list[Node]] = {}

    def prefetch(self, path_keys: Iterable[str]) -> None:
        wanted = sorted(set(path_keys) - self._nodes.keys())
        for start in range(0, len(wanted), 50):  # BatchGetItem takes 100 keys: two per path
            chunk = wanted[start : start + 50]
            self._nodes.update(dict.fromkeys(chunk))
            rows = PathModel.batch_get(_both_keys(self._namespace_id, chunk), consistent_read=True)
            self._nodes.update(_newest(rows))

    def get(self, path_key: str) -> Node | None:
        if path_key not in self._nodes:
            self.prefetch([path_key])
        return self._nodes[path_key]

    def descendants(self, path_key: str) -> list[Node]:
        """The live nodes below ``path_key`` (and tombstones written before the two-range layout)."""
        if path_key not in self._below:
            rows = PathModel.query(
                self._namespace_id,
                PathModel.path_key.startswith(keys.path_rows_below(path_key)),
                consistent_read=True,
            )
            nodes = (codec.node_from_row(row) for row in rows)
            self._below[path_key] = [n for n in nodes if paths.is_within(n.path_key, path_key)]
        return self._below[path_key]


def keys_to_prefetch(op_paths: Iterable[str]) -> set[str]:
    wanted: set[str] = set()
    for path in op_paths:
        wanted.add(paths.key(path))
        wanted.update(paths.key(a) for a in paths.ancestors(path))
    return wanted
