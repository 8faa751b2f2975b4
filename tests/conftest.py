"""Test setup: the environment every backend module reads, pointed at one moto server."""

from __future__ import annotations

import os

from infra.local.ports import free_ports

_TABLES = (
    "users emails devices tokens throttle memberships namespaces paths revisions journal chunks "
    "offers idempotency connections"
)

# Under pytest-xdist each worker is a process of its own, with its own moto server and stacks: each
# picks its ports from its own part of the pool (infra/local/ports.py), so no two pick the same one.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    _share, _count = int(_worker.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    _step = (32_000 - 10_000) // _count
    os.environ["DRIFTBOX_PORT_RANGE"] = f"{10_000 + _share * _step}-{10_000 + (_share + 1) * _step}"

# Before any chalicelib import: Settings are read once, at import.
_moto_port, _gateway_port = free_ports(2)
os.environ["DRIFTBOX_TEST_MOTO_PORT"] = str(_moto_port)
# The WebSocket gateway the functional tests start: the app's @connections client goes there.
os.environ["DRIFTBOX_TEST_GATEWAY_PORT"] = str(_gateway_port)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ['DRIFTBOX_TEST_MOTO_PORT']}",
        "CHUNK_BUCKET": "driftbox-test-chunks",
        "CHANGES_QUEUE_NAME": "driftbox-test-changes",
        "WEBSOCKET_MANAGEMENT_URL": f"http://127.0.0.1:{os.environ['DRIFTBOX_TEST_GATEWAY_PORT']}",
        # Cheap hashing in tests only; production keeps OWASP's 19 MiB, t=2.
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **{f"{t.upper()}_TABLE": f"driftbox-test-{t}" for t in _TABLES.split()},
    }
)
