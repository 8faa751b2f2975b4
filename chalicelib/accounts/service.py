"""Account use cases: signup, login (throttled by throttle.py), logout, the account view, unlinking."""

from __future__ import annotations

import contextlib
import secrets
import time
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chalicelib.accounts import throttle
from chalicelib.accounts.auth import Principal
from chalicelib.adapters import accounts as store
from chalicelib.adapters import keys
from chalicelib.adapters.models import DeviceModel, NamespaceModel, UserModel
from chalicelib.domain import accounts, ids, passwords
from chalicelib.errors import Busy, NotFound, Unauthorized
from chalicelib.notify import fanout
from chalicelib.settings import SETTINGS


@cache
def _hasher() -> PasswordHasher:
    # argon2id; the parameters are stored in each hash, so raising them later rehashes on login.
    return PasswordHasher(
        time_cost=SETTINGS.argon2_time_cost,
        memory_cost=SETTINGS.argon2_memory_kib,
        parallelism=SETTINGS.argon2_parallelism,
    )


@cache
def _decoy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


def _now_ms() -> int:
    return int(time.time() * 1000)


SIGNUP_TRIES = 3


def signup(email: str, password: str) -> dict[str, Any]:
    key = accounts.email_key(email)
    password_hash = _hasher().hash(passwords.check_new(password, key))
    # A try refused for anything but the email wrote nothing: try again, with fresh ids.
    for _ in range(SIGNUP_TRIES - 1):
        with contextlib.suppress(Busy):
            return _create_account(email, key, password_hash)
    return _create_account(email, key, password_hash)


def _create_account(email: str, email_key: str, password_hash: str) -> dict[str, Any]:
    user_id, namespace_id = ids.new("u"), ids.new("ns")
    now_ms = _now_ms()
    user = UserModel(
        user_id,
        email=email.strip(),
        password_hash=password_hash,
        home_namespace_id=namespace_id,
        created_at_ms=now_ms,
    )
    namespace = NamespaceModel(
        namespace_id,
        epoch=ids.new("ep"),
        owner_user_id=user_id,
        quota_bytes=SETTINGS.default_quota_bytes,
        created_at_ms=now_ms,
        tree_layout=keys.TREE_LAYOUT,  # no row to move: it starts empty
    )
    store.create_user(user, email_key, namespace)
    return {"user_id": user_id, "namespace_id": namespace_id}


def _verify(user: UserModel | None, password: str) -> bool:
    """Check the password against the user's hash, or against a decoy hash of the same cost when
    there is no such user, so that an unknown email takes as long as a wrong password."""
    decoy = _decoy_hash()
    try:
        matches = _hasher().verify(user.password_hash if user is not None else decoy, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and user is not None


def login(email: str, password: str, device_name: str, source_ip: str | None) -> dict[str, Any]:
    key = accounts.email_key(email)
    name = accounts.check_device_name(device_name)
    now_s = int(time.time())
    attempt = throttle.charge(key, source_ip, now_s)  # before the password is checked
    user = store.user_by_email(key)
    verified = _verify(user, password)
    if user is None or not verified:
        raise Unauthorized("wrong email or password")  # the charge stays: it counts this failure
    attempt.succeeded(now_s)
    if _hasher().check_needs_rehash(user.password_hash):
        store.save_password_hash(user, _hasher().hash(password))
    token = accounts.new_token()
    device = DeviceModel(
        user.user_id, ids.new("d"), name=name, token_hash=accounts.token_hash(token), created_at_ms=_now_ms()
    )
    store.link_device(device, device.token_hash, now_s + SETTINGS.token_ttl_s)
    return {
        "token": token,
        "user_id": user.user_id,
        "device_id": device.device_id,
        "namespace_id": user.home_namespace_id,
    }


def logout(principal: Principal) -> None:
    store.unlink_device(principal.user_id, principal.device_id)
    fanout.close_device(principal.user_id, principal.device_id)


def unlink(principal: Principal, device_id: str) -> None:
    if not ids.looks_like(device_id, "d"):
        raise NotFound("no such device", device_id=device_id[:64])
    store.unlink_device(principal.user_id, device_id)
    fanout.close_device(principal.user_id, device_id)


def account(principal: Principal) -> dict[str, Any]:
    user = store.get_user(principal.user_id)
    memberships = store.memberships(principal.user_id)
    heads = store.namespaces([m.namespace_id for m in memberships])
    home = heads.get(user.home_namespace_id)
    return {
        "user_id": user.user_id,
        "email": user.email,
        "plan": user.plan,
        "quota_bytes": int(home.quota_bytes) if home else 0,
        "usage_bytes": int(home.usage_bytes) if home else 0,
        "devices": [
            {
                "device_id": d.device_id,
                "name": d.name,
                "created_at_ms": int(d.created_at_ms),
                "current": d.device_id == principal.device_id,
            }
            for d in store.devices(principal.user_id)
        ],
        "namespaces": [
            {
                "namespace_id": m.namespace_id,
                "role": m.role,
                "home": m.namespace_id == user.home_namespace_id,
                "head_seq": int(heads[m.namespace_id].head_seq) if m.namespace_id in heads else 0,
            }
            for m in memberships
        ],
        "notify_url": SETTINGS.notify_url or None,
    }
