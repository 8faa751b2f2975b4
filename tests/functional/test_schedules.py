"""The local schedules: EventBridge's Scheduled Event, on time, one at a time, whatever the handler does."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.app import Chalice, CloudWatchEvent, Cron, Rate

from infra.local.schedules import ScheduledEvents

REGION = "us-east-1"
PERIOD_S = 0.2
# Event.wait may wake a hair early where the C library waits on the wall clock.
CLOCK_SLACK_S = 0.01
EVENT_KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


class Calls:
    """When a handler was called and with what; safe to add to from the schedule's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[float, dict[str, Any], Any]] = []

    def add(self, event: CloudWatchEvent) -> None:
        with self._lock:
            self._items.append((time.monotonic(), event.to_dict(), event.context))

    def all(self) -> list[tuple[float, dict[str, Any], Any]]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def wait_until(condition: Callable[[], bool], describe: Callable[[], object], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; state: {describe()}")
        time.sleep(0.02)


@pytest.fixture
def running() -> Iterator[list[ScheduledEvents]]:
    """Schedules a test starts, stopped at its end whatever happens."""
    started: list[ScheduledEvents] = []
    yield started
    for schedules in started:
        schedules.stop()


def start(
    running: list[ScheduledEvents], app: Chalice, period_override_s: float | None = PERIOD_S
) -> ScheduledEvents:
    schedules = ScheduledEvents(
        app, region=REGION, function_timeout_s=30, memory_mb=256, period_override_s=period_override_s
    )
    running.append(schedules)
    return schedules.start()


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "driftbox.local.schedules" and r.levelno == level
    ]


def test_the_event_and_context_are_eventbridges_and_lambdas(running: list[ScheduledEvents]) -> None:
    app, calls = Chalice("sched-test", configure_logs=False), Calls()

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event: CloudWatchEvent) -> None:
        calls.add(event)

    before = datetime.now(UTC).replace(microsecond=0)
    start(running, app)
    wait_until(lambda: len(calls) >= 1, calls.all)

    _, event, context = calls.all()[0]
    assert list(event) == EVENT_KEYS
    assert event["version"] == "0"
    assert uuid.UUID(event["id"]).version == 4
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    fired_at = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= fired_at <= datetime.now(UTC)
    assert event["region"] == REGION
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sched-test-dev-tick-event"]
    assert event["detail"] == {}
    assert context.function_name == "sched-test-dev-tick"
    assert (
        context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:sched-test-dev-tick"
    )
    assert context.memory_limit_in_mb == "256"
    assert 0 < context.get_remaining_time_in_millis() <= 30_000


def test_the_first_firing_is_one_period_after_start_then_one_every_period(
    running: list[ScheduledEvents],
) -> None:
    app, calls = Chalice("sched-test", configure_logs=False), Calls()

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event: CloudWatchEvent) -> None:
        calls.add(event)

    started = time.monotonic()
    schedules = start(running, app)
    wait_until(lambda: len(calls) >= 3, calls.all)
    schedules.stop()

    fired = [at for at, _, _ in calls.all()]
    # Never early: the k-th firing is due k periods after start, not at start.
    for k, at in enumerate(fired, start=1):
        assert at >= started + k * PERIOD_S - CLOCK_SLACK_S, (k, at - started)
    assert len({event["id"] for _, event, _ in calls.all()}) == len(fired)
    assert [s.name for s in schedules.sources] == ["tick"]
    assert schedules.sources[0].expression == "rate(1 minute)"


def test_a_handler_that_raises_is_called_again_and_logged(
    running: list[ScheduledEvents], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftbox.local.schedules")
    app, calls = Chalice("sched-test", configure_logs=False), Calls()

    @app.schedule("rate(5 minutes)")
    def flaky(event: CloudWatchEvent) -> None:
        calls.add(event)
        raise RuntimeError("the sweep failed")

    start(running, app)
    wait_until(lambda: len(calls) >= 2, calls.all)
    running[0].stop()

    assert running[0].running is False
    outcomes = [m for m in messages(caplog, logging.INFO) if m.startswith("schedule handler=flaky outcome=")]
    assert len(outcomes) == len(calls)
    assert all(re.fullmatch(r"schedule handler=flaky outcome=error duration_ms=\d+", m) for m in outcomes)
    failures = [m for m in messages(caplog, logging.WARNING) if "the sweep failed" in m]
    assert len(failures) == len(calls)
    assert all(m.startswith("schedule handler=flaky ") for m in failures)


def test_a_cron_schedule_is_skipped_with_a_warning(
    running: list[ScheduledEvents], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftbox.local.schedules")
    app, calls, crons = Chalice("sched-test", configure_logs=False), Calls(), Calls()

    @app.schedule(Cron(0, 10, "*", "*", "?", "*"))
    def nightly(event: CloudWatchEvent) -> None:
        crons.add(event)

    @app.schedule("cron(0/5 * * * ? *)")
    def often(event: CloudWatchEvent) -> None:
        crons.add(event)

    @app.schedule(Rate(2, unit=Rate.HOURS))
    def tick(event: CloudWatchEvent) -> None:
        calls.add(event)

    schedules = start(running, app)
    assert [s.name for s in schedules.sources] == ["tick"]
    wait_until(lambda: len(calls) >= 2, calls.all)

    assert len(crons) == 0
    warnings = messages(caplog, logging.WARNING)
    assert any("handler=nightly" in m and "cron(0 10 * * ? *)" in m for m in warnings), warnings
    assert any("handler=often" in m and "cron(0/5 * * * ? *)" in m for m in warnings), warnings
    assert [m for m in messages(caplog, logging.INFO) if m.startswith("schedule source")] == [
        f"schedule source handler=tick period_s={PERIOD_S:g} expression=rate(2 hours)"
    ]


def test_a_schedule_eventbridge_would_refuse_stops_the_start_naming_its_handler() -> None:
    app = Chalice("sched-test", configure_logs=False)

    @app.schedule("rate(1 minutes)")
    def tick(event: CloudWatchEvent) -> None:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match=r"handler=tick: 'rate\(1 minutes\)'"):
        ScheduledEvents(app, region=REGION).start()


def test_a_handler_that_overruns_its_period_is_never_run_twice_at_once(
    running: list[ScheduledEvents], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftbox.local.schedules")
    app, calls = Chalice("sched-test", configure_logs=False), Calls()
    busy, most_at_once = [0], [0]
    lock = threading.Lock()

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def slow(event: CloudWatchEvent) -> None:
        with lock:
            busy[0] += 1
            most_at_once[0] = max(most_at_once[0], busy[0])
        if len(calls) == 0:
            time.sleep(2.5 * PERIOD_S)  # at least two more firings fall due meanwhile
        calls.add(event)
        with lock:
            busy[0] -= 1

    started = time.monotonic()
    start(running, app)
    wait_until(lambda: len(calls) >= 2, calls.all)
    running[0].stop()

    assert most_at_once[0] == 1
    skipped = [m for m in messages(caplog, logging.WARNING) if "skipped" in m]
    assert skipped and skipped[0].startswith("schedule handler=slow overran")
    assert int(re.findall(r"(\d+) firing", skipped[0])[0]) >= 2
    # Due one period after start, the first ran past the next two: the second comes after both.
    second_at = calls.all()[1][0]
    assert second_at >= started + 4 * PERIOD_S - CLOCK_SLACK_S, second_at - started


def test_stop_is_prompt_even_while_a_handler_blocks(
    running: list[ScheduledEvents], caplog: pytest.LogCaptureFixture
) -> None:
    app, entered, release = Chalice("sched-test", configure_logs=False), threading.Event(), threading.Event()

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def stuck(event: CloudWatchEvent) -> None:
        entered.set()
        release.wait(60)

    schedules = start(running, app)
    try:
        assert entered.wait(30)
        stopping = threading.Thread(target=schedules.stop, kwargs={"grace_s": 0.2})
        stopping.start()
        stopping.join(30)
        assert not stopping.is_alive(), "stop() waited for the stuck handler"
        assert schedules.running, "the handler is still in its call"
        assert any("handler=stuck still running at stop" in m for m in messages(caplog, logging.WARNING))
    finally:
        release.set()
    # Once the handler returns, its timer ends instead of firing again.
    wait_until(lambda: not schedules.running, lambda: schedules.running)


def test_stop_ends_an_idle_schedule_at_once(running: list[ScheduledEvents]) -> None:
    app, calls = Chalice("sched-test", configure_logs=False), Calls()

    @app.schedule(Rate(1, unit=Rate.DAYS))
    def daily(event: CloudWatchEvent) -> None:
        calls.add(event)

    schedules = start(running, app, period_override_s=None)
    assert schedules.running
    schedules.stop()
    # Within stop()'s grace: the timer waits on an event, not in a day-long sleep.
    assert not schedules.running
    assert len(calls) == 0


def test_an_app_without_schedules_starts_nothing_and_says_nothing(
    running: list[ScheduledEvents], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftbox.local.schedules")
    app = Chalice("sched-test", configure_logs=False)

    @app.route("/")
    def index() -> dict[str, str]:
        return {}

    schedules = start(running, app)
    assert schedules.sources == []
    assert not schedules.running
    assert messages(caplog, logging.INFO) == messages(caplog, logging.WARNING) == []
