"""Chunk routes: parse, call the service, answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib import http, lazy
from chalicelib.accounts import auth

if TYPE_CHECKING:
    from chalicelib.chunks import service
else:
    service = lazy.module("chalicelib.chunks.service")

bp = Blueprint(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChunkSpec(_Strict):
    hash: str
    size: int


class UploadBody(_Strict):
    namespace_id: str
    chunks: list[ChunkSpec]


class DownloadBody(_Strict):
    namespace_id: str
    hashes: list[str]


@http.route(bp, "/v1/chunks/upload", "POST")
def upload() -> object:
    req = http.body(http.request(), UploadBody)
    chunks = [(c.hash, c.size) for c in req.chunks]
    return service.upload(auth.current(), req.namespace_id, chunks)


@http.route(bp, "/v1/chunks/download", "POST")
def download() -> object:
    req = http.body(http.request(), DownloadBody)
    return service.download(auth.current(), req.namespace_id, req.hashes)
