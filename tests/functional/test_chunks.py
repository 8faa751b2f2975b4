"""Chunks through the HTTP API: presigned uploads and downloads, and who may see which chunk."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import pytest
import requests

from chalicelib.domain.content import CHUNK_SIZE
from tests.functional.conftest import Api
from tests.functional.files import one_chunk_put_op


def _error(status: int, body: Any, expected_status: int, code: str) -> dict[str, Any]:
    assert status == expected_status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def _chunk(size: int = 1000) -> tuple[bytes, str]:
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


def _ask_upload(api: Api, chunks: list[tuple[str, int]], namespace_id: str | None = None) -> tuple[int, Any]:
    body = {
        "namespace_id": namespace_id or api.namespace_id,
        "chunks": [{"hash": h, "size": s} for h, s in chunks],
    }
    return api.post("/v1/chunks/upload", body)


def _ask_download(api: Api, hashes: list[str], namespace_id: str | None = None) -> tuple[int, Any]:
    return api.post(
        "/v1/chunks/download", {"namespace_id": namespace_id or api.namespace_id, "hashes": hashes}
    )


def _send(upload: dict[str, Any], data: bytes) -> requests.Response:
    assert upload["method"] == "PUT"
    return requests.request(upload["method"], upload["url"], data=data, headers=upload["headers"], timeout=30)


def _commit_file(api: Api, path: str, chunk_hash: str, size: int) -> tuple[int, Any]:
    return api.post(
        "/v1/commit", {"namespace_id": api.namespace_id, "ops": [one_chunk_put_op(path, chunk_hash, size)]}
    )


def _upload_and_commit(api: Api, data: bytes, chunk_hash: str, path: str = "/f.bin") -> None:
    status, body = _ask_upload(api, [(chunk_hash, len(data))])
    assert status == 200, body
    (upload,) = body["uploads"]
    assert _send(upload, data).status_code == 200
    status, body = _commit_file(api, path, chunk_hash, len(data))
    assert status == 200, body


def _entries(api: Api) -> list[dict[str, Any]]:
    status, body = api.get(f"/v1/objects?namespace_id={api.namespace_id}")
    assert status == 200, body
    entries: list[dict[str, Any]] = body["entries"]
    return entries


# -- upload --------------------------------------------------------------------------------------
def test_upload_answers_a_presigned_put_with_its_headers(alice: Api) -> None:
    data, chunk_hash = _chunk()
    status, body = _ask_upload(alice, [(chunk_hash, len(data))])
    assert status == 200, body
    assert body["present"] == []
    (upload,) = body["uploads"]
    assert upload["hash"] == chunk_hash
    assert upload["method"] == "PUT"
    assert upload["url"].startswith("http")
    assert upload["expires_at"] > 0
    headers = {k.lower(): v for k, v in upload["headers"].items()}
    assert headers["content-length"] == str(len(data))
    assert hashlib.sha256(data).digest().hex() == chunk_hash
    assert base64.b64decode(headers["x-amz-checksum-sha256"]).hex() == chunk_hash

    response = _send(upload, data)
    assert response.status_code == 200, response.text


def test_a_stored_chunk_is_present_on_the_next_upload_committed_or_not(alice: Api) -> None:
    data, chunk_hash = _chunk()
    status, body = _ask_upload(alice, [(chunk_hash, len(data))])
    assert body["present"] == []
    assert _send(body["uploads"][0], data).status_code == 200
    # Stored, not committed (a client killed after the PUT): present, so it is never sent twice.
    other_data, other_hash = _chunk()
    status, body = _ask_upload(alice, [(chunk_hash, len(data)), (other_hash, len(other_data))])
    assert status == 200, body
    assert body["present"] == [chunk_hash]
    assert [u["hash"] for u in body["uploads"]] == [other_hash]

    status, body = _commit_file(alice, "/f.bin", chunk_hash, len(data))
    assert status == 200, body
    status, body = _ask_upload(alice, [(chunk_hash, len(data))])
    assert (body["present"], body["uploads"]) == ([chunk_hash], [])


def test_knowing_a_hash_gives_another_user_nothing(alice: Api, bob: Api) -> None:
    data, chunk_hash = _chunk()
    _upload_and_commit(alice, data, chunk_hash)

    status, body = _ask_upload(bob, [(chunk_hash, len(data))])
    assert status == 200, body
    assert body["present"] == []
    assert [u["hash"] for u in body["uploads"]] == [chunk_hash]
    _error(*_ask_download(bob, [chunk_hash]), 404, "not_found")

    # Nor can bob commit a file naming alice's chunk without uploading it himself.
    body = _error(*_commit_file(bob, "/stolen.bin", chunk_hash, len(data)), 409, "missing_chunks")
    assert body["hashes"] == [chunk_hash]
    assert _entries(bob) == []


def test_download_of_a_committed_chunk_gives_its_exact_bytes(alice: Api) -> None:
    data, chunk_hash = _chunk(70_000)
    _upload_and_commit(alice, data, chunk_hash)

    status, body = _ask_download(alice, [chunk_hash])
    assert status == 200, body
    (download,) = body["downloads"]
    assert download["hash"] == chunk_hash
    assert download["expires_at"] > 0
    response = requests.get(download["url"], timeout=30)
    assert response.status_code == 200
    assert response.content == data


def test_download_of_a_chunk_never_committed_is_not_found(alice: Api) -> None:
    data, chunk_hash = _chunk()
    body = _error(*_ask_download(alice, [chunk_hash]), 404, "not_found")
    assert body["hashes"] == [chunk_hash]

    # Uploaded but never committed: still not downloadable.
    _, answer = _ask_upload(alice, [(chunk_hash, len(data))])
    assert _send(answer["uploads"][0], data).status_code == 200
    _error(*_ask_download(alice, [chunk_hash]), 404, "not_found")


def test_download_names_only_the_unknown_hashes(alice: Api) -> None:
    data, known = _chunk()
    _upload_and_commit(alice, data, known)
    _, unknown = _chunk()
    body = _error(*_ask_download(alice, [known, unknown]), 404, "not_found")
    assert body["hashes"] == [unknown]


# -- bad requests --------------------------------------------------------------------------------
_GOOD = "ab" * 32


@pytest.mark.parametrize(
    "bad_hash",
    [_GOOD.upper(), _GOOD[:63], _GOOD + "a", "g" * 64, "", " " + _GOOD[1:]],
    ids=["uppercase", "63-chars", "65-chars", "non-hex", "empty", "space"],
)
def test_a_hash_of_the_wrong_form_is_invalid(alice: Api, bad_hash: str) -> None:
    _error(*_ask_upload(alice, [(bad_hash, 10)]), 400, "invalid_request")
    _error(*_ask_upload(alice, [(_GOOD, 10), (bad_hash, 10)]), 400, "invalid_request")
    _error(*_ask_download(alice, [bad_hash]), 400, "invalid_request")


@pytest.mark.parametrize("size", [0, -1, CHUNK_SIZE + 1, 2**63])
def test_a_chunk_size_outside_1_to_4_mib_is_invalid(alice: Api, size: int) -> None:
    _error(*_ask_upload(alice, [(_GOOD, size)]), 400, "invalid_request")


def test_a_full_4_mib_chunk_is_allowed(alice: Api) -> None:
    status, body = _ask_upload(alice, [(_GOOD, CHUNK_SIZE)])
    assert status == 200, body
    assert body["uploads"][0]["headers"]["Content-Length"] == str(CHUNK_SIZE)


def test_one_hash_with_two_sizes_is_invalid(alice: Api) -> None:
    _error(*_ask_upload(alice, [(_GOOD, 10), (_GOOD, 11)]), 400, "invalid_request")


def test_more_than_1000_chunks_or_none_is_invalid(alice: Api) -> None:
    many = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1001)]
    _error(*_ask_upload(alice, [(h, 10) for h in many]), 400, "invalid_request")
    _error(*_ask_download(alice, many), 400, "invalid_request")
    _error(*_ask_upload(alice, []), 400, "invalid_request")
    _error(*_ask_download(alice, []), 400, "invalid_request")
    status, body = _ask_upload(alice, [(h, 10) for h in many[:1000]])
    assert status == 200, body
    assert len(body["uploads"]) == 1000


def test_another_users_namespace_is_forbidden(alice: Api, bob: Api) -> None:
    data, chunk_hash = _chunk()
    _upload_and_commit(bob, data, chunk_hash)

    _error(*_ask_upload(alice, [(chunk_hash, len(data))], bob.namespace_id), 403, "forbidden")
    _error(*_ask_download(alice, [chunk_hash], bob.namespace_id), 403, "forbidden")
    _error(*_ask_download(alice, [chunk_hash], "ns_doesnotexist"), 403, "forbidden")
    # Bob's chunk is still his alone, and still his.
    status, body = _ask_download(bob, [chunk_hash])
    assert status == 200, body


# -- commits and chunks --------------------------------------------------------------------------
def test_committing_a_chunk_never_uploaded_is_missing_chunks_and_commits_nothing(alice: Api) -> None:
    data, chunk_hash = _chunk()
    body = _error(*_commit_file(alice, "/f.bin", chunk_hash, len(data)), 409, "missing_chunks")
    assert body["hashes"] == [chunk_hash]
    assert _entries(alice) == []
    assert alice.get("/v1/account")[1]["namespaces"][0]["head_seq"] == 0
    status, answer = _ask_upload(alice, [(chunk_hash, len(data))])
    assert status == 200, answer
    assert answer["present"] == []


def test_a_commit_with_one_missing_chunk_commits_none_of_its_ops(alice: Api) -> None:
    data, uploaded = _chunk()
    _, answer = _ask_upload(alice, [(uploaded, len(data))])
    assert _send(answer["uploads"][0], data).status_code == 200
    _, missing = _chunk()
    ops = [one_chunk_put_op("/ok.bin", uploaded, len(data)), one_chunk_put_op("/missing.bin", missing, 1000)]
    status, body = alice.post("/v1/commit", {"namespace_id": alice.namespace_id, "ops": ops})
    assert _error(status, body, 409, "missing_chunks")["hashes"] == [missing]
    assert _entries(alice) == []


def test_committing_an_uploaded_chunk_with_the_wrong_size_is_refused(alice: Api) -> None:
    data, chunk_hash = _chunk(1000)
    _, answer = _ask_upload(alice, [(chunk_hash, len(data))])
    assert _send(answer["uploads"][0], data).status_code == 200
    body = _error(*_commit_file(alice, "/f.bin", chunk_hash, 999), 409, "missing_chunks")
    assert body["hashes"] == [chunk_hash]
    assert _entries(alice) == []


def test_asking_to_upload_a_held_chunk_under_another_size_is_answered(alice: Api) -> None:
    data, chunk_hash = _chunk(1000)
    _upload_and_commit(alice, data, chunk_hash)
    # The declared size contradicts the verified one: an error, not a chunk left out of both lists.
    body = _error(*_ask_upload(alice, [(chunk_hash, 999)]), 400, "invalid_request")
    assert body["hashes"] == [chunk_hash]
    status, answer = _ask_upload(alice, [(chunk_hash, 1000)])
    assert status == 200, answer
    assert answer["present"] == [chunk_hash]
