"""Accounts through the HTTP API: signup, login and its throttle, tokens, devices, the account view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.accounts import throttle
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api, new_email

PASSWORD = "correct horse battery"


def _error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


def _login(client: Client, email: str, password: str = PASSWORD, device: str = "laptop") -> tuple[int, Any]:
    return Api(client).post("/v1/auth/login", {"email": email, "password": password, "device_name": device})


def _signup(client: Client, email: str, password: str = PASSWORD) -> tuple[int, Any]:
    return Api(client).post("/v1/auth/signup", {"email": email, "password": password})


def _as(client: Client, token: str) -> Api:
    return Api(client, token)


# -- signup --------------------------------------------------------------------------------------
def test_signup_answers_user_and_home_namespace(client: Client) -> None:
    status, body = _signup(client, new_email())
    assert status == 201, body
    assert set(body) == {"user_id", "namespace_id"}
    assert body["user_id"]
    assert body["namespace_id"]


@pytest.mark.parametrize("variant", [str.upper, lambda e: f"  {e}  ", lambda e: f" {e.title()}\t"])
def test_signup_with_a_taken_email_is_a_conflict(client: Client, variant: Any) -> None:
    email = new_email()
    assert _signup(client, email)[0] == 201
    status, body = _signup(client, variant(email), "another password")
    _error(status, body, 409, "conflict")
    # The first account is untouched: its password still works, the second one never does.
    assert _login(client, email)[0] == 200
    _error(*_login(client, email, "another password"), 401, "unauthorized")


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "@example.com", "a@nodot", "a b@example.com", "a@b.c" * 60]
)
def test_signup_with_a_bad_email_is_invalid(client: Client, email: str) -> None:
    _error(*_signup(client, email), 400, "invalid_request")


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_signup_with_a_short_password_is_invalid_and_creates_nothing(client: Client, password: str) -> None:
    email = new_email()
    _error(*_signup(client, email, password), 400, "invalid_request")
    # The email is still free.
    assert _signup(client, email)[0] == 201


# -- login ---------------------------------------------------------------------------------------
def test_login_answers_token_user_device_namespace(client: Client) -> None:
    email = new_email()
    _, signed_up = _signup(client, email)
    status, body = _login(client, f" {email.upper()} ")
    assert status == 200, body
    assert set(body) == {"token", "user_id", "device_id", "namespace_id"}
    assert body["user_id"] == signed_up["user_id"]
    assert body["namespace_id"] == signed_up["namespace_id"]
    assert _as(client, body["token"]).get("/v1/account")[0] == 200


def test_wrong_password_and_unknown_email_look_the_same(client: Client, alice: Api) -> None:
    wrong_status, wrong = _login(client, alice.email, "not the password")  # type: ignore[attr-defined]
    unknown_status, unknown = _login(client, new_email())
    _error(wrong_status, wrong, 401, "unauthorized")
    _error(unknown_status, unknown, 401, "unauthorized")
    assert wrong == unknown


def test_failures_past_the_free_ones_make_even_the_right_password_wait(client: Client, alice: Api) -> None:
    email = alice.email  # type: ignore[attr-defined]
    for _ in range(SETTINGS.login_free_failures):
        _error(*_login(client, email, "not the password"), 401, "unauthorized")
    response = client.http.post(
        "/v1/auth/login",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": email, "password": PASSWORD, "device_name": "laptop"}).encode(),
    )
    body = json.loads(response.body)
    _error(response.status_code, body, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= throttle.FIRST_DELAY_S
    assert body["error"]["retry_after_s"] == retry_after
    # The account's existing device keeps working, and no device was added.
    status, account = alice.get("/v1/account")
    assert status == 200
    assert [d["device_id"] for d in account["devices"]] == [alice.device_id]


def test_an_unknown_email_is_throttled_as_a_known_one_is(client: Client) -> None:
    email = new_email()
    for _ in range(SETTINGS.login_free_failures):
        _error(*_login(client, email, "guess"), 401, "unauthorized")
    _error(*_login(client, email, "guess"), 429, "rate_limited")


def test_login_with_a_bad_device_name_is_invalid(client: Client, alice: Api) -> None:
    email = alice.email  # type: ignore[attr-defined]
    _error(*_login(client, email, device="   "), 400, "invalid_request")
    _error(*_login(client, email, device="x" * 101), 400, "invalid_request")
    assert len(alice.get("/v1/account")[1]["devices"]) == 1


# -- what is stored ------------------------------------------------------------------------------
def test_password_is_stored_as_argon2id_with_its_parameters(alice: Api) -> None:
    from chalicelib.adapters.models import UserModel

    stored = UserModel.get(alice.user_id, consistent_read=True).password_hash
    params = f"m={SETTINGS.argon2_memory_kib},t={SETTINGS.argon2_time_cost},p={SETTINGS.argon2_parallelism}"
    assert stored.startswith(f"$argon2id$v=19${params}$"), stored
    assert PASSWORD not in stored


def test_only_the_sha256_of_a_token_is_stored(alice: Api) -> None:
    from chalicelib.adapters.models import DeviceModel, TokenModel
    from chalicelib.domain.accounts import token_hash

    assert alice.token is not None
    row = TokenModel.get(token_hash(alice.token), consistent_read=True)
    assert row.user_id == alice.user_id
    assert row.device_id == alice.device_id
    assert alice.token not in json.dumps(row.serialize(), default=str)
    device = DeviceModel.get(alice.user_id, alice.device_id, consistent_read=True)
    assert alice.token not in json.dumps(device.serialize(), default=str)
    with pytest.raises(TokenModel.DoesNotExist):
        TokenModel.get(alice.token, consistent_read=True)


# -- the account view and devices ----------------------------------------------------------------
def test_account_shows_devices_namespaces_quota_and_usage(client: Client, alice: Api) -> None:
    status, second = _login(client, alice.email, device="phone")  # type: ignore[attr-defined]
    assert status == 200
    assert second["token"] != alice.token
    assert second["device_id"] != alice.device_id

    status, body = alice.get("/v1/account")
    assert status == 200, body
    assert body["user_id"] == alice.user_id
    assert body["email"] == alice.email  # type: ignore[attr-defined]
    devices = {d["device_id"]: d for d in body["devices"]}
    assert set(devices) == {alice.device_id, second["device_id"]}
    assert devices[alice.device_id]["current"] is True
    assert devices[alice.device_id]["name"] == "laptop"
    assert devices[second["device_id"]]["current"] is False
    assert devices[second["device_id"]]["name"] == "phone"
    assert body["namespaces"] == [
        {"namespace_id": alice.namespace_id, "role": "owner", "home": True, "head_seq": 0}
    ]
    assert body["quota_bytes"] == SETTINGS.default_quota_bytes
    assert body["usage_bytes"] == 0

    # The other device sees itself as current.
    other = {
        d["device_id"]: d["current"] for d in _as(client, second["token"]).get("/v1/account")[1]["devices"]
    }
    assert other == {alice.device_id: False, second["device_id"]: True}


def test_account_head_seq_follows_commits(alice: Api) -> None:
    status, _ = alice.post(
        "/v1/commit", {"namespace_id": alice.namespace_id, "ops": [{"op": "mkdir", "path": "/a"}]}
    )
    assert status == 200
    assert alice.get("/v1/account")[1]["namespaces"][0]["head_seq"] == 1


def test_logout_revokes_this_token_at_once_but_not_the_other_device(client: Client, alice: Api) -> None:
    _, second = _login(client, alice.email, device="phone")  # type: ignore[attr-defined]
    phone = _as(client, second["token"])

    status, _ = phone.post("/v1/auth/logout")
    assert status == 200
    _error(*phone.get("/v1/account"), 401, "unauthorized")
    _error(*phone.post("/v1/auth/logout"), 401, "unauthorized")

    status, body = alice.get("/v1/account")
    assert status == 200
    assert [d["device_id"] for d in body["devices"]] == [alice.device_id]


def test_unlinking_another_device_stops_its_token_at_once(client: Client, alice: Api) -> None:
    _, second = _login(client, alice.email, device="phone")  # type: ignore[attr-defined]
    phone = _as(client, second["token"])
    assert phone.get("/v1/account")[0] == 200

    status, body = alice.call("DELETE", f"/v1/devices/{second['device_id']}")
    assert status == 200, body
    _error(*phone.get("/v1/account"), 401, "unauthorized")
    assert alice.get("/v1/account")[0] == 200
    _error(*alice.call("DELETE", f"/v1/devices/{second['device_id']}"), 404, "not_found")


def test_unlinking_another_users_device_is_not_found_and_changes_nothing(alice: Api, bob: Api) -> None:
    _error(*alice.call("DELETE", f"/v1/devices/{bob.device_id}"), 404, "not_found")
    status, body = bob.get("/v1/account")
    assert status == 200
    assert [d["device_id"] for d in body["devices"]] == [bob.device_id]
    assert [d["device_id"] for d in alice.get("/v1/account")[1]["devices"]] == [alice.device_id]


def test_unlinking_an_unknown_device_is_not_found(alice: Api) -> None:
    _error(*alice.call("DELETE", "/v1/devices/d_000000000000000000000000"), 404, "not_found")


# -- tokens that do not work ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer garbage-token-that-nobody-issued",
        "Bearer " + "a" * 10 * 1024,
    ],
)
def test_malformed_or_unknown_tokens_are_unauthorized(client: Client, authorization: str) -> None:
    api = Api(client)
    _error(*api.call("GET", "/v1/account", headers={"Authorization": authorization}), 401, "unauthorized")


def test_a_request_without_authorization_is_unauthorized(client: Client) -> None:
    _error(*Api(client).get("/v1/account"), 401, "unauthorized")


def test_the_raw_token_without_bearer_is_unauthorized(client: Client, alice: Api) -> None:
    assert alice.token is not None
    _error(
        *Api(client).call("GET", "/v1/account", headers={"Authorization": alice.token}), 401, "unauthorized"
    )


def test_an_expired_token_is_unauthorized(client: Client, alice: Api) -> None:
    from chalicelib.adapters.models import TokenModel
    from chalicelib.domain.accounts import new_token, token_hash

    def token_expiring_at(expires_at: datetime) -> str:
        raw = new_token()
        TokenModel(
            token_hash(raw), user_id=alice.user_id, device_id=alice.device_id, expires_at=expires_at
        ).save()
        return raw

    now = datetime.now(UTC)
    # The same row with a future expiry works: only the expiry makes the difference.
    assert _as(client, token_expiring_at(now + timedelta(minutes=5))).get("/v1/account")[0] == 200
    _error(
        *_as(client, token_expiring_at(now - timedelta(minutes=1))).get("/v1/account"), 401, "unauthorized"
    )
