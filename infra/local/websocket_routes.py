"""The app's WebSocket handlers, called as Lambda calls them, each connection's events in order."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice

from infra.local import websocket_events as events
from infra.local.lambda_context import LambdaContext
from infra.local.websocket_socket import Closed, Gone, Payload

log = logging.getLogger("driftbox.local.gateway")


class Routes:
    """The app's ``$connect``, ``$default`` and ``$disconnect`` handlers (Chalice defines no others)."""

    def __init__(self, app: Chalice, stage: str) -> None:
        self.app = app
        self.stage = stage

    def invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """``handler(event, context)``, as Lambda calls it; None if the app has no such handler."""
        config = self.app.websocket_handlers.get(route_key)
        if config is None:
            return None
        handler = self.app.handler_map[config.name]
        context = LambdaContext.for_function(f"{self.app.app_name}-{self.stage}-{config.name}")
        result = handler(event, context)
        return result if isinstance(result, dict) else {}


class Conversation:
    """One connection's handler thread: each message to ``$default`` in the order it came, then
    ``$disconnect`` once. Handlers may block; only this connection waits for them."""

    def __init__(self, routes: Routes, info: events.Connection, on_done: Callable[[], None]) -> None:
        self.routes = routes
        self.info = info
        self.finished = threading.Event()
        self._on_done = on_done
        self._inbox: queue.SimpleQueue[Payload | Closed] = queue.SimpleQueue()
        self._reply: Callable[[str], None] = lambda _: None

    def start(self, reply: Callable[[str], None]) -> None:
        """Start the thread; ``reply`` sends the client a message of the gateway's own."""
        self._reply = reply
        name = f"ws-{self.info.connection_id}"
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def message(self, body: Payload) -> None:
        self._inbox.put(body)

    def end(self, closed: Closed) -> None:
        self._inbox.put(closed)

    def _run(self) -> None:
        try:
            while not isinstance(item := self._inbox.get(), Closed):
                self._message(item)
            self._disconnect(item)
        finally:
            self._on_done()
            self.finished.set()

    def _message(self, body: Payload) -> None:
        event = events.message_event(self.info, body)
        size = len(body.encode() if isinstance(body, str) else body)
        started_s = time.monotonic()
        try:
            result = self.routes.invoke("$default", event)
        except Exception:
            log.exception("message %s %d B: the handler raised", self.info.connection_id, size)
            self._tell_error("Internal server error", event)
            return
        took_ms = (time.monotonic() - started_s) * 1000
        if result is None:
            log.info("message %s %d B: no $default route", self.info.connection_id, size)
            self._tell_error("Forbidden", event)
            return
        status = result.get("statusCode", 200)
        log.info("message %s %d B -> %s (%.0f ms)", self.info.connection_id, size, status, took_ms)

    def _tell_error(self, message: str, event: dict[str, Any]) -> None:
        """What API Gateway sends a client whose message found no route, or a failing integration."""
        request_id = event["requestContext"]["requestId"]
        error = {"message": message, "connectionId": self.info.connection_id, "requestId": request_id}
        with contextlib.suppress(Gone):
            self._reply(json.dumps(error))

    def _disconnect(self, closed: Closed) -> None:
        event = events.disconnect_event(self.info, closed.code, closed.reason)
        started_s = time.monotonic()
        try:
            self.routes.invoke("$disconnect", event)
        except Exception:
            log.exception("disconnect %s: the handler raised", self.info.connection_id)
            return
        took_ms = (time.monotonic() - started_s) * 1000
        log.info(
            "disconnect %s %d %r (%.0f ms)", self.info.connection_id, closed.code, closed.reason, took_ms
        )
