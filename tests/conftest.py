"""Test setup: the environment every backend module reads, pointed at one moto server."""

from __future__ import annotations

import os
import socket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TABLES = (
    "users emails devices tokens throttle memberships namespaces paths revisions journal chunks idempotency connections"
)

# Before any chalicelib import: Settings are read once, at import.
os.environ.setdefault("DRIFTBOX_TEST_MOTO_PORT", str(_free_port()))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ['DRIFTBOX_TEST_MOTO_PORT']}",
        "CHUNK_BUCKET": "driftbox-test-chunks",
        # Cheap hashing in tests only; production keeps OWASP's 19 MiB, t=2.
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **{f"{t.upper()}_TABLE": f"driftbox-test-{t}" for t in _TABLES.split()},
    }
)
