"""The server forgets every device's place in the journal (its namespace's epoch changes, as after a
restore from a backup): both devices re-list, merge without deleting anything, and converge."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.child import LocalStack
from tests.system.devices import Device, files, new_user, stack_dynamodb


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    started = LocalStack(None).start()
    yield started
    started.kill()


def forget_every_cursor(stack: LocalStack, device: Device) -> None:
    """A new epoch on the namespace's row in the stack's DynamoDB: every cursor given out is void."""
    dynamodb, tables = stack_dynamodb(stack)
    namespace_id = json.loads((device.home / "settings.json").read_text())["namespace_id"]
    dynamodb.update_item(
        TableName=tables["NAMESPACES_TABLE"],
        Key={"namespace_id": {"S": namespace_id}},
        UpdateExpression="SET epoch = :epoch",
        ConditionExpression="attribute_exists(namespace_id)",
        ExpressionAttributeValues={":epoch": {"S": f"ep_restored_{uuid.uuid4().hex[:12]}"}},
    )


def test_after_a_cursor_reset_both_devices_merge_deleting_nothing(stack: LocalStack, tmp_path: Path) -> None:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    for name in ("keep.txt", "deleted-and-synced.txt", "deleted-not-synced.txt", "edited.txt"):
        laptop.file(name).write_bytes(f"{name}: first version".encode())
    for device in (laptop, phone):
        device.sync()
    laptop.file("deleted-and-synced.txt").unlink()
    laptop.sync()  # the server deletes it; the phone has not heard yet
    laptop.file("deleted-not-synced.txt").unlink()
    laptop.file("edited.txt").write_bytes(b"edited on the laptop, not synced")
    phone.file("phone-new.txt").write_bytes(b"made on the phone, not synced")
    before = {device.name: set(files(device)) for device in (laptop, phone)}
    every_version = {v for device in (laptop, phone) for v in files(device).values()} | {
        b"deleted-not-synced.txt: first version"
    }

    forget_every_cursor(stack, laptop)

    said = [laptop.sync().stdout, phone.sync().stdout, laptop.sync().stdout, phone.sync().stdout]

    assert files(laptop) == files(phone)
    for device in (laptop, phone):
        assert before[device.name] <= set(files(device)), device.name  # nothing deleted on either
    assert set(files(laptop).values()) == every_version  # no version lost, deleted ones came back
    assert files(laptop)["deleted-and-synced.txt"] == b"deleted-and-synced.txt: first version"
    assert files(laptop)["deleted-not-synced.txt"] == b"deleted-not-synced.txt: first version"
    # With no base to tell who changed what, the laptop's edit is kept beside the server's version.
    copies = [k for k, v in files(laptop).items() if v == b"edited on the laptop, not synced"]
    assert copies and copies[0].startswith("edited (conflicted copy from laptop "), copies
    assert all("no longer knew this device's place" in out for out in said[:2]), said
    assert not any("no longer knew" in out for out in said[2:]), said  # once: the new cursors hold
    assert "In sync." in phone.run("status").stdout
