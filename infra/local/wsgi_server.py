"""The emulator's HTTP server: cheroot, which keeps connections open and serves from a thread pool.

moto's server is Werkzeug's development server, which closes the connection after every answer:
each request costs a TCP handshake, a new thread and a wait for the client to hang up, a fifth of
what a small PUT costs the emulator, paid by every S3 client alike. cheroot (CherryPy's server)
keeps HTTP/1.1 connections open between requests and hands them to a pool of threads.

The environ is made as moto's request handler makes it on Werkzeug: a header whose name holds an
underscore is dropped (it would pass for the dashed one), except S3 user metadata, whose original
spelling moto keeps under ``PRESERVED_HEADER_NAMES_ENVIRON_KEY``.
"""

from __future__ import annotations

from typing import Any

from cheroot import wsgi
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)

THREADS = 16


class _Gateway(wsgi.Gateway_10):
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot's stubs say None
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.req.inheaders.items()
        ]
        underscored = [(name, value) for name, value in headers if "_" in name]
        names: dict[str, str] = {}
        if underscored:
            dashed = {environ_key_for_header(name): value for name, value in headers if "_" not in name}
            for name, value in underscored:
                key = environ_key_for_header(name)
                if key in dashed:  # never let an underscored header stand in for a dashed one
                    environ[key] = dashed[key]
                elif should_preserve_original_header_name(name):
                    names[key] = name
                    environ[key] = value
                else:
                    del environ[key]
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        return environ


class WsgiServer:
    """``app`` served on ``host:port`` (0: a free port), once ``serve_forever`` runs in a thread."""

    def __init__(self, host: str, port: int, app: Any, *, threads: int = THREADS) -> None:
        self._server = wsgi.Server((host, port), app, numthreads=threads)
        self._server.gateway = _Gateway
        self._server.prepare()  # binds: the port is taken, and known, from here on
        self.host, self.port = self._server.bind_addr[:2]

    def serve_forever(self) -> None:
        self._server.serve()

    def shutdown(self) -> None:
        self._server.stop()
