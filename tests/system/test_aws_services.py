"""The emulated services run apart (S3 in one process, DynamoDB and SQS in another) behind one address."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from infra.local import durable
from infra.local.child import LocalStack
from tests.functional.files import chunk_hashes, commit, journal, put_op, upload
from tests.system.conftest import Client

KEYS = {"region_name": "us-east-1"}  # the keys: those of the environment, as the stack has


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _emulators(stack: LocalStack) -> list[int]:
    assert stack.process is not None
    found = subprocess.run(["pgrep", "-P", str(stack.process.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def test_every_service_answers_at_the_one_advertised_address(make_stack: Any) -> None:
    stack = make_stack(None)
    assert len(_emulators(stack)) == 2
    tables = boto3.client("dynamodb", endpoint_url=stack.aws, **KEYS).list_tables()["TableNames"]
    queues = boto3.client("sqs", endpoint_url=stack.aws, **KEYS).list_queues().get("QueueUrls", [])
    buckets = boto3.client("s3", endpoint_url=stack.aws, **KEYS).list_buckets()["Buckets"]
    assert any("journal" in t.lower() for t in tables), tables
    assert queues and buckets


def test_a_killed_stack_leaves_no_emulator_behind(make_stack: Any) -> None:
    stack = make_stack(None)
    children = _emulators(stack)
    stack.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (_refused(stack.aws_port) and not _alive(children)):
        time.sleep(0.1)
    assert _refused(stack.aws_port) and not _alive(children)


def _alive(pids: list[int]) -> bool:
    return any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in pids)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def test_data_kept_by_the_single_process_emulator_is_carried_over(make_stack: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    before = make_stack(data_dir, args=("--aws-in-process",))
    alice, email = Client.sign_up(before.api)
    upload(alice, b"kept bytes")
    assert commit(alice, put_op("/kept.txt", b"kept bytes"))[0] == 200
    assert before.stop() == 0
    assert (data_dir / durable.LOG_NAME).exists()

    after = make_stack(data_dir)
    alice = Client(after.api).log_in(email)
    entries, _ = journal(alice)
    assert [e["path"] for e in entries] == ["/kept.txt"]
    status, grants = alice.post(
        "/v1/chunks/download", {"namespace_id": alice.namespace_id, "hashes": chunk_hashes(b"kept bytes")}
    )
    assert status == 200, grants
    assert requests.get(grants["downloads"][0]["url"], timeout=30).content == b"kept bytes"
    assert not (data_dir / durable.LOG_NAME).exists()
    assert (data_dir / "s3" / durable.LOG_NAME).exists() and (
        data_dir / "dynamodb" / durable.LOG_NAME
    ).exists()
