"""Durable local data: every write the emulator acknowledges is in a log on disk first.

moto keeps everything in memory; a local stack that forgot its data on restart would look, to a
client, like a server on which everything was deleted. This WSGI layer sits in front of moto and
appends each successful DynamoDB and S3 write request, as it came over the wire, to a log in the
data folder; at start the log is replayed through moto before the server takes a request. The log
holds AWS's wire protocol, not moto's internals, so it survives moto upgrades.

Ordering and durability:
- A write is applied and appended under one lock (DynamoDB: the emulator's lock, which already
  serialises DynamoDB; S3: a lock per object key), so the log's order is the order of application.
- No response leaves before the log is durable up to the last write the request could have seen:
  a writer waits for its own record, a reader for the log's tail at the time it read. A flusher
  thread fsyncs whatever has accumulated (group commit), so concurrent writers share one fsync.
- A record is length-prefixed and CRC-checked: a record torn by a kill is cut off at replay, and
  since its request never got a response, no acknowledged write is lost.

Replay rebuilds the same state, ids included: a record also keeps the ids the emulator generated in
its answer (a multipart upload's id, an object version's), read by a ``MadeIds`` port, and after
replaying the request the port makes the emulator's state carry the logged ids again, so the later
records, and the clients, still name what they named. A record that cannot be replayed (refused,
raising, or corrupt with whole records after it) is reported by its number and byte offset and
skipped: the emulator always starts.

SQS is not logged: queues are recreated from the template at start, and change messages are
hints that clients recover from by cursor.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from infra.local.write_log import (
    Record,
    WriteLog,
    decode,
    decode_record,
    encode,
    frame,
    fsync_dir,
    read_records,
    scan,
)

# The log's file format lives in write_log; these names are used from here too.
__all__ = [
    "LOG_NAME",
    "Durable",
    "MadeIds",
    "NoMadeIds",
    "Record",
    "Replayed",
    "WriteLog",
    "decode",
    "decode_record",
    "encode",
    "frame",
    "fsync_dir",
    "read_records",
    "scan",
    "service_of",
]

log = logging.getLogger("driftbox.local.durable")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]

LOG_NAME = "aws-writes.log"
_DYNAMODB_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "UpdateTimeToLive",
        "UpdateContinuousBackups",
        "TagResource",
        "UntagResource",
    }
)
_S3_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
_S3_STRIPES = 64


class MadeIds(Protocol):
    """The ids an emulator makes up in its answers: read them, and make a replay reuse them."""

    def made(self, environ: dict[str, str], headers: Headers, answer: bytes) -> dict[str, Any]: ...

    def restore(
        self, environ: dict[str, str], logged: dict[str, Any], headers: Headers, answer: bytes
    ) -> None: ...


class NoMadeIds:
    """For a service whose answers carry no id that a later request names."""

    def made(self, environ: dict[str, str], headers: Headers, answer: bytes) -> dict[str, Any]:
        return {}

    def restore(
        self, environ: dict[str, str], logged: dict[str, Any], headers: Headers, answer: bytes
    ) -> None:
        return None


def service_of(environ: dict[str, Any]) -> str:
    """The AWS service a request is for, from its SigV4 credential scope (header or query)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = environ.get("QUERY_STRING", "")
        for part in query.split("&"):
            if part.startswith("X-Amz-Credential="):
                scope = part.split("=", 1)[1].replace("%2F", "/").replace("%2f", "/")
    pieces = scope.split("/")
    return pieces[3] if len(pieces) == 5 else ""


def _kept_environ(environ: dict[str, Any]) -> dict[str, str]:
    """The parts of a WSGI environ that describe the request itself (all strings)."""
    return {
        key: value
        for key, value in environ.items()
        if isinstance(value, str) and (key.isupper() or key == "wsgi.url_scheme")
    }


@dataclass(frozen=True)
class Replayed:
    records: int
    failed: int
    bytes: int
    seconds: float
    cut_bytes: int


def _call(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion; return status, headers and the whole body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], body


def _wsgi_environ(kept: dict[str, str], body: bytes) -> dict[str, Any]:
    environ: dict[str, Any] = dict(kept)
    environ.update(
        {
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
    )
    return environ


class Durable:
    """The WSGI layer: logs acknowledged writes, replays them at start."""

    def __init__(
        self,
        app: WSGIApp,
        data_dir: Path,
        *,
        dynamodb_lock: Any,
        fsync: bool = True,
        made_ids: dict[str, MadeIds] | None = None,
    ) -> None:
        self._app = app
        self._made_ids = made_ids or {}  # by service
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = data_dir / LOG_NAME
        self._dynamodb_lock = dynamodb_lock
        self._s3_locks = [threading.Lock() for _ in range(_S3_STRIPES)]
        self._fsync = fsync
        self._log: WriteLog | None = None

    def replay(self) -> Replayed:
        """Apply the log to the (empty) emulator, cutting off a torn last record; then open it."""
        started = time.monotonic()
        records = failed = good_end = 0
        if self._path.exists():
            for number, record in enumerate(scan(self._path), start=1):
                good_end = record.end
                records += 1
                problem = self._replay_one(record)
                if problem:
                    failed += 1
                    log.warning(
                        "replay: record %d at byte %d of %s skipped: %s",
                        number,
                        record.start,
                        self._path.name,
                        problem,
                    )
            size = self._path.stat().st_size
        else:
            size = 0
        cut = size - good_end
        if cut:
            log.warning("replay: cut %d bytes of a torn record off the end of %s", cut, self._path.name)
            with self._path.open("r+b") as file:
                file.truncate(good_end)
                os.fsync(file.fileno())
        self._log = WriteLog(self._path, fsync=self._fsync)
        return Replayed(records, failed, good_end, time.monotonic() - started, cut)

    def _replay_one(self, record: Record) -> str | None:
        """Apply one record; what went wrong if it could not be applied."""
        if record.payload is None:
            return "its checksum does not match (damaged in place)"
        try:
            kept, body, logged_ids = decode_record(record.payload)
        except ValueError as exc:
            return str(exc)
        what = f"{kept.get('REQUEST_METHOD')} {kept.get('PATH_INFO')}?{kept.get('QUERY_STRING', '')}"
        try:
            status, headers, answer = _call(self._app, _wsgi_environ(kept, body))
            if not status.startswith("2"):
                return f"{what} -> {status} {answer[:200]!r}"
            self._ids_of(kept).restore(kept, logged_ids, headers, answer)
        except Exception as exc:  # one bad record must not keep the emulator down
            return f"{what} raised {exc!r}"
        return None

    def _ids_of(self, kept: dict[str, str]) -> MadeIds:
        return self._made_ids.get(service_of(kept)) or NoMadeIds()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def syncs(self) -> int:
        return self._log.syncs if self._log else 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service = service_of(environ)
        if service not in ("dynamodb", "s3") or self._log is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        kept = _kept_environ(environ)
        if service == "dynamodb":
            action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
            is_write = action in _DYNAMODB_WRITES
            lock = self._dynamodb_lock
        else:
            is_write = environ.get("REQUEST_METHOD", "GET") in _S3_WRITE_METHODS
            key = hashlib.blake2b(environ.get("PATH_INFO", "").encode(errors="replace"), digest_size=4)
            lock = self._s3_locks[int.from_bytes(key.digest(), "little") % _S3_STRIPES]
        with lock:
            status, headers, answer = _call(self._app, _wsgi_environ(kept, body) | _extras(environ))
            if is_write and status.startswith("2"):
                made_ids = self._ids_of(kept).made(kept, headers, answer)
                must_be_durable = self._log.append(encode(kept, body, made_ids))
            else:
                must_be_durable = self._log.tail
        self._log.wait_durable(must_be_durable)
        start_response(status, headers)
        return [answer]


def _extras(environ: dict[str, Any]) -> dict[str, Any]:
    """Non-string environ entries the server set (the socket, werkzeug's hooks): passed through."""
    return {
        key: value for key, value in environ.items() if not isinstance(value, str) and key != "wsgi.input"
    }
