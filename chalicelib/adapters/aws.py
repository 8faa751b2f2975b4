"""boto3 clients, made once per process and per configuration.

boto3's default session is not safe to create clients from in several threads at once, and both
Lambda's thread pools and the local stack (several handlers in one process) do just that.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from chalicelib.settings import SETTINGS

_LOCK = threading.Lock()


@functools.cache
def client(
    service: str,
    *,
    endpoint_url: str | None = None,
    config: Config | None = None,
    timestamps_as_text: bool = False,
) -> Any:
    """A client; with ``timestamps_as_text``, one that leaves the timestamps of its answers as sent.

    botocore parses each timestamp with dateutil: for a listing of 1,000 S3 keys whose dates nobody
    reads, that costs more than the request itself.
    """
    with _LOCK:
        if not timestamps_as_text:
            return boto3.client(
                service, region_name=SETTINGS.region, endpoint_url=endpoint_url, config=config
            )
        core = botocore.session.get_session()
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
        session = boto3.session.Session(botocore_session=core)
        return session.client(service, region_name=SETTINGS.region, endpoint_url=endpoint_url, config=config)
