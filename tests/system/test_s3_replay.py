"""The S3 write log replays what clients did with real SDK calls: multipart uploads and versions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024 * 1024
# What `aws s3 cp` and `aws s3 sync` do with a file over 8 MiB: a multipart upload in 8 MiB parts.
AWS_CLI_TRANSFER = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)


def _s3(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(signature_version="s3v4")
    )


def test_multipart_uploads_and_versions_are_the_same_after_a_restart(make_stack: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = make_stack(data_dir)
    s3 = _s3(stack.aws)
    bucket = f"replay-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MIB + 1))
    s3.upload_file(str(big), bucket, "big.bin", Config=AWS_CLI_TRANSFER)
    # An upload still in progress at the stop: the client goes on with the id it was given.
    first_part, last_part = os.urandom(5 * MIB), b"the last part"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="resumed.bin")["UploadId"]
    first = s3.upload_part(
        Bucket=bucket, Key="resumed.bin", UploadId=upload_id, PartNumber=1, Body=first_part
    )
    # Version ids, and the delete markers' ids, made up by the emulator too.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old_version = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"two")
    marker = s3.delete_object(Bucket=bucket, Key="doc.txt")["VersionId"]
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "big.bin"}]})["Deleted"]
    assert stack.stop() == 0

    again = make_stack(data_dir)
    assert not [line for line in again.output if "skipped" in line], again.output
    s3 = _s3(again.aws)
    big_version = next(
        v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"] if v["Key"] == "big.bin"
    )
    assert (
        s3.get_object(Bucket=bucket, Key="big.bin", VersionId=big_version)["Body"].read() == big.read_bytes()
    )
    last = s3.upload_part(Bucket=bucket, Key="resumed.bin", UploadId=upload_id, PartNumber=2, Body=last_part)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="resumed.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="resumed.bin")["Body"].read() == first_part + last_part
    assert s3.get_object(Bucket=bucket, Key="doc.txt", VersionId=old_version)["Body"].read() == b"one"
    markers = {(m["Key"], m["VersionId"]) for m in s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]}
    assert markers == {("doc.txt", marker), ("big.bin", deleted[0]["DeleteMarkerVersionId"])}
    assert again.stop() == 0
    assert _s3(make_stack(data_dir).aws).head_object(Bucket=bucket, Key="resumed.bin")["ContentLength"] == (
        len(first_part) + len(last_part)
    )
