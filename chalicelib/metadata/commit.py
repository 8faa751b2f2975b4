"""The commit use case: verify chunks, plan on the current head, land atomically, retry on races.

Commits to one namespace are serialised by DynamoDB: each lands only if the head it planned on is
still the head (an optimistic, conditional transaction), so no lock lives in any one process.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from chalicelib.accounts.auth import Principal, require_role
from chalicelib.adapters import answers, blobs, grants, keys
from chalicelib.adapters import metadata as store
from chalicelib.domain import ids
from chalicelib.domain.commit import plan_commit
from chalicelib.domain.content import sized_chunks
from chalicelib.domain.model import MoveOp, Op, PutOp
from chalicelib.errors import Busy, Conflict, InvalidRequest, MissingChunks, QuotaExceeded, ServiceError
from chalicelib.notify import outbox

_RETRY_BUDGET_S = 20.0  # API Gateway gives up at 29 s


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 128 or not value.isascii() or not value.isprintable():
        raise InvalidRequest("Idempotency-Key must be 1 to 128 printable ASCII characters")
    return value


def request_hash(namespace_id: str, payload: Any) -> str:
    canonical = json.dumps([namespace_id, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(stored: answers.Answer, expected_hash: str) -> dict[str, Any]:
    if stored.request_hash != expected_hash:
        raise Conflict(
            "this Idempotency-Key was already used for a different request", reason="idempotency_key_reused"
        )
    return stored.response


def verify_chunks(namespace_id: str, wanted: dict[str, int]) -> None:
    """Every chunk the puts name (``wanted``: hash -> size) must be granted, or stored under the
    namespace with its size."""
    if not wanted:
        return
    granted = grants.granted_chunks(namespace_id, wanted)
    unchecked = [h for h in wanted if h not in granted]
    stored = blobs.stored_sizes(namespace_id, unchecked)
    missing = sorted(h for h, size in stored.items() if size != wanted[h])
    grants.grant_chunks(namespace_id, {h: wanted[h] for h, size in stored.items() if size == wanted[h]})
    if missing:
        raise MissingChunks("upload these chunks, then commit again", hashes=missing)
    mismatched = sorted(h for h, size in granted.items() if size != wanted[h])
    if mismatched:
        raise InvalidRequest("these chunks have another size than the file's size implies", hashes=mismatched)


def _op_paths(ops: list[Op]) -> list[str]:
    found: list[str] = []
    for op in ops:
        found += [op.from_path, op.to_path] if isinstance(op, MoveOp) else [op.path]
    return found


def apply_ops(
    principal: Principal,
    namespace_id: str,
    ops: list[Op],
    *,
    answer_key: str | None = None,
    answer_hash: str = "",
) -> dict[str, Any]:
    """Plan ``ops`` on the current head and land them; retry from scratch if another commit won."""
    deadline = time.monotonic() + _RETRY_BUDGET_S
    delay_s = 0.005
    while True:
        namespace = store.catch_up(namespace_id)
        head = int(namespace.head_seq)
        view = store.TreeReader(namespace_id)
        view.prefetch(store.keys_to_prefetch(_op_paths(ops)))
        plan = plan_commit(
            view,
            ops,
            head_seq=head,
            device_id=principal.device_id,
            now_ms=int(time.time() * 1000),
            new_id=lambda: ids.new("o"),
        )
        usage = int(namespace.usage_bytes) + plan.usage_delta_bytes
        if plan.usage_delta_bytes > 0 and usage > int(namespace.quota_bytes):
            raise QuotaExceeded(
                "this commit would exceed the namespace's quota",
                quota_bytes=int(namespace.quota_bytes),
                usage_bytes=int(namespace.usage_bytes),
            )
        response = {"results": plan.results, "head_seq": head + len(plan.entries)}
        answer = None if answer_key is None else answers.prepare(answer_key, answer_hash, response)
        try:
            store.write_commit(namespace, plan.entries, plan.usage_delta_bytes, answer)
        except store.AlreadyAnswered as done:
            return _replay(done.answer, answer_hash)
        except store.HeadMoved:
            if time.monotonic() > deadline:
                raise Busy("the namespace is too busy; retry the commit") from None
            time.sleep(random.uniform(0, delay_s))
            delay_s = min(delay_s * 2, 0.2)
            continue
        if plan.entries:
            last_seq = plan.entries[-1].seq
            store.apply(namespace_id, plan.entries)
            queued = outbox.publish(namespace_id, last_seq)
            store.mark_applied(namespace_id, last_seq, notified=queued)
        return response


def _land(
    principal: Principal,
    namespace_id: str,
    ops: list[Op],
    *,
    answer_key: str | None = None,
    answer_hash: str = "",
) -> dict[str, Any]:
    wanted = sized_chunks(op.content for op in ops if isinstance(op, PutOp))
    verify_chunks(namespace_id, wanted)
    response = apply_ops(principal, namespace_id, ops, answer_key=answer_key, answer_hash=answer_hash)
    # Now in the namespace's usage: no longer counted against what it may be offered (chunks/service).
    grants.settle_offers(namespace_id, wanted)
    return response


def commit(
    principal: Principal, namespace_id: str, ops: list[Op], idempotency_key: str | None, payload_hash: str
) -> dict[str, Any]:
    """Land ``ops``, or, for an Idempotency-Key already answered, replay that answer.

    Retries of one key may run at once: each plans and tries to land, and only one transaction can
    save the key's answer. Every other one replays it, including one whose own plan failed because
    the first landed meanwhile (its put is no longer new): whatever a retry would have raised, the
    key's answer is looked for first.
    """
    require_role(principal, namespace_id, write=True)
    if idempotency_key is None:
        return _land(principal, namespace_id, ops)
    answer_key = keys.idempotency(principal.user_id, idempotency_key)
    stored = answers.find(answer_key)
    if stored is not None:
        return _replay(stored, payload_hash)
    try:
        return _land(principal, namespace_id, ops, answer_key=answer_key, answer_hash=payload_hash)
    except ServiceError:
        stored = answers.find(answer_key)
        if stored is None:
            raise
        return _replay(stored, payload_hash)
