"""boto3 clients, made once per process and per configuration.

boto3's default session is not safe to create clients from in several threads at once, and both
Lambda's thread pools and the local stack (several handlers in one process) do just that.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoCredentialsError

from chalicelib.settings import SETTINGS

_LOCK = threading.Lock()


@functools.cache
def client(
    service: str, *, endpoint_url: str | None = None, config: Config | None = None, region: str | None = None
) -> Any:
    with _LOCK:
        return boto3.client(
            service, region_name=region or SETTINGS.region, endpoint_url=endpoint_url, config=config
        )


def endpoint_is_configured(service: str, region: str) -> bool:
    """Whether clients of ``service`` go where the environment says (an emulator), not to AWS.

    botocore takes the endpoint from AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> or the config
    file; a client told to ignore those shows where AWS itself is. Asked once per process (the
    answer is cached by its callers), so with new clients, never stale ones.
    """
    with _LOCK:
        configured = boto3.client(service, region_name=region)
        aws_own = boto3.client(
            service, region_name=region, config=Config(ignore_configured_endpoint_urls=True)
        )
    return bool(configured.meta.endpoint_url != aws_own.meta.endpoint_url)


@functools.cache
def _credentials() -> Any:
    with _LOCK:
        return boto3.session.Session().get_credentials()


def credentials() -> Any:
    """The credentials clients sign with, as of now (``access_key``, ``secret_key``, ``token``)."""
    found = _credentials()
    if found is None:
        raise NoCredentialsError()
    return found.get_frozen_credentials()
