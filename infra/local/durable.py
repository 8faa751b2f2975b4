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

SQS is not logged: queues are recreated from the template at start, and change messages are
hints that clients recover from by cursor.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("driftbox.local.durable")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOG_NAME = "aws-writes.log"
_FRAME = struct.Struct("<II")  # payload length, CRC-32 of the payload
_HEADER_LEN = struct.Struct("<I")
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


def encode(environ: dict[str, str], body: bytes) -> bytes:
    header = json.dumps(environ, separators=(",", ":")).encode()
    return frame(_HEADER_LEN.pack(len(header)) + header + body)


def frame(payload: bytes) -> bytes:
    """A record as it is written to the log: length, checksum, payload."""
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def decode(payload: bytes) -> tuple[dict[str, str], bytes]:
    (header_len,) = _HEADER_LEN.unpack_from(payload)
    start = _HEADER_LEN.size
    environ: dict[str, str] = json.loads(payload[start : start + header_len])
    return environ, payload[start + header_len :]


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (end offset, payload) for each whole record; stop at the first torn or corrupt one."""
    with path.open("rb") as file:
        offset = 0
        while True:
            frame = file.read(_FRAME.size)
            if len(frame) < _FRAME.size:
                return
            length, crc = _FRAME.unpack(frame)
            payload = file.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            offset += _FRAME.size + length
            yield offset, payload


class WriteLog:
    """An append-only file with group commit: ``append`` then ``wait_durable``.

    Without fsync a record is as durable as it gets once written, and no thread is woken for it.
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._append_lock = threading.Lock()
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)  # the flusher waits for records
        self._synced = threading.Condition(self._lock)  # writers wait for their record's fsync
        self._tail = self._durable = os.fstat(self._fd).st_size
        self._closed = False
        self.syncs = 0
        self._flusher = threading.Thread(target=self._flush_forever, name="write-log-fsync", daemon=True)
        if fsync:
            self._flusher.start()

    @property
    def tail(self) -> int:
        return self._tail

    def append(self, record: bytes) -> int:
        """Write a record (not yet durable); return the offset that must be durable for it."""
        with self._append_lock:
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view) :]
            with self._lock:
                self._tail += len(record)
                end = self._tail
                if self._fsync:
                    self._appended.notify()
                else:
                    self._durable = end
        return end

    def wait_durable(self, offset: int) -> None:
        with self._lock:
            while self._durable < offset and not self._closed:
                self._synced.wait()

    def _flush_forever(self) -> None:
        while True:
            with self._lock:
                while self._durable >= self._tail and not self._closed:
                    self._appended.wait()
                if self._closed:
                    return
                target = self._tail
            os.fdatasync(self._fd)
            self.syncs += 1
            with self._lock:
                self._durable = max(self._durable, target)
                self._synced.notify_all()

    def close(self) -> None:
        with self._append_lock:
            os.fsync(self._fd)
            with self._lock:
                self._durable = self._tail
                self._closed = True
                self._appended.notify_all()
                self._synced.notify_all()
            os.close(self._fd)
        if self._fsync:
            self._flusher.join()


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

    def __init__(self, app: WSGIApp, data_dir: Path, *, dynamodb_lock: Any, fsync: bool = True) -> None:
        self._app = app
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
            for end, payload in read_records(self._path):
                good_end = end
                kept, body = decode(payload)
                status, _, answer = _call(self._app, _wsgi_environ(kept, body))
                records += 1
                if not status.startswith("2"):
                    failed += 1
                    log.warning(
                        "replay: %s %s -> %s %s", kept.get("REQUEST_METHOD"), status, "", answer[:200]
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
                must_be_durable = self._log.append(encode(kept, body))
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
