"""The local stack's WebSocket gateway: API Gateway's WebSocket API in front of a Chalice app.

``chalice local`` serves REST routes only (aws/chalice#1674), so this server plays API Gateway's
part for the app's ``on_ws_connect``, ``on_ws_message`` and ``on_ws_disconnect`` handlers, on one
port, with threads (Werkzeug's threaded server; wsproto for the frames):

- A WebSocket upgrade calls ``$connect`` (as Lambda would: ``handler(event, context)``); a status
  outside 2xx refuses the handshake with that status and body, a handler that raises gets 502
  ``{"message": "Internal server error"}``, as API Gateway answers a failed integration. No
  ``$connect`` handler: accepted. A ``Sec-WebSocket-Protocol`` header in the handler's answer is
  passed on, the way API Gateway lets ``$connect`` pick a subprotocol.
- Each message, text or binary, calls ``$default``, one at a time per connection and in order, on a
  thread of that connection's own, so a slow handler holds up only its connection. A handler that
  raises (or a missing ``$default``) sends the client API Gateway's ``{"message": "Internal server
  error" | "Forbidden", "connectionId", "requestId"}``.
- Every socket that opened calls ``$disconnect`` exactly once, after its queued messages, whatever
  ended it: the client, the network, a limit (see ``websocket_socket``), ``DELETE @connections``
  or ``stop()``.
- The ``@connections`` API, as boto3's ``apigatewaymanagementapi`` client calls it, at
  ``management_url`` with or without the stage in the path: POST sends (a text frame when the body
  is UTF-8, binary otherwise), GET describes, DELETE closes; a connection that is unknown, closing
  or closed, or still in ``$connect``, is 410 ``GoneException``; a body over 128 KB is 413
  ``PayloadTooLargeException``; any other path is 403 ``ForbiddenException``.
- Fault injection: ``post_failure_rate`` of the POSTs (and every POST to a connection in
  ``failing_connections``) answer 500 ``InternalServerErrorException``, as API Gateway does now
  and then, so that senders' retries can be shown to work.

Not emulated: route selection expressions (Chalice only defines ``$default``), authorizers, route
responses, the 29-second integration timeout, throttling (429), SigV4 checks on ``@connections``,
TLS, permessage-deflate. Close reasons other than 1005's are ours, not API Gateway's wording.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response
from wsproto.utilities import generate_accept_token

from infra.local import websocket_events as events
from infra.local.websocket_routes import Conversation, Routes
from infra.local.websocket_socket import GOING_AWAY, Closed, Gone, Limits, Payload, WebSocket

log = logging.getLogger("driftbox.local.gateway")

DELETED = Closed(1000, "Closed by the @connections API")
_MANAGEMENT_PATH = re.compile(r"^(?:/(?P<stage>[^/@]+))?/@connections/(?P<id>[^/]+)$")


class _Upgraded(ConnectionError):
    """Raised out of the WSGI app when a socket ends: Werkzeug then writes no HTTP response."""


class _RequestHandler(WSGIRequestHandler):
    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        # The handshake's headers as sent (case, repeats), for the $connect event.
        environ["driftbox.headers"] = list(self.headers.items())
        return environ

    def connection_dropped(self, error: BaseException, environ: dict[str, Any] | None = None) -> None:
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the gateway logs one line per request itself


@dataclass(frozen=True)
class _Client:
    info: events.Connection
    socket: WebSocket
    conversation: Conversation


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> Response:
    """An error as API Gateway sends it; botocore finds the exception's name in ``x-amzn-ErrorType``."""
    headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": events.new_id()}
    return Response(json.dumps({"message": message}), status, headers, content_type="application/json")


def _header(headers: dict[str, Any], name: str) -> str | None:
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


class Gateway:
    """API Gateway's WebSocket API for ``app``: clients at ``url``, ``@connections`` at ``management_url``."""

    def __init__(
        self,
        app: Chalice,
        host: str = "127.0.0.1",
        port: int = 8001,
        stage: str = "local",
        api_id: str = "localwsapi",
        *,
        idle_timeout_s: float = 10 * 60,
        max_duration_s: float = 2 * 3600,
        max_message_bytes: int = 128 * 1024,
        max_frame_bytes: int = 32 * 1024,
        post_failure_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= post_failure_rate < 1.0:
            raise ValueError("post_failure_rate must be at least 0 and below 1")
        self.host = host
        # Fault injection, to show that senders survive a failing API Gateway: this share of
        # POSTs, and every POST to a connection in failing_connections, answer 500.
        self.post_failure_rate = post_failure_rate
        self.failing_connections: set[str] = set()
        self._faults = random.Random(seed)
        self.stage = stage
        self.api_id = api_id
        self._routes = Routes(app, stage)
        self._port = port
        self._limits = Limits(
            max_frame_bytes=max_frame_bytes,
            max_message_bytes=max_message_bytes,
            idle_timeout_s=idle_timeout_s,
            max_duration_s=max_duration_s,
        )
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_port if self._server else self._port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        """What ``WEBSOCKET_MANAGEMENT_URL`` should be."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Gateway:
        """Listen, and serve in background threads."""
        self._server = make_server(
            self.host, self._port, self._wsgi, threaded=True, request_handler=_RequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="websocket-gateway",
            daemon=True,
        )
        self._thread.start()
        log.info("listening on %s", self.url)
        return self

    def stop(self, timeout_s: float = 10) -> None:
        """Close every socket (each gets its ``$disconnect``), then stop listening."""
        if self._server is None or self._thread is None:
            return
        with self._lock:
            self._stopping = True
            clients = list(self._clients.values())
        for client in clients:
            client.socket.close(GOING_AWAY)
        deadline_s = time.monotonic() + timeout_s
        for client in clients:
            if not client.conversation.finished.wait(max(0.0, deadline_s - time.monotonic())):
                client.socket.abort()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None
        self._stopping = False

    # The WSGI side: one request per thread.

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if (request.headers.get("Upgrade") or "").lower() == "websocket":
            response = self._upgrade(request)
        else:
            response = self._manage(request)
        return response(environ, start_response)

    def _upgrade(self, request: Request) -> Response:
        key = request.headers.get("Sec-WebSocket-Key")
        if request.method != "GET" or request.path.rstrip("/") not in ("", f"/{self.stage}"):
            return Response(json.dumps({"message": "Forbidden"}), 403, content_type="application/json")
        if request.headers.get("Sec-WebSocket-Version") != "13" or not key:
            return Response("WebSocket version 13 only", 426, {"Sec-WebSocket-Version": "13"})
        if self._stopping:
            return Response(
                json.dumps({"message": "Service Unavailable"}), 503, content_type="application/json"
            )
        info = events.Connection(
            connection_id=events.new_id(),
            connected_at_ms=int(time.time() * 1000),
            source_ip=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent"),
            domain_name=request.host,
            stage=self.stage,
            api_id=self.api_id,
        )
        event = events.connect_event(
            info, request.environ["driftbox.headers"], request.query_string.decode(), self.port
        )
        started_s = time.monotonic()
        try:
            result = self._routes.invoke("$connect", event) or {}
            status = int(result.get("statusCode", 200))
        except Exception:
            log.exception("connect %s: the handler raised; 502", info.connection_id)
            return Response(
                json.dumps({"message": "Internal server error"}), 502, content_type="application/json"
            )
        took_ms = (time.monotonic() - started_s) * 1000
        if not 200 <= status < 300:
            log.info("connect %s refused %d (%.0f ms)", info.connection_id, status, took_ms)
            return Response(result.get("body") or "", status, result.get("headers"))
        log.info("connect %s from %s (%.0f ms)", info.connection_id, info.source_ip, took_ms)
        self._serve(
            request.environ["werkzeug.socket"],
            info,
            key,
            _header(result.get("headers") or {}, "sec-websocket-protocol"),
        )
        raise _Upgraded

    def _serve(self, sock: Any, info: events.Connection, key: str, subprotocol: str | None) -> None:
        """Finish the handshake and read the socket until it ends, in this request's thread."""
        conversation = Conversation(self._routes, info, on_done=lambda: self._forget(info.connection_id))
        client = _Client(info, WebSocket(sock, self._limits, conversation.message), conversation)
        accept = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {generate_accept_token(key.encode()).decode()}",
        ]
        if subprotocol:
            accept.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        try:
            sock.sendall(("\r\n".join(accept) + "\r\n\r\n").encode())
        except OSError:
            client.socket.abort()  # serve() below then ends at once, as a dropped connection
        with self._lock:
            self._clients[info.connection_id] = client
            if self._stopping:
                client.socket.close(GOING_AWAY)
        conversation.start(reply=client.socket.send)
        conversation.end(client.socket.serve())

    def _forget(self, connection_id: str) -> None:
        with self._lock:
            self._clients.pop(connection_id, None)

    # The @connections management API.

    def _manage(self, request: Request) -> Response:
        match = _MANAGEMENT_PATH.match(request.path)
        if match is None or match["stage"] not in (None, self.stage):
            response = _error(403, "ForbiddenException", "Forbidden")
        elif request.method == "POST":
            response = self._post(request, match["id"])
        elif request.method == "GET":
            response = self._get(match["id"])
        elif request.method == "DELETE":
            response = self._delete(match["id"])
        else:
            response = _error(403, "ForbiddenException", "Forbidden")
        size = f" {request.content_length} B" if request.method == "POST" else ""
        log.info("%s %s%s -> %d", request.method, request.path, size, response.status_code)
        return response

    def _live(self, connection_id: str) -> _Client | None:
        with self._lock:
            client = self._clients.get(connection_id)
        return client if client is not None and client.socket.is_open else None

    def _post(self, request: Request, connection_id: str) -> Response:
        if (request.content_length or 0) > self._limits.max_message_bytes:
            return _error(413, "PayloadTooLargeException", "Request entity too large")
        data = request.get_data(cache=False)
        if len(data) > self._limits.max_message_bytes:
            return _error(413, "PayloadTooLargeException", "Request entity too large")
        client = self._live(connection_id)
        if client is None:
            return _error(410, "GoneException", "Gone")
        if connection_id in self.failing_connections or self._faults.random() < self.post_failure_rate:
            return _error(500, "InternalServerErrorException", "Internal server error")
        try:
            payload: Payload = data.decode()
        except UnicodeDecodeError:
            payload = data
        try:
            client.socket.send(payload)
        except Gone:
            return _error(410, "GoneException", "Gone")
        return Response(b"", 200)

    def _get(self, connection_id: str) -> Response:
        client = self._live(connection_id)
        if client is None:
            return _error(410, "GoneException", "Gone")
        info = client.info
        body = {
            "connectedAt": _iso(info.connected_at_ms / 1000),
            "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent or ""},
            "lastActiveAt": _iso(client.socket.last_active_at),
        }
        return Response(json.dumps(body), 200, content_type="application/json")

    def _delete(self, connection_id: str) -> Response:
        client = self._live(connection_id)
        if client is None or not client.socket.close(DELETED):
            return _error(410, "GoneException", "Gone")
        return Response(b"", 204)
