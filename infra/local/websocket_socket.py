"""One accepted WebSocket, kept as API Gateway keeps it: its limits, its close codes, thread-safe sends.

One thread reads (``serve``); any thread may ``send`` or ``close``. A lock covers the protocol state
and every write, so a frame from the ``@connections`` API never interleaves with a pong or a close
written by the reader. Limits, from API Gateway's quotas for WebSocket APIs: a frame over 32 KB or a
message over 128 KB closes the connection with 1009; 10 minutes without a message either way, or 2
hours in all, close it with 1001 (ping and pong frames do not count as activity here). Outgoing
messages are split into frames of at most 32 KB, as API Gateway does for ``@connections`` posts.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import CloseReason

Payload = str | bytes


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 32 * 1024
    max_message_bytes: int = 128 * 1024
    idle_timeout_s: float = 10 * 60
    max_duration_s: float = 2 * 3600
    # Ours, not API Gateway's: how long to wait for the client's close frame after ours, and for a
    # write to a client that does not read.
    close_timeout_s: float = 5
    send_timeout_s: float = 10


@dataclass(frozen=True)
class Closed:
    """Why a socket ended: the ``disconnectStatusCode`` and ``disconnectReason`` of ``$disconnect``."""

    code: int
    reason: str


GOING_AWAY = Closed(1001, "Going away")
TOO_BIG = Closed(1009, "Message too big")
NO_STATUS = Closed(1005, "Client-side close frame status not set")
ABNORMAL = Closed(1006, "Connection closed without a close frame")


class Gone(Exception):
    """The socket is closing or closed."""


def _utf8_parts(data: bytes, size: int) -> Iterator[str]:
    """``data`` in pieces of at most ``size`` bytes, never cutting a character in two."""
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        yield data[start:end].decode()
        start = end


def _frames(payload: Payload, size: int) -> list[TextMessage] | list[BytesMessage]:
    """One message as frames of at most ``size`` bytes."""
    if isinstance(payload, str):
        texts = list(_utf8_parts(payload.encode(), size)) or [""]
        return [TextMessage(data=t, message_finished=i == len(texts) - 1) for i, t in enumerate(texts)]
    chunks = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    return [BytesMessage(data=c, message_finished=i == len(chunks) - 1) for i, c in enumerate(chunks)]


class WebSocket:
    def __init__(self, sock: socket.socket, limits: Limits, on_message: Callable[[Payload], None]) -> None:
        self._sock = sock
        self._limits = limits
        self._on_message = on_message
        self._ws = Connection(ConnectionType.SERVER)
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._opened_s = time.monotonic()
        self._active_s = self._opened_s
        self.last_active_at = time.time()
        self._closing: Closed | None = None
        self._close_by_s = 0.0
        self._text: list[str] = []
        self._binary: list[bytes] = []
        self._message_bytes = 0
        self._frame_bytes = 0
        sock.settimeout(limits.send_timeout_s)

    @property
    def is_open(self) -> bool:
        return self._ws.state is ConnectionState.OPEN

    def send(self, payload: Payload) -> None:
        """Send one message; ``Gone`` if the socket is closing or the write fails."""
        with self._lock:
            if not self.is_open:
                raise Gone
            frames = _frames(payload, self._limits.max_frame_bytes)
            data = b"".join(self._ws.send(frame) for frame in frames)
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self.abort()
                raise Gone from exc
            self._touch()

    def close(self, why: Closed) -> bool:
        """Start the closing handshake; False if it had already started."""
        with self._lock:
            if not self.is_open:
                return False
            self._start_close(why)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        return True

    def abort(self) -> None:
        """End the TCP connection now; the reader sees it end."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def serve(self) -> Closed:
        """Read until the socket ends, handing each message to ``on_message``; say why it ended."""
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                wait_s = self._deadline_s() - time.monotonic()
                if wait_s <= 0:
                    # Idle or too old: close. Already closing: the client never answered; give up.
                    if self._closing is None and self.close(GOING_AWAY):
                        continue
                    return self._closing or ABNORMAL
                for key, _ in selector.select(wait_s):
                    if key.fileobj is self._wake_r:
                        self._wake_r.recv(64)
                        continue
                    try:
                        data = self._sock.recv(65536)
                    except OSError:
                        data = b""
                    ended = self._receive(data)
                    if ended is not None:
                        return ended
        finally:
            selector.close()
            self._wake_r.close()
            self._wake_w.close()
            self.abort()
            self._sock.close()

    def _deadline_s(self) -> float:
        if self._closing is not None:
            return self._close_by_s
        limits = self._limits
        return min(self._active_s + limits.idle_timeout_s, self._opened_s + limits.max_duration_s)

    def _touch(self) -> None:
        self._active_s = time.monotonic()
        self.last_active_at = time.time()

    def _start_close(self, why: Closed) -> None:
        """Send our close frame (the lock is held) and wait a while for the client's."""
        self._closing = why
        self._close_by_s = time.monotonic() + self._limits.close_timeout_s
        self._write_quietly(self._ws.send(CloseConnection(why.code, why.reason)))

    def _write_quietly(self, data: bytes) -> None:
        # A failed write here shows up to the reader as the connection ending.
        try:
            self._sock.sendall(data)
        except OSError:
            self.abort()

    def _receive(self, data: bytes) -> Closed | None:
        messages: list[Payload] = []
        ended: Closed | None = None
        with self._lock:
            self._ws.receive_data(data or None)  # None: the TCP connection ended
            for event in self._ws.events():
                if isinstance(event, Ping):
                    self._write_quietly(self._ws.send(event.response()))
                elif isinstance(event, TextMessage | BytesMessage):
                    message = self._collect(event)
                    if message is not None:
                        messages.append(message)
                elif isinstance(event, CloseConnection):
                    ended = self._ended_by(event)
                    break
        for message in messages:
            self._on_message(message)
        return ended

    def _collect(self, event: TextMessage | BytesMessage) -> Payload | None:
        """Add a piece of a message; the whole message once its last piece is in."""
        if not self.is_open:
            return None  # after our close frame, what still comes in is dropped
        size = len(event.data.encode()) if isinstance(event, TextMessage) else len(event.data)
        self._frame_bytes += size
        self._message_bytes += size
        if (
            self._frame_bytes > self._limits.max_frame_bytes
            or self._message_bytes > self._limits.max_message_bytes
        ):
            self._start_close(TOO_BIG)
            return None
        if isinstance(event, TextMessage):
            self._text.append(event.data)
        else:
            self._binary.append(bytes(event.data))
        if event.frame_finished:
            self._frame_bytes = 0
        if not event.message_finished:
            return None
        self._message_bytes = 0
        self._touch()
        message: Payload = "".join(self._text) if isinstance(event, TextMessage) else b"".join(self._binary)
        self._text, self._binary = [], []
        return message

    def _ended_by(self, event: CloseConnection) -> Closed:
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:  # the client closes: answer, as RFC 6455 asks
            self._write_quietly(self._ws.send(event.response()))
            if event.code == CloseReason.NO_STATUS_RCVD:
                return NO_STATUS
            return Closed(int(event.code), event.reason or "")
        if state is ConnectionState.OPEN:  # wsproto reports a protocol error as a close event
            self._write_quietly(self._ws.send(CloseConnection(event.code, event.reason)))
            return Closed(int(event.code), event.reason or "")
        # Closed: the client answered our close frame, or the TCP connection ended without one.
        return self._closing or ABNORMAL
