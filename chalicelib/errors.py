"""One error tree for the backend, and the one table from error to HTTP status.

    ServiceError                      500 internal (never raised for what a client sent)
    ├── InvalidRequest                400 invalid_request
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 forbidden
    │   └── QuotaExceeded             403 quota_exceeded
    ├── NotFound                      404 not_found
    ├── Conflict                      409 conflict          {conflicts: [{path, current_rev}]}
    │   └── MissingChunks             409 missing_chunks    {hashes: [...]}
    ├── CursorReset                   410 reset             the server no longer knows the cursor
    ├── TooLarge                      413 too_large
    ├── RateLimited                   429 rate_limited      {retry_after_s}
    └── Busy                          503 busy              contention that outlasted our retries

Every error renders as ``{"error": {"code", "message", ...details}}``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class InvalidRequest(ServiceError):
    status = 400
    code = "invalid_request"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class QuotaExceeded(Forbidden):
    code = "quota_exceeded"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class MissingChunks(Conflict):
    code = "missing_chunks"


class CursorReset(ServiceError):
    status = 410
    code = "reset"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"


class Busy(ServiceError):
    status = 503
    code = "busy"
