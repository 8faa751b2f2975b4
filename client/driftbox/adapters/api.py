"""The Driftbox HTTP API and the chunk transfers on presigned URLs, with retries where safe.

Every call returns the decoded JSON answer or raises an error from ``driftbox.errors``. Requests that
may be repeated without changing the outcome (reads, grants, commits carrying an Idempotency-Key,
chunk PUTs: the same bytes under the same name) are retried on connection errors, 429, 502, 503 and
504, with exponential back-off honouring Retry-After. Signup and login are never retried: a lost
answer to a login must not link a second device.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from driftbox import errors

if TYPE_CHECKING:
    from requests.sessions import _Settings

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_TIMEOUT_S = (10, 60)  # connect, read
_TRANSFER_TIMEOUT = urllib3.Timeout(connect=_TIMEOUT_S[0], read=_TIMEOUT_S[1])
_R = TypeVar("_R")


class _Stored(NamedTuple):
    """Storage's answer to one presigned transfer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class _Session(requests.Session):
    """A session that reads the proxy and CA bundle variables once per host, not per request.

    requests looks them up again for every request, scanning the whole environment: a tenth of
    the client's time in a sync of many small files. They do not change while the client runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[str, str], _Settings] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if (
            proxies
            or stream is not None
            or verify is not None
            or cert is not None
            or not isinstance(url, str)
        ):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        found = self._settings.get((parts.scheme, parts.netloc))
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._settings[(parts.scheme, parts.netloc)] = found
        settings = found.copy()
        settings["proxies"] = dict(found["proxies"])
        return settings


class TransferRefused(errors.DriftboxError):
    """Storage refused a presigned transfer: expired (403) or the bytes did not match (400)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"storage refused the transfer (HTTP {status}): {text[:200]}")
        self.status = status


class Api:
    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        attempts: int = 5,
    ) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.attempts = attempts
        self.session = _Session()

    # -- plumbing -------------------------------------------------------------------------------
    def _retrying(
        self, attempt: Callable[[], _R], status: Callable[[_R], tuple[int, Mapping[str, str]]], *, retry: bool
    ) -> _R:
        """``attempt()`` until its answer's status is not worth retrying, or attempts run out."""
        delay_s = 0.5
        for number in range(1, self.attempts + 1):
            last = number == self.attempts or not retry
            try:
                answer = attempt()
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if last:
                    raise errors.Unreachable(f"cannot reach {self.server}: {exc.__class__.__name__}") from exc
            else:
                code, headers = status(answer)
                if code not in RETRY_STATUSES or last:
                    return answer
                delay_s = max(delay_s, _retry_after_s(headers))
            time.sleep(delay_s * random.uniform(0.8, 1.2))
            delay_s = min(delay_s * 2, 30.0)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, *, retry: bool, **kwargs: Any) -> requests.Response:
        return self._retrying(
            lambda: self.session.request(method, url, timeout=_TIMEOUT_S, **kwargs),
            lambda response: (response.status_code, response.headers),
            retry=retry,
        )

    def _transfer(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> _Stored:
        """One presigned transfer, retried, through the session's own connection pools and settings.

        Chunk transfers skip requests' layer (hooks, cookies, redirects, response objects: a third of
        the client's CPU in a sync of many small files) and go to urllib3 through the same pools,
        proxies and TLS settings a ``session.request`` would use.
        """
        adapter = cast(HTTPAdapter, self.session.get_adapter(url))  # a _Session mounts no other kind
        settings = self.session.merge_environment_settings(url, {}, None, None, None)
        target = requests.PreparedRequest()
        target.url = url

        def attempt() -> _Stored:
            pool = cast(
                urllib3.HTTPConnectionPool,
                adapter.get_connection_with_tls_context(
                    target, settings["verify"], settings["proxies"], settings["cert"]
                ),
            )
            response = pool.urlopen(
                method,
                adapter.request_url(target, settings["proxies"]),
                body=body,
                headers=headers,  # the signed ones; nothing asks storage to compress
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=_TRANSFER_TIMEOUT,
                preload_content=True,
                decode_content=True,
            )
            return _Stored(response.status, response.headers, response.data)

        return self._retrying(attempt, lambda stored: (stored.status, stored.headers), retry=True)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self._send(
            method, self.server + path, retry=retry, json=body, headers=sent | (headers or {})
        )
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        if response.status_code >= 400:
            raise errors.from_response(response.status_code, answer)
        return answer

    # -- accounts -------------------------------------------------------------------------------
    def signup(self, email: str, password: str) -> Any:
        return self.call("POST", "/v1/auth/signup", {"email": email, "password": password}, retry=False)

    def login(self, email: str, password: str, device_name: str) -> Any:
        body = {"email": email, "password": password, "device_name": device_name}
        return self.call("POST", "/v1/auth/login", body, retry=False)

    def logout(self) -> None:
        self.call("POST", "/v1/auth/logout")

    def account(self) -> Any:
        return self.call("GET", "/v1/account")

    # -- metadata -------------------------------------------------------------------------------
    def commit(self, namespace_id: str, ops: list[dict[str, Any]], idempotency_key: str | None = None) -> Any:
        key = idempotency_key or uuid.uuid4().hex
        body = {"namespace_id": namespace_id, "ops": ops}
        return self.call("POST", "/v1/commit", body, headers={"Idempotency-Key": key})

    def objects(self, namespace_id: str, cursor: str | None = None, limit: int = 2000) -> Any:
        query = {"namespace_id": namespace_id, "limit": limit} | ({"cursor": cursor} if cursor else {})
        return self.call("GET", "/v1/objects?" + urlencode(query))

    def pages(self, namespace_id: str, cursor: str | None = None) -> Iterator[Any]:
        """Every page from ``cursor`` (or a full listing) until ``has_more`` is false."""
        while True:
            page = _journal_page(self.objects(namespace_id, cursor))
            yield page
            cursor = page["cursor"]
            if not page["has_more"]:
                return

    def folder_pages(self, namespace_id: str, path: str, limit: int = 2000) -> Iterator[Any]:
        """Every page of one folder's listing (``GET /v1/folders``), until ``has_more`` is false."""
        cursor: str | None = None
        while True:
            query = {"namespace_id": namespace_id, "path": path, "limit": limit}
            page = self.call(
                "GET", "/v1/folders?" + urlencode(query | ({"cursor": cursor} if cursor else {}))
            )
            yield page
            if not isinstance(page, dict) or page.get("has_more") is not True:
                return
            cursor = page.get("cursor")
            if not isinstance(cursor, str):
                raise errors.DriftboxError("the server said more of the folder follows but sent no cursor")

    def longpoll(self, namespace_id: str, cursor: str, timeout_s: int = 30) -> Any:
        query = urlencode({"namespace_id": namespace_id, "cursor": cursor, "timeout": timeout_s})
        return self.call("GET", "/v1/objects/longpoll?" + query)

    def revisions(self, namespace_id: str, path: str, limit: int = 100) -> Any:
        query = {"namespace_id": namespace_id, "path": path, "limit": limit}
        return self.call("GET", "/v1/files/revisions?" + urlencode(query))

    def restore(self, namespace_id: str, path: str, rev: int) -> Any:
        return self.call(
            "POST", "/v1/files/restore", {"namespace_id": namespace_id, "path": path, "rev": rev}
        )

    # -- chunks ---------------------------------------------------------------------------------
    def upload_grants(self, namespace_id: str, chunks: list[tuple[str, int]]) -> Any:
        body = {"namespace_id": namespace_id, "chunks": [{"hash": h, "size": s} for h, s in chunks]}
        return self.call("POST", "/v1/chunks/upload", body)

    def download_grants(self, namespace_id: str, hashes: list[str]) -> Any:
        return self.call("POST", "/v1/chunks/download", {"namespace_id": namespace_id, "hashes": hashes})

    def put_chunk(self, upload: dict[str, Any], data: bytes) -> None:
        stored = self._transfer(upload["method"], upload["url"], data, upload["headers"])
        if stored.status >= 300:
            raise TransferRefused(stored.status, stored.body.decode("utf-8", "replace"))

    def get_chunk(self, url: str) -> bytes:
        stored = self._transfer("GET", url)
        if stored.status >= 300:
            raise TransferRefused(stored.status, stored.body.decode("utf-8", "replace"))
        return stored.body


def _retry_after_s(headers: Mapping[str, str]) -> float:
    try:
        return min(float(headers.get("Retry-After", "0")), 60.0)
    except ValueError:
        return 0.0


def _journal_page(page: Any) -> dict[str, Any]:
    """A page of ``GET /v1/objects`` whose envelope holds (its entries are checked one by one)."""
    if not (
        isinstance(page, dict)
        and isinstance(page.get("entries"), list)
        and isinstance(page.get("cursor"), str)
        and isinstance(page.get("has_more"), bool)
        and (page.get("cursor_seq") is None or type(page.get("cursor_seq")) is int)
    ):
        raise errors.DriftboxError("the server sent a journal page without entries, cursor and has_more")
    return page
