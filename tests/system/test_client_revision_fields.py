"""Two real devices: mtimes in nanoseconds end to end, an entry no client can use held back alone
(reported by `status`, the rest synced), and a script's executable bit kept across edits elsewhere."""

from __future__ import annotations

import json
import os
import stat
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.child import LocalStack
from tests.functional.files import commit, put_op, upload
from tests.system.conftest import Client
from tests.system.devices import PASSWORD, Device, converge, files, new_user, stack_dynamodb

SPEC_EXAMPLE_MTIME_NS = 1732450000123456789  # docs/openapi.yaml's own example
CORRUPT_MTIME_NS = 10**30


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


def user(stack: LocalStack, base: Path, *names: str) -> tuple[list[Device], Client]:
    """Devices of one new account, each linked to its own folder, and the account's API client."""
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    return new_user(stack, base, *names, email=email), Client(stack.api).log_in(
        email, PASSWORD, device="script"
    )


def corrupt_mtime(stack: LocalStack, namespace_id: str, path: str, mtime_ns: int) -> None:
    """Give ``path``'s stored revision an mtime no API request may carry (as data written by an
    older server, which took any integer), in the stack's tree rows and journal."""
    dynamodb, tables = stack_dynamodb(stack)
    key = {":n": {"S": namespace_id}}
    rows = dynamodb.query(
        TableName=tables["PATHS_TABLE"],
        KeyConditionExpression="namespace_id = :n",
        ExpressionAttributeValues=key,
    )["Items"]
    [row] = [r for r in rows if r["path"]["S"] == path]
    for name in ("mtime_ns", "mtime"):  # "mtime": where an older server keeps it
        row[name] = {"N": str(mtime_ns)}
    dynamodb.put_item(TableName=tables["PATHS_TABLE"], Item=row)
    records = dynamodb.query(
        TableName=tables["JOURNAL_TABLE"],
        KeyConditionExpression="namespace_id = :n",
        ExpressionAttributeValues=key,
    )["Items"]
    for record in records:
        entries: list[dict[str, Any]] = json.loads(zlib.decompress(record["body"]["B"]))
        if any(e["p"] == path for e in entries):
            for e in (e for e in entries if e["p"] == path):
                e.update({"n": mtime_ns} | ({"t": mtime_ns} if "t" in e else {}))
            record["body"] = {"B": zlib.compress(json.dumps(entries).encode())}
            dynamodb.put_item(TableName=tables["JOURNAL_TABLE"], Item=record)


def test_a_spec_mtime_syncs_exactly_and_an_unusable_entry_holds_back_only_itself(
    stack: LocalStack, tmp_path: Path
) -> None:
    (laptop, phone, tablet), api = user(stack, tmp_path, "laptop", "phone", "tablet")
    laptop.file("first.txt").write_bytes(b"synced before")
    converge(laptop, phone)

    upload(api, b"example")
    status, body = commit(api, put_op("/example.txt", b"example", mtime=SPEC_EXAMPLE_MTIME_NS))
    assert status == 200, body
    upload(api, b"corrupt")
    status, body = commit(api, put_op("/corrupt.txt", b"corrupt"))
    assert status == 200, body
    corrupt_mtime(stack, api.namespace_id, "/corrupt.txt", CORRUPT_MTIME_NS)
    laptop.file("later.txt").write_bytes(b"made on the laptop after")

    for device in (laptop, phone, tablet):  # the journal (laptop, phone) and a first listing (tablet)
        done = device.run("sync", "--once", check=False)
        assert done.returncode == 1 and "1 item(s) not synced" in done.stderr, done.stdout + done.stderr

    expected = {
        "first.txt": b"synced before",
        "example.txt": b"example",
        "later.txt": b"made on the laptop after",
    }
    for device in (laptop, phone, tablet):
        assert files(device) == expected, device.name
        assert device.file("example.txt").stat().st_mtime_ns == SPEC_EXAMPLE_MTIME_NS
        said = device.run("status").stdout
        assert "1 item(s) cannot be synced" in said, said
        assert f"/corrupt.txt: the server sent mtime '{CORRUPT_MTIME_NS}'" in said, said

    upload(api, b"huge")  # no request may store such an mtime now
    status, body = commit(api, put_op("/huge.txt", b"huge", mtime=CORRUPT_MTIME_NS))
    assert status == 400 and body["error"]["code"] == "invalid_request", body
    laptop.file("first.txt").write_bytes(b"edited after")  # the held path holds back nothing else
    laptop.run("sync", "--once", check=False)
    phone.run("sync", "--once", check=False)
    assert phone.file("first.txt").read_bytes() == b"edited after"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_script_stays_executable_when_edited_on_another_device_and_other_bits_stay_local(
    stack: LocalStack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (laptop, phone), _ = user(stack, tmp_path, "laptop", "phone")
    umask = os.umask(0o022)  # the devices' own: a file new to the phone gets 0644 before its x bits
    request.addfinalizer(lambda: os.umask(umask))
    script = laptop.file("run.sh")
    script.write_bytes(b"#!/bin/sh\necho one\n")
    script.chmod(0o750)  # the laptop keeps it from others
    converge(laptop, phone)
    assert _mode(phone.file("run.sh")) == 0o755  # new here: the umask's mode, executable

    phone.file("run.sh").write_bytes(b"#!/bin/sh\necho two\n")
    converge(phone, laptop)
    assert script.read_bytes() == b"#!/bin/sh\necho two\n"
    assert _mode(script) == 0o750  # still executable; the laptop's other bits are its own

    phone.file("run.sh").chmod(0o644)  # a chmod alone is a change that syncs
    converge(phone, laptop)
    assert _mode(script) == 0o640
    script.chmod(0o740)
    converge(laptop, phone)
    assert _mode(phone.file("run.sh")) == 0o755
