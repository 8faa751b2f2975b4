"""One error tree for the client; every message is one line a person can act on.

DriftboxError                 exit 1 unless said otherwise
├── UsageError                exit 2: bad arguments, nothing linked, not logged in
├── Unreachable               the server cannot be reached (after retries)
├── ServerError               the server answered an error (code, status, details)
│   ├── Unauthorized          401: the token is unknown, revoked or expired; log in again
│   ├── Conflict              409 conflict: the namespace moved on (details: conflicts)
│   ├── MissingChunks         409 missing_chunks: upload these first (details: hashes)
│   └── CursorReset           410 reset: the server no longer knows the cursor
└── Unsafe                    syncing now could delete what should not be: the folder is
                              missing or unmounted, the index was emptied, the server reset
"""

from __future__ import annotations

from typing import Any


class DriftboxError(Exception):
    exit_code = 1


class UsageError(DriftboxError):
    exit_code = 2


class Unreachable(DriftboxError):
    pass


class Unsafe(DriftboxError):
    exit_code = 3


class ServerError(DriftboxError):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.details = details or {}


class Unauthorized(ServerError):
    pass


class Conflict(ServerError):
    pass


class MissingChunks(ServerError):
    pass


class CursorReset(ServerError):
    pass


_BY_CODE: dict[str, type[ServerError]] = {
    "unauthorized": Unauthorized,
    "conflict": Conflict,
    "missing_chunks": MissingChunks,
    "reset": CursorReset,
}


def from_response(status: int, body: Any) -> ServerError:
    """The error a server's answer means; any body shape is accepted (proxies answer HTML too)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ServerError(status, "http_error", f"the server answered HTTP {status}")
    code = str(error.get("code", "http_error"))
    message = str(error.get("message", f"the server answered HTTP {status}"))
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    return _BY_CODE.get(code, ServerError)(status, code, message, details)
