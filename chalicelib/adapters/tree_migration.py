"""Moving a namespace's paths rows written before the two-range layout into it (keys.py).

Before it, every row sat at its live key, tombstones included, and no row carried ``folder``. The
journal and every read stay correct on such rows (listings filter the tombstones out, lookups read
both keys), except a folder listing, which reads the ``by_folder`` index and so sees only rows
that carry ``folder``. So the first folder or tree listing of a namespace without ``tree_layout``
walks its live key range once: a tombstone found there moves to its tombstone key, a live row gets
its ``folder``; then ``tree_layout`` is set and the walk never runs again. Each step is conditional
on the row not having changed since it was read (a commit writing the path meanwhile writes it in
the new layout itself), so the walk can run beside commits and beside another walk, and it notes
how far it got after each page, so a walk cut short (a Lambda timeout) goes on from there.
"""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError, UpdateError

from chalicelib.adapters import codec, keys
from chalicelib.adapters.models import NamespaceModel, PathModel, transaction
from chalicelib.domain import paths

_PAGE = 500
_RACES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def is_current(namespace: NamespaceModel) -> bool:
    return namespace.tree_layout is not None and int(namespace.tree_layout) >= keys.TREE_LAYOUT


def migrate(namespace: NamespaceModel) -> None:
    """Bring every paths row of the namespace into the current layout (idempotent)."""
    if is_current(namespace):
        return
    namespace_id = namespace.namespace_id
    after = namespace.tree_migrated_to
    while True:
        start = PathModel.path_key > after if after else PathModel.path_key >= keys.LIVE_ROWS_START
        rows = list(PathModel.query(namespace_id, start, consistent_read=True, limit=_PAGE, page_size=_PAGE))
        for row in rows:
            _move(namespace_id, row)
        if len(rows) < _PAGE:
            break
        after = rows[-1].path_key
        NamespaceModel(namespace_id).update(actions=[NamespaceModel.tree_migrated_to.set(after)])
    NamespaceModel(namespace_id).update(
        actions=[NamespaceModel.tree_layout.set(keys.TREE_LAYOUT), NamespaceModel.tree_migrated_to.remove()]
    )


def _move(namespace_id: str, row: PathModel) -> None:
    unchanged = PathModel.seq == row.seq
    node = codec.node_from_row(row)
    if node.deleted:
        tombstone = codec.node_to_row(namespace_id, node)
        try:
            with transaction() as tx:
                tx.save(tombstone, condition=PathModel.seq.does_not_exist() | (PathModel.seq < node.seq))
                tx.delete(row, condition=unchanged)
        except TransactWriteError as exc:
            codes = {r.code for r in exc.cancellation_reasons or [] if r is not None} - {"None"}
            if not codes or not codes <= _RACES:
                raise
            # The path was written meanwhile (so in the new layout), or another walk moved it.
    elif row.folder is None:
        folder = keys.folder_children(namespace_id, paths.parent(node.path_key))
        try:
            row.update(actions=[PathModel.folder.set(folder)], condition=unchanged)
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            # written meanwhile, with its folder
