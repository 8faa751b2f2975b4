"""The write log's file: framed, CRC-checked records, appended with group commit, scanned at start.

A record is a frame (payload length, CRC-32 of the payload) around a payload: the length of a JSON
header, the header (the request's WSGI environ, and the ids its answer carried), then the body.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FRAME = struct.Struct("<II")  # payload length, CRC-32 of the payload
_HEADER_LEN = struct.Struct("<I")
_MADE_IDS = "driftbox.made_ids"  # the record header's entry for the ids the answer carried


def encode(environ: dict[str, str], body: bytes, made_ids: dict[str, Any] | None = None) -> bytes:
    fields: dict[str, Any] = {**environ, _MADE_IDS: made_ids} if made_ids else environ
    header = json.dumps(fields, separators=(",", ":")).encode()
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
    environ, body, _ = decode_record(payload)
    return environ, body


def decode_record(payload: bytes) -> tuple[dict[str, str], bytes, dict[str, Any]]:
    """The request's environ, its body, and the ids its answer carried; ValueError if malformed."""
    try:
        (header_len,) = _HEADER_LEN.unpack_from(payload)
        start = _HEADER_LEN.size
        fields = json.loads(payload[start : start + header_len])
        made_ids = fields.pop(_MADE_IDS, None) or {}
    except (struct.error, UnicodeDecodeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed record header: {exc}") from exc
    if not all(isinstance(value, str) for value in fields.values()) or not isinstance(made_ids, dict):
        raise ValueError("malformed record header: not an environ of strings")
    return fields, payload[start + header_len :], made_ids


@dataclass(frozen=True)
class Record:
    """One framed record: where it starts and ends, and its payload (None if its checksum is wrong)."""

    start: int
    end: int
    payload: bytes | None


def scan(path: Path) -> Iterator[Record]:
    """Every whole record in order; a corrupt one is given (payload None) only when one follows it.

    A record whose checksum fails but whose length leads to a sound record was damaged in place,
    and the records after it still count; otherwise it is the torn tail of a kill, and scanning
    stops there.
    """
    with path.open("rb") as file:
        offset = 0
        while True:
            record = _read_frame(file, offset)
            if record is None:
                return
            if record.payload is None and _read_frame(file, record.end, peek=True) is None:
                return
            yield record
            offset = record.end
            file.seek(offset)


def _read_frame(file: Any, offset: int, *, peek: bool = False) -> Record | None:
    file.seek(offset)
    frame = file.read(_FRAME.size)
    if len(frame) < _FRAME.size:
        return None
    length, crc = _FRAME.unpack(frame)
    payload = file.read(length)
    if len(payload) < length:
        return None
    sound = zlib.crc32(payload) == crc
    if peek and not sound:
        return None
    return Record(offset, offset + _FRAME.size + length, payload if sound else None)


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (end offset, payload) for each sound record, up to the torn tail if there is one."""
    for record in scan(path):
        if record.payload is not None:
            yield record.end, record.payload


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
