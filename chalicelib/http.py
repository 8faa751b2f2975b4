"""Request parsing and responses: every body and query string goes through here."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from chalice.app import Blueprint, Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.domain import strict_json
from chalicelib.errors import InvalidRequest, ServiceError, TooLarge
from chalicelib.settings import SETTINGS

M = TypeVar("M", bound=BaseModel)

# Chalice keeps the current request on the app object, shared by every thread of `chalice local`;
# the middleware binds each request here, per thread, and views read it from here.
_REQUEST: ContextVar[Request | None] = ContextVar("request", default=None)


def bind_request(request: Request | None) -> None:
    _REQUEST.set(request)


def request() -> Request:
    current = _REQUEST.get()
    if current is None:
        raise RuntimeError("no request is being served")
    return current


def _validation_error(exc: ValidationError) -> InvalidRequest:
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = problems[0]
    return InvalidRequest(f"{first['field']}: {first['message']}", problems=problems)


def raw_json(request: Request) -> Any:
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > SETTINGS.max_body_bytes:
        raise TooLarge(f"request body is larger than {SETTINGS.max_body_bytes} bytes")
    try:
        return strict_json.loads(raw)
    except strict_json.JsonRefused as exc:
        raise InvalidRequest(f"request body: {exc}") from exc


def body(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``: unknown fields, wrong types and missing fields are a 400."""
    payload = raw_json(request)
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        return model.model_validate(payload, strict=True)
    except ValidationError as exc:
        raise _validation_error(exc) from exc


def query(request: Request, model: type[M]) -> M:
    params = dict(request.query_params or {})
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise _validation_error(exc) from exc


def ok(payload: Any, status: int = 200) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    return Response(body=payload, status_code=status, headers=headers)


def error(exc: ServiceError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    retry_after = exc.details.get("retry_after_s")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(body=exc.to_body(), status_code=exc.status, headers=headers)


_log = logging.getLogger("driftbox")


def route(bp: Blueprint, path: str, method: str, *, status: int = 200) -> Callable[[Callable[..., Any]], Any]:
    """Register a view whose return value is the JSON answer and whose ServiceErrors are answers too.

    Chalice turns any exception a view raises into its own 500 before middleware sees it, so the
    translation from error to answer happens here, around every view.
    """

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def serve(*args: Any, **kwargs: Any) -> Response:
            try:
                return ok(view(*args, **kwargs), status)
            except ServiceError as exc:
                return error(exc)
            except Exception:
                _log.exception("unhandled error in %s %s", method, path)
                return error(ServiceError("internal error; it has been logged"))

        bp.route(path, methods=[method])(serve)
        return view

    return register
