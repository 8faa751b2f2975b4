"""EventBridge's schedules on this machine: call the app's scheduled handlers at their rate.

``chalice local`` never fires ``@app.schedule`` handlers. This runs one thread per schedule the app
declares, behaving like the EventBridge rule ``chalice deploy`` creates for it:

- the first firing comes one period after start, as a new rule's does, then one every period, each
  measured from the previous one's scheduled time, so that a slow handler does not make it drift;
- each firing calls the handler Chalice registered as Lambda would, ``handler(event, context)``,
  with EventBridge's "Scheduled Event" and a fresh Lambda context;
- a handler that raises, or overruns its timeout, is logged and the schedule carries on; one that
  overruns a whole period makes the firings it missed be skipped (and logged), not queued.

Not emulated: ``cron(...)`` expressions (such a schedule is skipped with a warning); overlapping
invocations (one at a time per schedule here, where Lambda would run a late firing beside a slow
one); the two retries Lambda makes of a failed asynchronous invocation; and killing a handler at its
timeout: Python cannot stop a thread, so a late handler runs on and its invocation counts as failed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice, ScheduledEventConfig, ScheduleExpression

from infra.local.event_sources import Worker, Workers
from infra.local.lambda_context import ACCOUNT_ID, LambdaContext

log = logging.getLogger("driftbox.local.schedules")

_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"rate\((?P<value>[^\s()]+)\s+(?P<unit>[^\s()]+)\)")


@dataclass(frozen=True)
class ScheduleSource:
    """One ``@app.schedule`` handler with a rate, and the EventBridge rule that fires it."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    expression: str
    period_s: float
    function_name: str
    rule_arn: str

    @property
    def region(self) -> str:
        return self.rule_arn.split(":")[3]


def rate_period_s(expression: str) -> int:
    """The period of ``rate(value unit)`` in seconds; ValueError for an expression EventBridge refuses."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise ValueError(f"{expression!r} is not a rate expression such as 'rate(5 minutes)'")
    value, unit = match["value"], match["unit"]
    if not re.fullmatch(r"[0-9]+", value) or int(value) == 0:
        raise ValueError(f"{expression!r}: the value must be a whole number of at least 1, not {value!r}")
    singular = unit.removesuffix("s")
    if singular not in _UNIT_S:
        raise ValueError(f"{expression!r}: the unit must be minute(s), hour(s) or day(s), not {unit!r}")
    # EventBridge's own rule: rate(1 hours) and rate(5 hour) are refused.
    expected = singular if int(value) == 1 else singular + "s"
    if unit != expected:
        raise ValueError(f"{expression!r}: a value of {value} takes the unit {expected!r}, not {unit!r}")
    return int(value) * _UNIT_S[singular]


def next_firing(scheduled_s: float, now_s: float, period_s: float) -> tuple[float, int]:
    """When the firing after the one scheduled at ``scheduled_s`` is due, and how many were missed.

    Times are on one monotonic clock; ``now_s`` is when that firing's handler returned. Firings that
    fell due while it ran are skipped, not made up for, and the schedule keeps its phase.
    """
    missed = max(0, int((now_s - scheduled_s) // period_s))
    return scheduled_s + (missed + 1) * period_s, missed


def scheduled_event(rule_arn: str, at: datetime) -> dict[str, Any]:
    """EventBridge's "Scheduled Event", as the rule ``rule_arn`` delivers it to its Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule_arn.split(":")[3],
        "resources": [rule_arn],
        "detail": {},
    }


def discover(
    app: Chalice, *, region: str, stage: str = "dev", period_override_s: float | None = None
) -> list[ScheduleSource]:
    """Every rate schedule the app declares; cron ones are skipped with a warning, bad ones refused."""
    sources = []
    for config in app.event_sources:
        if not isinstance(config, ScheduledEventConfig):
            continue
        expression = config.schedule_expression
        if isinstance(expression, ScheduleExpression):
            expression = expression.to_string()
        if expression.strip().startswith("cron("):
            log.warning(
                "schedule handler=%s skipped: cron expressions are not emulated (%s)", config.name, expression
            )
            continue
        try:
            period_s = rate_period_s(expression)
        except ValueError as exc:
            raise ValueError(f"schedule handler={config.name}: {exc}") from exc
        # The rule's name as `chalice deploy` gives it.
        rule_name = f"{app.app_name}-{stage}-{config.name}-event"
        sources.append(
            ScheduleSource(
                name=config.name,
                handler=app.handler_map[config.name],
                expression=expression,
                period_s=period_s if period_override_s is None else period_override_s,
                function_name=f"{app.app_name}-{stage}-{config.name}",
                rule_arn=f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}",
            )
        )
    return sources


class _Timer:
    """One schedule's loop: wait until the next firing is due, invoke the handler, and again."""

    def __init__(self, source: ScheduleSource, stopping: threading.Event, limits: tuple[int, int]) -> None:
        self.source = source
        self._stopping = stopping
        self._timeout_s, self._memory_mb = limits
        self.thread = threading.Thread(target=self._run, name=f"schedule-{source.name}", daemon=True)

    def _run(self) -> None:
        due_s = time.monotonic() + self.source.period_s
        while not self._stopping.wait(max(0.0, due_s - time.monotonic())):
            self._invoke()
            due_s, missed = next_firing(due_s, time.monotonic(), self.source.period_s)
            if missed:
                log.warning(
                    "schedule handler=%s overran its period of %g s: %d firing(s) skipped",
                    self.source.name,
                    self.source.period_s,
                    missed,
                )

    def _invoke(self) -> None:
        source = self.source
        event = scheduled_event(source.rule_arn, datetime.now(UTC))
        started = time.monotonic()
        error = ""
        raised: BaseException | None = None
        try:
            source.handler(event, self._context())
            if time.monotonic() - started > self._timeout_s:
                error = f"Task timed out after {self._timeout_s} seconds"
        except BaseException as exc:  # a handler must never end the schedule, as in Lambda
            error, raised = repr(exc), exc
        duration_ms = (time.monotonic() - started) * 1000
        outcome = "error" if error else "ok"
        log.info("schedule handler=%s outcome=%s duration_ms=%.0f", source.name, outcome, duration_ms)
        if error:
            log.warning("schedule handler=%s failed error=%s", source.name, error, exc_info=raised)

    def _context(self) -> LambdaContext:
        return LambdaContext.for_function(
            self.source.function_name,
            timeout_s=self._timeout_s,
            memory_mb=self._memory_mb,
            region=self.source.region,
        )


class ScheduledEvents(Workers):
    """Timers for every rate schedule of a Chalice app, started and stopped together."""

    what = "scheduled events"

    def __init__(
        self,
        app: Chalice,
        *,
        region: str,
        stage: str = "dev",
        function_timeout_s: int = 60,
        memory_mb: int = 128,
        period_override_s: float | None = None,
    ) -> None:
        super().__init__()
        if period_override_s is not None and not 0 < period_override_s < float("inf"):
            raise ValueError(
                f"period_override_s must be a positive number of seconds, not {period_override_s}"
            )
        self._app = app
        self._region = region
        self._stage = stage
        self._limits = (function_timeout_s, memory_mb)
        self._period_override_s = period_override_s

    @property
    def sources(self) -> list[ScheduleSource]:
        return super().sources

    def _workers_for(self, stopping: threading.Event) -> list[Worker]:
        """One timer per rate schedule; the first firing of each is one period from now."""
        sources = discover(
            self._app, region=self._region, stage=self._stage, period_override_s=self._period_override_s
        )
        for source in sources:
            log.info(
                "schedule source handler=%s period_s=%g expression=%s",
                source.name,
                source.period_s,
                source.expression,
            )
        return [_Timer(source, stopping, self._limits) for source in sources]

    def _overran(self, worker: Worker) -> None:
        log.warning("schedule handler=%s still running at stop: left to finish", worker.source.name)
