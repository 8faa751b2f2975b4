"""Settings: the limits that keep requests inside API Gateway's and Lambda's."""

from __future__ import annotations

import pytest

from chalicelib.settings import TABLES, Settings

BASE = {"CHUNK_BUCKET": "b", **{f"{t.upper()}_TABLE": f"t-{t}" for t in TABLES}}


def test_long_poll_defaults_to_25_seconds_and_400_waiters() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.longpoll_max_s, settings.longpoll_max_waiters) == (25, 400)


@pytest.mark.parametrize(("configured", "used"), [("1", 1), ("28", 28), ("29", 28), ("600", 28)])
def test_long_poll_never_waits_into_api_gateways_29_second_limit(configured: str, used: int) -> None:
    assert Settings.from_env({**BASE, "LONGPOLL_MAX_S": configured}).longpoll_max_s == used


@pytest.mark.parametrize("bad", ["0", "-3", "ten", "2.5"])
def test_a_bad_number_is_refused_at_start_naming_the_variable(bad: str) -> None:
    with pytest.raises(RuntimeError, match="LONGPOLL_MAX_WAITERS"):
        Settings.from_env({**BASE, "LONGPOLL_MAX_WAITERS": bad})


def test_a_missing_table_name_is_refused_at_start() -> None:
    with pytest.raises(RuntimeError, match="CONNECTIONS_TABLE"):
        Settings.from_env({k: v for k, v in BASE.items() if k != "CONNECTIONS_TABLE"})


def test_an_empty_environment_is_refused_naming_every_missing_variable() -> None:
    with pytest.raises(RuntimeError) as refused:
        Settings.from_env({})
    named = str(refused.value)
    assert all(f"{t.upper()}_TABLE" in named for t in TABLES)
    assert "CHUNK_BUCKET" in named


def test_only_the_missing_variables_are_named() -> None:
    with pytest.raises(RuntimeError) as refused:
        Settings.from_env({k: v for k, v in BASE.items() if k not in ("PATHS_TABLE", "CHUNK_BUCKET")})
    assert "PATHS_TABLE, CHUNK_BUCKET" in str(refused.value)
    assert "USERS_TABLE" not in str(refused.value)


@pytest.mark.parametrize("stage", ["dev", "local"])
def test_a_local_stage_without_the_emulators_address_is_refused(stage: str) -> None:
    with pytest.raises(RuntimeError, match=f"DRIFTBOX_STAGE={stage} .* AWS_ENDPOINT_URL"):
        Settings.from_env({**BASE, "DRIFTBOX_STAGE": stage})
    local = {**BASE, "DRIFTBOX_STAGE": stage, "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
    assert Settings.from_env(local).stage == stage


def test_a_deployed_stage_needs_no_emulator() -> None:
    assert Settings.from_env({**BASE, "DRIFTBOX_STAGE": "prod"}).stage == "prod"
