"""Every storage key format in one place: S3 object keys and composite DynamoDB keys."""

from __future__ import annotations


def chunk_object(namespace_id: str, chunk_hash: str) -> str:
    # Per namespace: holding the key proves a member uploaded the bytes (no cross-user hash claim).
    return f"chunks/{namespace_id}/{chunk_hash}"


def manifest_object(namespace_id: str, list_hash: str) -> str:
    return f"manifests/{namespace_id}/{list_hash}"


def journal_object(namespace_id: str, last_seq: int, nonce: str) -> str:
    return f"journal/{namespace_id}/{last_seq:020d}-{nonce}.json.gz"


def idempotency(user_id: str, idempotency_key: str) -> str:
    return f"{user_id}#{idempotency_key}"


def login_throttle(email_key: str) -> str:
    return f"login#{email_key}"
