"""Account routes: parse, call the service, answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib import http, lazy
from chalicelib.accounts import auth

if TYPE_CHECKING:
    from chalicelib.accounts import service
else:
    service = lazy.module("chalicelib.accounts.service")

bp = Blueprint(__name__)

PUBLIC_ROUTES = {("POST", "/v1/auth/signup"), ("POST", "/v1/auth/login")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupBody(_Strict):
    email: str
    password: str


class LoginBody(_Strict):
    email: str
    password: str
    device_name: str


@http.route(bp, "/v1/auth/signup", "POST", status=201)
def signup() -> object:
    req = http.body(http.request(), SignupBody)
    return service.signup(req.email, req.password)


@http.route(bp, "/v1/auth/login", "POST")
def login() -> object:
    request = http.request()
    req = http.body(request, LoginBody)
    # API Gateway's own view of the caller's address (`chalice local` gives 127.0.0.1 to everyone);
    # never X-Forwarded-For, which the caller writes.
    identity = request.context.get("identity") or {}
    source_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    return service.login(req.email, req.password, req.device_name, source_ip)


@http.route(bp, "/v1/auth/logout", "POST")
def logout() -> object:
    service.logout(auth.current())
    return {"revoked": True}


@http.route(bp, "/v1/account", "GET")
def account() -> object:
    return service.account(auth.current())


@http.route(bp, "/v1/devices/{device_id}", "DELETE")
def unlink_device(device_id: str) -> object:
    service.unlink(auth.current(), device_id)
    return {"unlinked": device_id}
