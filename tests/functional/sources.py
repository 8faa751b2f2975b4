"""Callers at chosen addresses: the app served as API Gateway serves it, with the caller's sourceIp.

chalice.test's client gives every request the source 127.0.0.1 and swaps ``os.environ`` around each
one (which threads must not share); this calls Chalice's own local gateway, as ``chalice local``
does, with the address a test names.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.config import Config
from chalice.local import LocalGateway


class Caller:
    """Requests from one source address, safe to use from several threads at once."""

    def __init__(self, source_ip: str) -> None:
        from app import app

        self.gateway = LocalGateway(app, Config.create())
        self.gateway.event_converter.LOCAL_SOURCE_IP = source_ip  # type: ignore[misc]

    def post(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        response = self.gateway.handle_request(
            method="POST",
            path=path,
            headers={"content-type": "application/json"},
            body=json.dumps(body).encode(),
        )
        text = response.get("body") or ""
        return int(response["statusCode"]), (json.loads(text) if text else None), dict(response["headers"])

    def login(self, email: str, password: str, device: str = "laptop") -> tuple[int, Any, dict[str, str]]:
        return self.post("/v1/auth/login", {"email": email, "password": password, "device_name": device})
