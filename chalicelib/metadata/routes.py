"""Metadata routes: parse, call the service, answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib import http, lazy
from chalicelib.accounts import auth
from chalicelib.metadata.schemas import (
    CommitBody,
    FolderQuery,
    LongpollQuery,
    ObjectsQuery,
    RestoreBody,
    RevisionsQuery,
    to_ops,
)

if TYPE_CHECKING:
    from chalicelib.metadata import commit, folders, reads
    from chalicelib.metadata import longpoll as waiting
else:
    commit = lazy.module("chalicelib.metadata.commit")
    folders = lazy.module("chalicelib.metadata.folders")
    reads = lazy.module("chalicelib.metadata.reads")
    waiting = lazy.module("chalicelib.metadata.longpoll")

bp = Blueprint(__name__)


@http.route(bp, "/v1/commit", "POST")
def commit_route() -> object:
    request = http.request()
    key = commit.check_idempotency_key(request.headers.get("idempotency-key"))
    req = http.body(request, CommitBody)
    payload_hash = commit.request_hash(req.namespace_id, http.raw_json(request))
    ops = to_ops(req.ops)
    return commit.commit(auth.current(), req.namespace_id, ops, key, payload_hash)


@http.route(bp, "/v1/objects", "GET")
def objects() -> object:
    q = http.query(http.request(), ObjectsQuery)
    return reads.objects(auth.current(), q.namespace_id, q.cursor, q.limit)


@http.route(bp, "/v1/folders", "GET")
def list_folder() -> object:
    q = http.query(http.request(), FolderQuery)
    return folders.list_folder(auth.current(), q.namespace_id, q.path, q.cursor, q.limit)


@http.route(bp, "/v1/objects/longpoll", "GET")
def longpoll() -> object:
    q = http.query(http.request(), LongpollQuery)
    return waiting.longpoll(auth.current(), q.namespace_id, q.cursor, q.timeout)


@http.route(bp, "/v1/files/revisions", "GET")
def revisions() -> object:
    q = http.query(http.request(), RevisionsQuery)
    return reads.revisions(auth.current(), q.namespace_id, q.path, q.limit)


@http.route(bp, "/v1/files/restore", "POST")
def restore() -> object:
    req = http.body(http.request(), RestoreBody)
    return reads.restore(auth.current(), req.namespace_id, req.path, req.rev)
