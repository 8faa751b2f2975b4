"""Account use cases: signup, login with throttling, logout, the account view, unlinking."""

from __future__ import annotations

import secrets
import time
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chalicelib.accounts.auth import Principal
from chalicelib.adapters import accounts as store
from chalicelib.adapters.models import DeviceModel, NamespaceModel, UserModel
from chalicelib.domain import accounts, ids
from chalicelib.errors import NotFound, RateLimited, Unauthorized
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


def signup(email: str, password: str) -> dict[str, Any]:
    key = accounts.email_key(email)
    accounts.check_password(password)
    user_id, namespace_id = ids.new("u"), ids.new("ns")
    now_ms = _now_ms()
    user = UserModel(
        user_id,
        email=email.strip(),
        password_hash=_hasher().hash(password),
        home_namespace_id=namespace_id,
        created_at_ms=now_ms,
    )
    namespace = NamespaceModel(
        namespace_id,
        epoch=ids.new("ep"),
        owner_user_id=user_id,
        quota_bytes=SETTINGS.default_quota_bytes,
        created_at_ms=now_ms,
    )
    store.create_user(user, key, namespace)
    return {"user_id": user_id, "namespace_id": namespace_id}


def _verify(user: UserModel | None, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash if user else _decoy_hash(), password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def login(email: str, password: str, device_name: str) -> dict[str, Any]:
    key = accounts.email_key(email)
    name = accounts.check_device_name(device_name)
    wait_s = accounts.throttled_for(
        store.login_throttle(key), int(time.time()), SETTINGS.login_max_failures, SETTINGS.login_window_s
    )
    if wait_s:
        raise RateLimited("too many failed logins for this email; try again later", retry_after_s=wait_s)
    user = store.user_by_email(key)
    if user is None or not _verify(user, password):
        store.record_login_failure(key, SETTINGS.login_window_s)
        raise Unauthorized("wrong email or password")
    store.clear_login_failures(key)
    if _hasher().check_needs_rehash(user.password_hash):
        store.save_password_hash(user, _hasher().hash(password))
    token = accounts.new_token()
    device = DeviceModel(
        user.user_id, ids.new("d"), name=name, token_hash=accounts.token_hash(token), created_at_ms=_now_ms()
    )
    store.link_device(device, device.token_hash, int(time.time()) + SETTINGS.token_ttl_s)
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
