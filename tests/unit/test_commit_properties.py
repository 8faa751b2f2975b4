"""plan_commit under random commits: the tree stays a tree, the journal gapless, each rev one version."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.domain import paths
from chalicelib.domain.commit import plan_commit
from chalicelib.domain.model import FILE, FOLDER, DeleteOp, MkdirOp, MoveOp, Node, Op, Plan, PutOp, RestoreOp
from chalicelib.domain.projection import nodes_from_entries
from chalicelib.errors import Conflict, CursorReset, InvalidRequest
from tests.unit.fake_tree import FakeTree, blob

# Names that collide by case, by case folding (ß/SS) and by normalization (é NFC/NFD).
COMPONENTS = ("a", "A", "b", "\u00df", "SS", "\u00e9", "e\u0301")
BLOBS = (blob(b""), blob(b"x"), blob(b"yy"), blob(b"zzz"))
Outcome = Literal["ok", "conflict", "invalid", "reset"]

_raw_path = st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))


@dataclass
class History:
    """What the journal has said so far, to check each new commit against."""

    usage_bytes: int = 0
    last_rev: dict[str, int] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    # rev -> the one version it names: (object_id, content_hash, deleted)
    versions: dict[int, tuple[str, str, bool]] = field(default_factory=dict)


def _live(tree: FakeTree, path: str) -> Node | None:
    node = tree.at(path)
    return node if node is not None and node.live else None


def _draw_path(data: st.DataObject, tree: FakeTree, *, existing: bool = False) -> str:
    """A path, often one the tree knows in another case; ``existing``: most often a live one."""
    recase = st.sampled_from([str, str, str.upper, str.lower, str.swapcase])
    live = sorted(n.path for n in tree.live().values())
    if existing and live and data.draw(st.integers(0, 3)):
        return paths.normalize(data.draw(recase)(data.draw(st.sampled_from(live))))  # type: ignore[arg-type,operator]
    known = sorted(n.path for n in tree.nodes.values())
    choices = [_raw_path]
    if known:
        choices.append(st.tuples(st.sampled_from(known), recase).map(lambda pair: pair[1](pair[0])))  # type: ignore[arg-type,operator]
    return paths.normalize(data.draw(st.one_of(*choices)))


def _draw_rev(data: st.DataObject, tree: FakeTree, path: str) -> int | None:
    live = _live(tree, path)
    choice = data.draw(st.sampled_from(["current", "current", "current", "current", "none", "stale"]))
    if choice == "current":
        return live.rev if live else None
    if choice == "none":
        return None
    # Stale: often a rev the namespace has used, on this object or on another.
    known = sorted({n.rev for n in tree.nodes.values()})
    use_known: bool = data.draw(st.booleans())
    if known and use_known:
        return data.draw(st.sampled_from(known))
    return data.draw(st.integers(min_value=1, max_value=max(6, tree.head_seq)))


def _draw_seen_seq(data: st.DataObject, tree: FakeTree) -> int | None:
    if data.draw(st.booleans()):
        return None
    return data.draw(st.integers(min_value=max(0, tree.head_seq - 3), max_value=tree.head_seq + 1))


def _draw_op(data: st.DataObject, tree: FakeTree) -> Op:
    kind = data.draw(st.sampled_from(["put", "put", "mkdir", "delete", "move", "move", "restore"]))
    path = _draw_path(data, tree, existing=kind in ("delete", "move"))
    if kind == "put":
        return PutOp(path, _draw_rev(data, tree, path), data.draw(st.sampled_from(BLOBS)))
    if kind == "restore":
        return RestoreOp(path, data.draw(st.sampled_from(BLOBS)))
    if kind == "mkdir":
        return MkdirOp(path)
    if kind == "delete":
        return DeleteOp(path, _draw_rev(data, tree, path), _draw_seen_seq(data, tree))
    folders = sorted(n.path for n in tree.live().values() if n.kind == FOLDER)
    if folders and data.draw(st.booleans()):  # type: ignore[arg-type,operator]
        path = data.draw(st.sampled_from(folders))  # moving folders with contents is where bugs hide
    where = data.draw(st.sampled_from(["anywhere", "anywhere", "below itself", "/x"]))
    if where == "anywhere":
        to_path = _draw_path(data, tree)
    elif where == "below itself":
        to_path = paths.normalize(f"{path}/{data.draw(st.sampled_from(COMPONENTS))}")
    else:
        to_path = "/x"
    return MoveOp(path, to_path, _draw_rev(data, tree, path))


def _file_above(tree: FakeTree, path: str) -> bool:
    return any((node := _live(tree, a)) is not None and node.kind == FILE for a in paths.ancestors(path))


def _predict(tree: FakeTree, op: Op) -> Outcome:
    """What a single-op commit must come to, by the rules of DESIGN.md section 3."""
    if isinstance(op, PutOp | RestoreOp):
        live = _live(tree, op.path)
        if live is not None and live.kind == FOLDER:
            return "conflict"
        if isinstance(op, PutOp) and op.parent_rev != (live.rev if live else None):
            return "conflict"
        return "ok" if live is not None or not _file_above(tree, op.path) else "conflict"
    if isinstance(op, MkdirOp):
        live = _live(tree, op.path)
        if live is not None:
            return "ok" if live.kind == FOLDER else "conflict"
        return "conflict" if _file_above(tree, op.path) else "ok"
    if isinstance(op, DeleteOp) and op.seen_seq is not None and op.seen_seq > tree.head_seq:
        return "reset"
    source_path = op.path if isinstance(op, DeleteOp) else op.from_path
    source = _live(tree, source_path)
    if source is None or (
        op.parent_rev != source.rev and not (op.parent_rev is None and source.kind == FOLDER)
    ):
        return "conflict"
    if isinstance(op, DeleteOp):
        if source.kind == FOLDER and op.seen_seq is not None:
            doomed = [
                n
                for k, n in tree.live().items()
                if k == source.path_key or paths.is_within(k, source.path_key)
            ]
            if any(n.seq > op.seen_seq for n in doomed):
                return "conflict"
        return "ok"
    if paths.is_within(paths.key(op.to_path), source.path_key):
        return "invalid"
    if paths.key(op.to_path) == source.path_key:
        return "ok"
    if _live(tree, op.to_path) is not None or _file_above(tree, op.to_path):
        return "conflict"
    return "ok"


def _check_postconditions(before: FakeTree, after: FakeTree, op: Op, result: Plan) -> None:
    """What a successful single-op commit must have done."""
    if isinstance(op, PutOp | RestoreOp):
        node = _live(after, op.path)
        assert node is not None
        assert node.kind == FILE
        assert node.content.content_hash == op.content.content_hash
        old = _live(before, op.path)
        if old is not None:
            assert node.object_id == old.object_id
            if old.content.content_hash == op.content.content_hash:
                assert result.entries == []
    elif isinstance(op, MkdirOp):
        node = _live(after, op.path)
        assert node is not None
        assert node.kind == FOLDER
    elif isinstance(op, DeleteOp):
        gone = paths.key(op.path)
        doomed = [k for k in before.live() if k == gone or paths.is_within(k, gone)]
        assert [e.op for e in result.entries] == ["delete"] * len(doomed)
        assert not [k for k in after.live() if k == gone or paths.is_within(k, gone)]
    else:
        source = _live(before, op.from_path)
        assert source is not None
        moving = [
            n for k, n in before.live().items() if k == source.path_key or paths.is_within(k, source.path_key)
        ]
        moved = [e for e in result.entries if e.op == "move"]
        assert len(moved) in (0, len(moving))
        assert all(e.from_path is not None for e in moved)
        root = _live(after, op.to_path)
        assert root is not None
        assert root.object_id == source.object_id
        new_prefix = root.path
        for node in moving:
            there = _live(after, paths.rebase(node.path, source.path, new_prefix))
            assert there is not None
            assert (there.object_id, there.rev, there.kind) == (node.object_id, node.rev, node.kind)
        if paths.key(op.to_path) != source.path_key:
            assert _live(after, op.from_path) is None
        if root.path == source.path:
            assert result.entries == [], "a move that changes nothing is no entry"


def _check_entries(tree: FakeTree, ops: list[Op], result: Plan, history: History) -> None:
    head = tree.head_seq
    assert [e.seq for e in result.entries] == list(range(head + 1, head + 1 + len(result.entries)))
    assert len(result.results) == len(ops)
    for entry in result.entries:
        assert (entry.from_path is not None) == (entry.op == "move")
        version = (entry.object_id, entry.content.content_hash, entry.deleted)
        if entry.op == "move":
            assert entry.rev == history.last_rev[entry.object_id], "a move keeps the rev"
            assert history.versions[entry.rev] == version, "a moved rev names the same version"
        else:
            assert entry.rev == entry.seq, "a new revision's rev is its entry's seq"
            assert entry.rev not in history.versions, f"rev {entry.rev} names two versions"
            history.versions[entry.rev] = version
        history.last_rev[entry.object_id] = entry.rev
        assert history.kind.setdefault(entry.object_id, entry.kind) == entry.kind, "an object keeps its kind"
    history.usage_bytes += result.usage_delta_bytes


def _check_replay_order(tree: FakeTree, result: Plan) -> None:
    """A client replaying the entries one by one creates parents first and empties folders first."""
    state = dict(tree.nodes)
    for entry in result.entries:
        state.update(nodes_from_entries([entry]))
        if entry.deleted:
            below = [k for k, n in state.items() if n.live and paths.is_within(k, paths.key(entry.path))]
            assert not below, f"{entry.path} deleted before {below}"
        else:
            for ancestor in paths.ancestors(entry.path):
                above = state.get(paths.key(ancestor))
                assert above is not None and above.live and above.kind == FOLDER, (
                    f"{entry.path} before {ancestor}"
                )


def _check_tree(tree: FakeTree, history: History) -> None:
    live = tree.live()
    for key, node in tree.nodes.items():
        assert node.path_key == key
        assert paths.normalize(node.path) == node.path
    for node in live.values():
        for ancestor in paths.ancestors(node.path):
            above = live.get(paths.key(ancestor))
            assert above is not None and above.kind == FOLDER, f"{node.path}: {ancestor} is not a live folder"
            assert above.path == ancestor, "a child is spelled with its parent's case"
    holders = Counter(n.object_id for n in tree.nodes.values() if n.object_id is not None)
    assert all(count == 1 for count in holders.values()), "one path per object"
    assert history.usage_bytes == sum(n.content.size for n in live.values() if n.kind == FILE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_commits_keep_the_tree_and_the_journal_sound(data: st.DataObject) -> None:
    tree, history = FakeTree(), History()
    for _ in range(data.draw(st.integers(min_value=1, max_value=20), label="commits")):
        ops = [_draw_op(data, tree) for _ in range(data.draw(st.integers(min_value=1, max_value=3)))]
        before = FakeTree(dict(tree.nodes), tree.head_seq, tree.ids_issued)
        predicted = _predict(tree, ops[0]) if len(ops) == 1 else None
        event(f"{len(ops)} op(s) predicted {predicted}" if predicted else "several ops")
        try:
            result = plan_commit(
                tree, ops, head_seq=tree.head_seq, device_id="d", now_ms=0, new_id=tree.new_id
            )
        except Conflict as exc:
            assert predicted in (None, "conflict"), f"unexpected conflict {exc.details}"
            assert exc.details["conflicts"]
            assert (tree.nodes, tree.head_seq) == (before.nodes, before.head_seq)
            continue
        except CursorReset:
            assert predicted in (None, "reset")
            assert any(isinstance(op, DeleteOp) and op.seen_seq is not None for op in ops)
            assert (tree.nodes, tree.head_seq) == (before.nodes, before.head_seq)
            continue
        except InvalidRequest:
            assert predicted in (None, "invalid")
            assert any(isinstance(op, MoveOp) for op in ops)
            assert (tree.nodes, tree.head_seq) == (before.nodes, before.head_seq)
            continue
        assert predicted in (None, "ok"), f"{ops[0]} should have been refused"
        _check_entries(tree, ops, result, history)
        _check_replay_order(tree, result)
        moved = sum(e.op == "move" for e in result.entries)
        event("commit moves a folder with contents" if moved > 1 else "commit moves at most one node")
        tree.apply(result)
        if len(ops) == 1:
            _check_postconditions(before, tree, ops[0], result)
        _check_tree(tree, history)
