"""The AWS emulator: moto's server, made safe for concurrent requests, strict and durable like AWS.

moto applies a DynamoDB transaction by copying each table, checking, writing, and on failure
putting the copy back, with no lock: two requests at once can interleave, and a failed
transaction can undo another's write. DynamoDB itself is linearizable per item, so we serialise
moto's DynamoDB requests, which is what makes conditional commits race-safe here too. moto's
copy of every table a transaction touches also makes each commit cost as much as the whole
journal; we keep copies of the touched items only, and put those back on failure. And moto's
dispatcher lists its own package folder on every request: we list it once.

In front of moto sit two WSGI layers: ``StrictS3`` (signatures, expiry and checksums, as S3 checks
them) and, when a data folder is given, ``Durable`` (a log of acknowledged writes, replayed at
start, with the ids moto's S3 made up given back to it: ``s3_ids``). Replay goes below ``StrictS3``:
a URL that has since expired was valid when it was served.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import logging
import os
import signal
import sys
import threading
import types
from pathlib import Path
from typing import Any

import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from infra.local import dynamodb_params, dynamodb_query, dynamodb_shortcuts, s3_listing
from infra.local.durable import Durable, Replayed
from infra.local.forward import Forward
from infra.local.moto_patches import MotoVersionError, require_written_for
from infra.local.s3_ids import S3Ids
from infra.local.s3_put import PlainPuts
from infra.local.strict_s3 import StrictS3
from infra.local.wsgi_server import WsgiServer

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


def _cached_module_list() -> None:
    # moto's dispatcher lists its package folder (150 isdir calls) under a global lock on every
    # request, to learn whether the Host header names a service; the folder does not change.
    if getattr(moto_backends.list_of_moto_modules, "_driftbox_cached", False):
        return
    modules = tuple(moto_backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules._driftbox_cached = True  # type: ignore[attr-defined]
    moto_backends.list_of_moto_modules = list_of_moto_modules


def _item_key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: op["Item"][name] for name in names}


def _cheap_transactions() -> None:
    if getattr(DynamoDBBackend.transact_write_items, "_driftbox_cheap", False):
        return
    original = DynamoDBBackend.transact_write_items
    # moto's own rollback copies whole tables; hand it the tables themselves instead.
    dynamodb_models.copy = types.SimpleNamespace(  # type: ignore[assignment,attr-defined]
        deepcopy=lambda value, *a: value if isinstance(value, Table) else copy.deepcopy(value, *a),
        copy=copy.copy,
    )

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            try:
                key = _item_key(self, op_type, op)
                before.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
            except Exception:  # noqa: S112 - moto reports the malformed op itself
                continue
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, old in reversed(before):
                if old is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, old.to_json()["Attributes"])
            raise

    transact_write_items._driftbox_cheap = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class Emulator:
    """moto's server in a thread of this process, behind our WSGI layers."""

    def __init__(self, server: WsgiServer, durable: Durable | None, replayed: Replayed | None) -> None:
        self._server = server
        self._durable = durable
        self.replayed = replayed
        self._thread = threading.Thread(target=server.serve_forever, name="aws-emulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> Emulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        if self._durable is not None:
            self._durable.close()


def _moto_app() -> Any:
    require_written_for()  # before any patch: on another moto they may answer wrongly, not fail
    _serialise_dynamodb()
    _cheap_transactions()
    _cached_module_list()
    dynamodb_shortcuts.install()
    dynamodb_query.install()
    s3_listing.install()
    dynamodb_params.install()
    return PlainPuts(DomainDispatcherApplication(create_backend_app))


def wsgi_app() -> Any:
    """moto's application behind StrictS3, with nothing kept on disk."""
    return StrictS3(_moto_app())


def start(
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    data_dir: Path | None = None,
    fsync: bool = True,
    elsewhere: dict[str, str] | None = None,
) -> Emulator:
    """Start the emulator on ``host:port`` in a thread of this process.

    With ``data_dir``, the writes logged there are replayed before the port opens, and every write
    acknowledged from then on is logged first. Requests for a service in ``elsewhere`` are passed
    on to the address given for it (``forward.Forward``).
    """
    durable = replayed = None
    app = _moto_app()
    if data_dir is not None:
        durable = Durable(app, data_dir, dynamodb_lock=_DYNAMODB_LOCK, fsync=fsync, made_ids={"s3": S3Ids()})
        replayed = durable.replay()
        app = durable
    front: Any = StrictS3(app)
    if elsewhere:
        front = Forward(front, elsewhere)
    return Emulator(WsgiServer(host, port, front), durable, replayed).start()


def main(argv: list[str] | None = None) -> None:
    """One emulator process of the local stack (``aws_services``): ready line on stdout, then serve.

    It stops on SIGTERM or SIGINT, and at once when its parent goes (stdin closes), however the
    parent went: a killed stack leaves no emulator behind holding its port or its data.
    """
    parser = argparse.ArgumentParser(prog="python -m infra.local.emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--elsewhere", action="append", default=[], metavar="SERVICE=URL")
    args = parser.parse_args(argv)
    # The stack's own format, on the stderr it shares with the stack (one line per write).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for chatty in ("botocore", "boto3", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    elsewhere = dict(item.split("=", 1) for item in args.elsewhere)
    try:
        emulator = start(
            args.host, args.port, data_dir=args.data_dir, fsync=not args.no_fsync, elsewhere=elsewhere
        )
    except MotoVersionError as exc:
        sys.exit(f"python -m infra.local.emulator: {exc}")  # the stack shows its children's stderr
    replayed = dataclasses.asdict(emulator.replayed) if emulator.replayed else None
    print("READY " + json.dumps({"url": emulator.url, "replayed": replayed}), flush=True)

    def orphaned() -> None:
        sys.stdin.buffer.read()  # returns at end of file: the parent is gone
        os._exit(1)

    threading.Thread(target=orphaned, name="parent-watch", daemon=True).start()
    stop.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
