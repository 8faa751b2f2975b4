"""The emulator's S3 refuses what AWS refuses: wrong bytes, expired or tampered URLs, bad signatures."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import os
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Sha256Checksum

from chalicelib.adapters import keys
from chalicelib.settings import SETTINGS
from tests.functional.conftest import Api
from tests.functional.files import commit, put_op

pytestmark = pytest.mark.usefixtures("aws")

BUCKET = SETTINGS.chunk_bucket


def _s3(secret: str | None = None, access_key: str | None = None) -> Any:
    return boto3.client(
        "s3",
        region_name=SETTINGS.region,
        aws_access_key_id=access_key or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


def _code(response: requests.Response) -> str:
    return _xml_code(response.content)


def _xml_code(data: bytes) -> str:
    return ET.fromstring(data).findtext("Code") or ""  # noqa: S314 - the emulator's own answer


def _grant(api: Api, data: bytes) -> tuple[str, dict[str, Any]]:
    chunk_hash = hashlib.sha256(data).hexdigest()
    status, body = api.post(
        "/v1/chunks/upload",
        {"namespace_id": api.namespace_id, "chunks": [{"hash": chunk_hash, "size": len(data)}]},
    )
    assert status == 200, body
    (grant,) = body["uploads"]
    return chunk_hash, grant


def _stored(api: Api, chunk_hash: str) -> bool:
    try:
        _s3().head_object(Bucket=BUCKET, Key=keys.chunk_object(api.namespace_id, chunk_hash))
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "404"
        return False
    return True


def _put(url: str, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.put(url, data=data, headers=headers, timeout=30)


# -- presigned chunk uploads from the API ----------------------------------------------------------
def test_the_right_bytes_are_stored_and_can_be_committed(alice: Api) -> None:
    data = os.urandom(4 * 1024 * 1024)
    chunk_hash, grant = _grant(alice, data)
    assert _put(grant["url"], data, grant["headers"]).status_code == 200
    assert _stored(alice, chunk_hash)
    status, body = commit(alice, put_op("/right.bin", data))
    assert status == 200, body


def test_wrong_bytes_are_bad_digest_store_nothing_and_the_commit_is_refused(alice: Api) -> None:
    data = os.urandom(5000)
    chunk_hash, grant = _grant(alice, data)
    forged = bytes([data[0] ^ 1]) + data[1:]  # same length, one bit off

    response = _put(grant["url"], forged, grant["headers"])
    assert response.status_code == 400
    assert _code(response) == "BadDigest"
    assert "SHA256 you specified did not match" in response.text
    assert not _stored(alice, chunk_hash)
    status, body = commit(alice, put_op("/forged.bin", data))
    assert status == 409, body
    assert (body["error"]["code"], body["error"]["hashes"]) == ("missing_chunks", [chunk_hash])

    # The grant itself was sound: the right bytes still go through it.
    assert _put(grant["url"], data, grant["headers"]).status_code == 200
    assert commit(alice, put_op("/forged.bin", data))[0] == 200


def test_a_body_shorter_than_its_signed_length_is_refused(alice: Api) -> None:
    data = os.urandom(5000)
    chunk_hash, grant = _grant(alice, data)
    url = urlsplit(grant["url"])
    connection = http.client.HTTPConnection(url.netloc, timeout=30)
    connection.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
    for name, value in grant["headers"].items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(data[:-100])
    assert connection.sock is not None
    connection.sock.shutdown(socket.SHUT_WR)  # the client gives up before Content-Length bytes
    response = connection.getresponse()
    assert response.status == 400
    assert _xml_code(response.read()) == "IncompleteBody"
    connection.close()
    assert not _stored(alice, chunk_hash)


def test_a_changed_key_or_signed_header_does_not_match_the_signature(alice: Api) -> None:
    data = os.urandom(5000)
    chunk_hash, grant = _grant(alice, data)
    other = os.urandom(4000)
    other_hash = hashlib.sha256(other).hexdigest()
    other_checksum = base64.b64encode(bytes.fromhex(other_hash)).decode()
    attempts = [
        # Another key: the same grant cannot store the bytes of another chunk.
        (grant["url"].replace(chunk_hash, other_hash), other, grant["headers"] | {"Content-Length": "4000"}),
        # Another checksum and length, consistent with other bytes: still not what was signed.
        (grant["url"], other, {"x-amz-checksum-sha256": other_checksum, "Content-Length": "4000"}),
        # The signed checksum but a shorter body under a shorter declared length.
        (grant["url"], data[:-1], grant["headers"] | {"Content-Length": str(len(data) - 1)}),
    ]
    for url, body, headers in attempts:
        response = _put(url, body, headers)
        assert response.status_code == 403, response.text
        assert _code(response) == "SignatureDoesNotMatch"
    assert not _stored(alice, chunk_hash)
    assert not _stored(alice, other_hash)


def test_a_url_signed_with_another_secret_or_an_unknown_key_is_refused(alice: Api) -> None:
    params = {"Bucket": BUCKET, "Key": keys.chunk_object(alice.namespace_id, "ab" * 32)}
    forged = _s3(secret="not the emulator's secret").generate_presigned_url("put_object", Params=params)
    response = _put(forged, b"x", {})
    assert (response.status_code, _code(response)) == (403, "SignatureDoesNotMatch")
    stranger = _s3(access_key="AKIASTRANGER").generate_presigned_url("put_object", Params=params)
    response = _put(stranger, b"x", {})
    assert (response.status_code, _code(response)) == (403, "InvalidAccessKeyId")


def test_expired_presigned_urls_are_access_denied(alice: Api) -> None:
    key = keys.chunk_object(alice.namespace_id, "cd" * 32)
    _s3().put_object(Bucket=BUCKET, Key=key, Body=b"old bytes")
    put_url = _s3().generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=1)
    get_url = _s3().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=1)
    time.sleep(2)  # X-Amz-Date has whole seconds: 2 s is past date + 1 s however the clock fell
    for response in [_put(put_url, b"new bytes", {}), requests.get(get_url, timeout=30)]:
        assert response.status_code == 403
        assert _code(response) == "AccessDenied"
        assert "Request has expired" in response.text
    fresh = _s3().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
    assert requests.get(fresh, timeout=30).content == b"old bytes"


def test_a_presigned_get_from_the_api_gives_the_bytes_and_a_changed_one_is_refused(alice: Api) -> None:
    data = os.urandom(3000)
    chunk_hash, grant = _grant(alice, data)
    assert _put(grant["url"], data, grant["headers"]).status_code == 200
    assert commit(alice, put_op("/get.bin", data))[0] == 200
    status, body = alice.post(
        "/v1/chunks/download", {"namespace_id": alice.namespace_id, "hashes": [chunk_hash]}
    )
    assert status == 200, body
    url = body["downloads"][0]["url"]
    assert requests.get(url, timeout=30).content == data
    response = requests.get(url.replace("X-Amz-Expires=", "X-Amz-Expires=1"), timeout=30)
    assert (response.status_code, _code(response)) == (403, "SignatureDoesNotMatch")


# -- ordinary boto3 calls (signed headers, signed payloads) ----------------------------------------
def test_ordinary_boto3_calls_still_work() -> None:
    s3 = _s3()
    bucket = f"strict-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain bytes")
    s3.put_object(Bucket=bucket, Key="sha/€ x+y", Body=b"checked", ChecksumAlgorithm="SHA256")
    md5 = base64.b64encode(hashlib.md5(b"md5").digest()).decode()  # noqa: S324 - S3's own digest
    s3.put_object(Bucket=bucket, Key="md5", Body=b"md5", ContentMD5=md5)
    assert s3.get_object(Bucket=bucket, Key="sha/€ x+y")["Body"].read() == b"checked"
    assert s3.head_object(Bucket=bucket, Key="plain")["ContentLength"] == len(b"plain bytes")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "plain"})
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["copy", "md5", "plain", "sha/€ x+y"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy"}, {"Key": "md5"}]})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2


def test_a_multipart_upload_still_works() -> None:
    s3 = _s3()
    key = f"multipart/{os.urandom(4).hex()}"
    parts_data = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, part in enumerate(parts_data, start=1):
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm="SHA256",
        )
        parts.append(
            {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": answer["ChecksumSHA256"]}
        )
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"".join(parts_data)


def test_boto3_calls_with_wrong_digests_or_secret_are_refused() -> None:
    s3 = _s3()
    key = f"refused/{os.urandom(4).hex()}"
    wrong_sha256 = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()  # noqa: S324 - S3's own digest
    for extra in [{"ChecksumSHA256": wrong_sha256}, {"ContentMD5": wrong_md5}]:
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"bytes", **extra)
        assert caught.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as caught:
        _s3(secret="wrong").put_object(Bucket=BUCKET, Key=key, Body=b"bytes")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=BUCKET, Key=key)
    assert caught.value.response["Error"]["Code"] == "404"


def _streaming_put(key: str, data: bytes, trailer_checksum: str | None = None) -> requests.Response:
    """An aws-chunked PUT with a trailing SHA-256, as botocore sends one over HTTPS."""
    body = bytes(
        AwsChunkedWrapper(
            io.BytesIO(data),
            checksum_cls=Sha256Checksum,
            checksum_name="x-amz-checksum-sha256",
            chunk_size=64 * 1024,
        ).read()
    )
    if trailer_checksum is not None:
        body = (
            body.rsplit(b"x-amz-checksum-sha256:", 1)[0]
            + f"x-amz-checksum-sha256:{trailer_checksum}\r\n\r\n".encode()
        )
    url = f"{os.environ['AWS_ENDPOINT_URL']}/{BUCKET}/{key}"
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-sha256",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "Content-Length": str(len(body)),
    }
    request = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    request.context["checksum"] = {"request_algorithm": {"in": "trailer", "algorithm": "sha256"}}
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    S3SigV4Auth(credentials, "s3", SETTINGS.region).add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return requests.put(url, data=body, headers=dict(request.headers.items()), timeout=30)


def test_an_aws_chunked_upload_is_checked_against_its_trailing_checksum() -> None:
    data = os.urandom(200_000)
    key = f"streaming/{os.urandom(4).hex()}"
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = _streaming_put(key, data, trailer_checksum=wrong)
    assert (response.status_code, _code(response)) == (400, "BadDigest")
    with pytest.raises(ClientError):
        _s3().head_object(Bucket=BUCKET, Key=key)
    assert _streaming_put(key, data).status_code == 200
    assert _s3().get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


# -- nothing but SigV4 with the emulator's key -----------------------------------------------------
def _object_url(key: str) -> str:
    return f"{os.environ['AWS_ENDPOINT_URL']}/{BUCKET}/{key}"


def _sigv2(method: str, url: str, body: bytes = b"") -> requests.Response:
    """A request signed as SigV2 signs it (``Authorization: AWS key:signature``), with the right key."""
    request = AWSRequest(method=method, url=url, data=body)
    HmacV1Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])).add_auth(
        request
    )
    assert request.headers["Authorization"].startswith("AWS ")
    return requests.request(method, url, data=body, headers=dict(request.headers.items()), timeout=30)


def _sigv2_presigned(url: str) -> str:
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    HmacV1QueryAuth(credentials, expires=900).add_auth(request)
    assert "Signature=" in request.url and "AWSAccessKeyId=" in request.url
    return str(request.url)


def test_sigv2_signed_requests_are_refused_and_store_nothing() -> None:
    key = f"sigv2/{os.urandom(4).hex()}"
    _s3().put_object(Bucket=BUCKET, Key=f"{key}-kept", Body=b"kept")
    refused = [
        _sigv2("PUT", _object_url(key), b"sigv2 bytes"),
        _sigv2("GET", _object_url(f"{key}-kept")),
        _sigv2("GET", f"{os.environ['AWS_ENDPOINT_URL']}/{BUCKET}?list-type=2"),
        _sigv2("DELETE", _object_url(f"{key}-kept")),
        requests.get(_sigv2_presigned(_object_url(f"{key}-kept")), timeout=30),
    ]
    for response in refused:
        assert (response.status_code, _code(response)) == (400, "InvalidRequest"), response.text
        assert "Please use AWS4-HMAC-SHA256" in response.text
    with pytest.raises(ClientError):
        _s3().head_object(Bucket=BUCKET, Key=key)
    assert _s3().get_object(Bucket=BUCKET, Key=f"{key}-kept")["Body"].read() == b"kept"


def test_unsigned_requests_are_access_denied_and_store_nothing() -> None:
    key = f"anonymous/{os.urandom(4).hex()}"
    _s3().put_object(Bucket=BUCKET, Key=f"{key}-kept", Body=b"kept")
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    refused = [
        requests.put(_object_url(key), data=b"anonymous bytes", timeout=30),
        requests.get(_object_url(f"{key}-kept"), timeout=30),
        requests.get(f"{endpoint}/{BUCKET}?list-type=2", timeout=30),
        requests.get(f"{endpoint}/", timeout=30),
        requests.delete(_object_url(f"{key}-kept"), timeout=30),
    ]
    for response in refused:
        assert (response.status_code, _code(response)) == (403, "AccessDenied"), response.text
    anonymous = boto3.client("s3", region_name=SETTINGS.region, config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as caught:
        anonymous.list_objects_v2(Bucket=BUCKET)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        _s3().head_object(Bucket=BUCKET, Key=key)
    assert _s3().get_object(Bucket=BUCKET, Key=f"{key}-kept")["Body"].read() == b"kept"


def test_header_signed_reads_are_checked_against_the_key_too() -> None:
    key = f"reads/{os.urandom(4).hex()}"
    _s3().put_object(Bucket=BUCKET, Key=key, Body=b"secret bytes")
    forged = _s3(secret="not the emulator's secret")
    calls: list[Callable[[], Any]] = [
        lambda: forged.get_object(Bucket=BUCKET, Key=key),
        lambda: forged.list_objects_v2(Bucket=BUCKET),
        lambda: forged.delete_object(Bucket=BUCKET, Key=key),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as caught:
        _s3(access_key="AKIASTRANGER").list_objects_v2(Bucket=BUCKET)
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert _s3().get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"secret bytes"
