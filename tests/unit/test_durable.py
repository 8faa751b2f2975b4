"""The durable layer's log: framing, torn records, group commit, and replay through a WSGI app."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from infra.local import durable

S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=local/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
)
DYNAMODB_AUTH = S3_AUTH.replace("/s3/", "/dynamodb/")


class Store:
    """A tiny WSGI key-value service: PUT stores, GET reads, DELETE of a missing key is 404.

    A body of ``boom`` raises, as moto does when a request names an id it never made.
    """

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if body == b"boom":
            raise KeyError(path)  # as moto does for an id it never made
        if method == "PUT":
            self.items[path] = body
            start_response("200 OK", [])
            return [b""]
        if method == "DELETE" and path not in self.items:
            start_response("404 Not Found", [])
            return [b"missing"]
        if method == "DELETE":
            del self.items[path]
            start_response("204 No Content", [])
            return [b""]
        found = self.items.get(path)
        start_response("200 OK" if found is not None else "404 Not Found", [])
        return [found or b""]


def request(app: Any, method: str, path: str, body: bytes = b"", auth: str = S3_AUTH) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": auth,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    data = b"".join(app(environ, start_response))
    return answer["status"], data


def layer(tmp_path: Path) -> tuple[Store, durable.Durable]:
    store = Store()
    wrapped = durable.Durable(store, tmp_path, dynamodb_lock=threading.RLock())
    wrapped.replay()
    return store, wrapped


def test_records_round_trip_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "log"
    records = [({"PATH_INFO": f"/k{i}", "HTTP_X": "é"}, bytes([i]) * i) for i in range(5)]
    path.write_bytes(b"".join(durable.encode(env, body) for env, body in records))
    assert [durable.decode(p) for _, p in durable.read_records(path)] == records

    whole = path.read_bytes()
    path.write_bytes(whole[:-3])
    assert len(list(durable.read_records(path))) == 4
    corrupt = bytearray(whole)
    corrupt[-1] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    assert len(list(durable.read_records(path))) == 4


def test_acknowledged_writes_replay_into_a_fresh_service(tmp_path: Path) -> None:
    _store, wrapped = layer(tmp_path)
    assert request(wrapped, "PUT", "/bucket/a", b"alpha")[0] == "200 OK"
    assert request(wrapped, "PUT", "/bucket/b", b"beta")[0] == "200 OK"
    assert request(wrapped, "DELETE", "/bucket/b")[0] == "204 No Content"
    assert request(wrapped, "DELETE", "/bucket/zzz")[0] == "404 Not Found"  # failed: not logged
    assert request(wrapped, "GET", "/bucket/a") == ("200 OK", b"alpha")  # a read: not logged
    wrapped.close()

    restored, again = layer(tmp_path)
    assert restored.items == {"/bucket/a": b"alpha"}
    assert restored.calls == 3  # the two PUTs and the DELETE that succeeded
    again.close()


def test_only_dynamodb_and_s3_are_logged(tmp_path: Path) -> None:
    _store, wrapped = layer(tmp_path)
    sqs = S3_AUTH.replace("/s3/", "/sqs/")
    request(wrapped, "PUT", "/queue", b"message", auth=sqs)
    request(wrapped, "PUT", "/table", b"item", auth=DYNAMODB_AUTH)  # not a write action: not logged
    wrapped.close()
    assert list(durable.read_records(tmp_path / durable.LOG_NAME)) == []


def test_a_torn_record_is_cut_off_and_later_writes_follow_the_good_ones(tmp_path: Path) -> None:
    _store, wrapped = layer(tmp_path)
    request(wrapped, "PUT", "/bucket/a", b"alpha")
    wrapped.close()
    log_path = tmp_path / durable.LOG_NAME
    good = log_path.read_bytes()
    log_path.write_bytes(good + durable.encode({"PATH_INFO": "/bucket/torn"}, b"x" * 100)[:-10])

    restored, again = layer(tmp_path)
    assert restored.items == {"/bucket/a": b"alpha"}
    assert log_path.read_bytes() == good
    request(again, "PUT", "/bucket/c", b"gamma")
    again.close()
    final, third = layer(tmp_path)
    assert final.items == {"/bucket/a": b"alpha", "/bucket/c": b"gamma"}
    third.close()


def test_concurrent_writers_share_fsyncs_and_every_write_is_kept(tmp_path: Path) -> None:
    store, wrapped = layer(tmp_path)

    def writer(n: int) -> None:
        for i in range(25):
            request(wrapped, "PUT", f"/bucket/{n}-{i}", b"v")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= wrapped.syncs <= 200
    wrapped.close()
    restored, again = layer(tmp_path)
    assert restored.items == store.items and len(store.items) == 200
    again.close()


@pytest.mark.parametrize(
    ("environ", "service"),
    [
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, "dynamodb"),
        ({"HTTP_AUTHORIZATION": S3_AUTH}, "s3"),
        (
            {"QUERY_STRING": "X-Amz-Credential=k%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=1"},
            "s3",
        ),
        ({"HTTP_AUTHORIZATION": "garbage"}, ""),
        ({}, ""),
    ],
)
def test_service_is_read_from_the_credential_scope(environ: dict[str, Any], service: str) -> None:
    assert durable.service_of(environ) == service


def test_a_single_process_log_is_split_by_service_once(tmp_path: Path) -> None:
    from infra.local import aws_services

    records = [
        ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/a", "HTTP_AUTHORIZATION": S3_AUTH}, b"alpha"),
        ({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, b"{}"),
        ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/b", "HTTP_AUTHORIZATION": S3_AUTH}, b"beta"),
        ({"REQUEST_METHOD": "POST", "HTTP_AUTHORIZATION": DYNAMODB_AUTH}, b"{}"),
    ]
    legacy = tmp_path / durable.LOG_NAME
    legacy.write_bytes(b"".join(durable.encode(environ, body) for environ, body in records))

    aws_services.split_legacy_log(tmp_path)

    def kept(name: str) -> list[tuple[dict[str, str], bytes]]:
        return [durable.decode(p) for _, p in durable.read_records(tmp_path / name / durable.LOG_NAME)]

    assert not legacy.exists()
    assert kept("s3") == [records[0], records[2]]  # each in its order
    assert kept("dynamodb") == [records[1], records[3]]
    aws_services.split_legacy_log(tmp_path)  # nothing left to split: the new logs stay as they are
    assert kept("s3") == [records[0], records[2]]


class Uploads:
    """A WSGI service that makes up ids: POST starts an upload under a random id, PUT /<id> adds to it."""

    def __init__(self) -> None:
        self.uploads: dict[str, bytes] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["REQUEST_METHOD"] == "POST":
            upload_id = os.urandom(8).hex()
            self.uploads[upload_id] = b""
            start_response("200 OK", [("X-Upload-Id", upload_id)])
            return [b""]
        upload_id = environ["PATH_INFO"].rsplit("/", 1)[-1]
        self.uploads[upload_id] += body  # a KeyError for an id it never made, as moto's
        start_response("200 OK", [])
        return [b""]


class UploadIds:
    """The port for ``Uploads``: the id is in a header; a replayed upload is renamed to the logged id."""

    def __init__(self, service: Uploads) -> None:
        self.service = service

    def made(self, environ: dict[str, str], headers: list[tuple[str, str]], answer: bytes) -> dict[str, Any]:
        found = [value for name, value in headers if name == "X-Upload-Id"]
        return {"upload_id": found[0]} if found else {}

    def restore(
        self, environ: dict[str, str], logged: dict[str, Any], headers: list[tuple[str, str]], answer: bytes
    ) -> None:
        now = self.made(environ, headers, answer)
        if logged and now != logged:
            self.service.uploads[logged["upload_id"]] = self.service.uploads.pop(now["upload_id"])


def uploads_layer(tmp_path: Path) -> tuple[Uploads, durable.Durable]:
    service = Uploads()
    wrapped = durable.Durable(
        service, tmp_path, dynamodb_lock=threading.RLock(), made_ids={"s3": UploadIds(service)}
    )
    wrapped.replay()
    return service, wrapped


def _start_upload(app: Any) -> str:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/bucket/big?uploads",
        "HTTP_AUTHORIZATION": S3_AUTH,
        "CONTENT_LENGTH": "0",
        "wsgi.input": io.BytesIO(b""),
    }
    headers: list[tuple[str, str]] = []
    b"".join(app(environ, lambda status, answer: headers.extend(answer)))
    return dict(headers)["X-Upload-Id"]


def test_ids_the_service_made_are_the_same_after_replay(tmp_path: Path) -> None:
    _service, wrapped = uploads_layer(tmp_path)
    upload_id = _start_upload(wrapped)
    assert request(wrapped, "PUT", f"/bucket/big/{upload_id}", b"part 1,")[0] == "200 OK"
    wrapped.close()

    restored, again = uploads_layer(tmp_path)
    assert restored.uploads == {upload_id: b"part 1,"}  # replayed under the id the client holds
    assert request(again, "PUT", f"/bucket/big/{upload_id}", b"part 2")[0] == "200 OK"
    again.close()
    final, third = uploads_layer(tmp_path)
    assert final.uploads == {upload_id: b"part 1,part 2"}
    third.close()


def _records_at(path: Path) -> list[int]:
    return [record.start for record in durable.scan(path)]


def test_a_record_that_cannot_be_replayed_is_reported_by_position_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path = tmp_path / durable.LOG_NAME
    put = {"REQUEST_METHOD": "PUT", "HTTP_AUTHORIZATION": S3_AUTH}
    log_path.write_bytes(
        durable.encode(put | {"PATH_INFO": "/bucket/a"}, b"alpha")
        + durable.encode(put | {"PATH_INFO": "/bucket/never-made"}, b"boom")  # raises, as moto did
        + durable.frame(b"\x05\x00\x00\x00{not json")  # a sound frame around a malformed header
        + durable.encode(put | {"PATH_INFO": "/bucket/b"}, b"beta")
    )
    starts = _records_at(log_path)

    with caplog.at_level(logging.WARNING, logger="driftbox.local.durable"):
        store = Store()
        wrapped = durable.Durable(store, tmp_path, dynamodb_lock=threading.RLock())
        replayed = wrapped.replay()
    assert (replayed.records, replayed.failed, replayed.cut_bytes) == (4, 2, 0)
    assert store.items == {"/bucket/a": b"alpha", "/bucket/b": b"beta"}
    warnings = [r.getMessage() for r in caplog.records]
    assert f"record 2 at byte {starts[1]} of {durable.LOG_NAME} skipped" in warnings[0]
    assert "KeyError" in warnings[0]
    assert f"record 3 at byte {starts[2]}" in warnings[1]
    assert request(wrapped, "PUT", "/bucket/c", b"gamma")[0] == "200 OK"  # it serves, and logs on
    wrapped.close()


def test_a_record_damaged_in_place_is_skipped_and_the_ones_after_it_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path = tmp_path / durable.LOG_NAME
    put = {"REQUEST_METHOD": "PUT", "HTTP_AUTHORIZATION": S3_AUTH}
    records = [durable.encode(put | {"PATH_INFO": f"/bucket/{name}"}, name.encode()) for name in "abc"]
    damaged = bytearray(records[1])
    damaged[-1] ^= 0xFF
    log_path.write_bytes(records[0] + bytes(damaged) + records[2])

    with caplog.at_level(logging.WARNING, logger="driftbox.local.durable"):
        store = Store()
        wrapped = durable.Durable(store, tmp_path, dynamodb_lock=threading.RLock())
        replayed = wrapped.replay()
    wrapped.close()
    assert store.items == {"/bucket/a": b"a", "/bucket/c": b"c"}
    assert (replayed.failed, replayed.cut_bytes) == (1, 0)
    assert f"record 2 at byte {len(records[0])}" in caplog.records[0].getMessage()
    assert log_path.read_bytes().startswith(records[0] + bytes(damaged) + records[2])
