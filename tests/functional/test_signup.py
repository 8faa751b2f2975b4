"""Signup through the HTTP API: passwords it refuses, and failures that are not a taken email."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.domain import ids
from tests.functional.conftest import Api, make_user, new_email

PASSWORD = "correct horse battery"


def _signup(client: Client, email: str, password: str = PASSWORD) -> tuple[int, Any]:
    return Api(client).post("/v1/auth/signup", {"email": email, "password": password})


def _login(client: Client, email: str, password: str = PASSWORD) -> int:
    body = {"email": email, "password": password, "device_name": "laptop"}
    return Api(client).post("/v1/auth/login", body)[0]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "common"),
        ("Password1", "common"),  # compared case-insensitively
        ("qwertyuiop", "common"),
        ("iloveyou1", "common"),
        ("1q2w3e4r5t", "common"),
        ("aaaaaaaaaaaa", "repeated"),
        ("my driftbox pass", "service_name"),
    ],
)
def test_signup_refuses_common_and_guessable_passwords_and_creates_nothing(
    client: Client, password: str, reason: str
) -> None:
    email = new_email()
    status, body = _signup(client, email, password)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["field"] == "password"
    assert body["error"]["reason"] == reason
    assert "password" in body["error"]["message"]
    assert _signup(client, email)[0] == 201  # the email is still free


def test_signup_refuses_a_password_built_from_the_email_name(client: Client) -> None:
    name = f"ada{ids.new('x')[2:10]}"
    email = f"{name}@example.com"
    status, body = _signup(client, email, f"{name.upper()}2026!")
    assert status == 400, body
    assert body["error"]["reason"] == "email"
    assert _signup(client, email)[0] == 201


def _ids_taking(taken: dict[str, str], times: int) -> Callable[[str], str]:
    """ids.new, except that its first ``times`` ids of each prefix in ``taken`` are already in use."""
    real_new = ids.new
    left = dict.fromkeys(taken, times)

    def new(prefix: str) -> str:
        if left.get(prefix, 0) > 0:
            left[prefix] -= 1
            return taken[prefix]
        return real_new(prefix)

    return new


def test_a_signup_refused_for_a_taken_id_is_tried_again_not_called_email_taken(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = make_user(client)
    monkeypatch.setattr(ids, "new", _ids_taking({"u": existing.user_id}, times=1))
    email = new_email()
    status, body = _signup(client, email)
    assert status == 201, body
    assert body["user_id"] != existing.user_id
    assert _login(client, email) == 200


def test_a_signup_that_keeps_failing_for_another_reason_is_busy_and_stores_nothing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = make_user(client)
    monkeypatch.setattr(ids, "new", _ids_taking({"ns": existing.namespace_id}, times=100))
    email = new_email()
    status, body = _signup(client, email)
    assert status == 503, body
    assert body["error"]["code"] == "busy"
    assert body["error"]["retry_after_s"] >= 1
    monkeypatch.undo()
    assert _login(client, email) == 401  # no account was made
    assert _signup(client, email)[0] == 201  # and the email is still free
    assert _login(client, existing.email) == 200  # type: ignore[attr-defined]
