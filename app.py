"""The Chalice app: wiring only. Routes live in chalicelib's blueprints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from chalice.app import Chalice, CloudWatchEvent, Rate, Request, Response, SQSEvent, WebsocketEvent

from chalicelib import http, lazy
from chalicelib.accounts import auth
from chalicelib.accounts.routes import PUBLIC_ROUTES
from chalicelib.accounts.routes import bp as accounts_bp
from chalicelib.chunks.routes import bp as chunks_bp
from chalicelib.errors import ServiceError
from chalicelib.metadata.routes import bp as metadata_bp
from chalicelib.settings import SETTINGS

if TYPE_CHECKING:
    from chalicelib.notify import outbox, sockets, worker
else:  # each handler imports what it uses at its first call (chalicelib/lazy.py)
    outbox = lazy.module("chalicelib.notify.outbox")
    sockets = lazy.module("chalicelib.notify.sockets")
    worker = lazy.module("chalicelib.notify.worker")

# Powertools owns the "driftbox" logger; Chalice adding its own handler would print each line twice.
app = Chalice(app_name="driftbox", configure_logs=False)
logger = Logger(service="driftbox")
metrics = Metrics(namespace="Driftbox", service="driftbox")

app.register_blueprint(accounts_bp)
app.register_blueprint(chunks_bp)
app.register_blueprint(metadata_bp)
app.experimental_feature_flags.update(["WEBSOCKETS"])


@app.middleware("http")
def serve(event: Request, get_response: Any) -> Response:
    """Authenticate the caller, log one line per request, count answers by status class."""
    resource = event.context.get("resourcePath", "?")
    logger.thread_safe_append_keys(
        route=f"{event.method} {resource}", request_id=event.context.get("requestId")
    )
    http.bind_request(event)
    try:
        if (event.method, resource) in PUBLIC_ROUTES:
            response: Response = get_response(event)
        else:
            principal = auth.authenticate(event.headers.get("authorization"))
            auth.set_current(principal)
            logger.thread_safe_append_keys(user_id=principal.user_id, device_id=principal.device_id)
            response = get_response(event)
    except ServiceError as exc:
        response = http.error(exc)
    finally:
        auth.set_current(None)
        http.bind_request(None)
    logger.info("request", extra={"status": response.status_code})
    metrics.add_metric(name=f"Status{response.status_code // 100}xx", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics(raise_on_empty_metrics=False)
    logger.thread_safe_clear_keys()
    return response


# Event handlers stay here, thin: Chalice does not wrap WebSocket handlers on a Blueprint, and event
# handlers on a Blueprint skip this module (aws/chalice#1566).


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    return sockets.connect(event.to_dict())


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    return sockets.disconnect(event.to_dict())


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> dict[str, Any]:
    return sockets.message(event.to_dict())


@app.on_sqs_message(queue=SETTINGS.changes_queue_name or "driftbox-changes", batch_size=10)
def on_change(event: SQSEvent) -> dict[str, Any]:
    return worker.handle(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_outbox(event: CloudWatchEvent) -> None:
    """Queue the change of any commit whose own message could not be queued (chalicelib.notify.outbox)."""
    outbox.sweep()
