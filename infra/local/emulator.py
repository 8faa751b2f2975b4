"""The AWS emulator: moto's server, made safe for concurrent requests, and our resources in it.

moto applies a DynamoDB transaction by copying each table, checking, writing, and on failure
putting the copy back, with no lock: two requests at once can interleave, and a failed
transaction can undo another's write. DynamoDB itself is linearizable per item, so we serialise
moto's DynamoDB requests, which is what makes conditional commits race-safe here too.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import boto3
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

from chalicelib.adapters.models import ALL_MODELS
from chalicelib.settings import SETTINGS

_DYNAMODB_LOCK = threading.RLock()


def _serialise_dynamodb() -> None:
    if getattr(DynamoHandler.call_action, "_driftbox_serialised", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    call_action._driftbox_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def start(host: str = "127.0.0.1", port: int = 5000) -> ThreadedMotoServer:
    """Start moto's server in this process, in a thread."""
    _serialise_dynamodb()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def create_resources() -> None:
    """Create every table and the chunk bucket (idempotent)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    s3 = boto3.client("s3", region_name=SETTINGS.region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if SETTINGS.chunk_bucket not in existing:
        s3.create_bucket(Bucket=SETTINGS.chunk_bucket)
