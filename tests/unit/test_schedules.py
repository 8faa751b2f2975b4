"""The local schedules' rules: rate expressions as EventBridge reads them, and when firings fall due."""

from __future__ import annotations

import pytest
from chalice.app import Rate

from infra.local.schedules import next_firing, rate_period_s


@pytest.mark.parametrize(
    ("expression", "period_s"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(30 days)", 30 * 86400),
        ("rate(10  minutes)", 600),
        (" rate(15 minutes) ", 900),
        (Rate(1, unit=Rate.MINUTES).to_string(), 60),
        (Rate(5, unit=Rate.MINUTES).to_string(), 300),
        (Rate(1, unit=Rate.HOURS).to_string(), 3600),
        (Rate(3, unit=Rate.DAYS).to_string(), 3 * 86400),
    ],
)
def test_every_rate_eventbridge_accepts_has_its_period(expression: str, period_s: int) -> None:
    assert rate_period_s(expression) == period_s


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("rate(1 minutes)", "takes the unit 'minute'"),
        ("rate(1 hours)", "takes the unit 'hour'"),
        ("rate(5 hour)", "takes the unit 'hours'"),
        ("rate(2 day)", "takes the unit 'days'"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(-5 minutes)", "at least 1"),
        ("rate(1.5 hours)", "whole number"),
        ("rate(five minutes)", "whole number"),
        ("rate(30 seconds)", "minute(s), hour(s) or day(s)"),
        ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(5 Minutes)", "minute(s), hour(s) or day(s)"),
        ("rate(5)", "not a rate expression"),
        ("rate(minutes)", "not a rate expression"),
        ("rate(5 minutes", "not a rate expression"),
        ("rate(5 minutes) extra", "not a rate expression"),
        ("every 5 minutes", "not a rate expression"),
        ("", "not a rate expression"),
        ("cron(0 10 * * ? *)", "not a rate expression"),
    ],
)
def test_a_rate_eventbridge_refuses_is_refused_saying_why(expression: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=r"not a rate expression|the value|the unit") as refused:
        rate_period_s(expression)
    assert complaint in str(refused.value)
    assert repr(expression) in str(refused.value)


def test_firings_keep_their_phase_when_handlers_take_time() -> None:
    # Scheduled at 100 s with a 10 s period: a 3 s handler does not push the next firing to 113 s.
    assert next_firing(100.0, 103.0, 10.0) == (110.0, 0)
    assert next_firing(100.0, 100.0, 10.0) == (110.0, 0)


def test_firings_missed_while_a_handler_overran_are_skipped_not_made_up() -> None:
    assert next_firing(100.0, 110.0, 10.0) == (120.0, 1)
    assert next_firing(100.0, 125.0, 10.0) == (130.0, 2)
    assert next_firing(100.0, 139.9, 10.0) == (140.0, 3)
