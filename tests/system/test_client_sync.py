"""Two devices of one user, each a `driftbox` process with its own home and folder, on the local stack."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import wait_for
from tests.system.devices import DRIFTBOX, Device, converge, new_user, tree


@pytest.fixture
def stack(make_stack: Any) -> Any:
    return make_stack(None)


@pytest.fixture
def pair(stack: Any, tmp_path: Path) -> tuple[Device, Device]:
    laptop, phone = new_user(stack, tmp_path, "laptop", "phone")
    return laptop, phone


def synced_tree(device: Device) -> dict[str, bytes | None]:
    return {k: v for k, v in tree(device.folder).items() if k != ".driftbox"}


def test_create_modify_rename_delete_reach_the_other_device(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    (laptop.folder / "notes").mkdir()
    laptop.file("notes/a.txt").write_bytes(b"first")
    laptop.file("empty").write_bytes(b"")
    laptop.file("with spaces and émoji 🎉.txt").write_bytes(b"fancy")
    converge(laptop, phone)
    assert synced_tree(phone) == synced_tree(laptop)
    assert phone.file("notes/a.txt").read_bytes() == b"first"
    assert phone.file("empty").read_bytes() == b""

    phone.file("notes/a.txt").write_bytes(b"second, longer")
    converge(phone, laptop)
    assert laptop.file("notes/a.txt").read_bytes() == b"second, longer"

    laptop.file("notes/a.txt").rename(laptop.file("notes/b.txt"))
    converge(laptop, phone)
    assert not phone.file("notes/a.txt").exists()
    assert phone.file("notes/b.txt").read_bytes() == b"second, longer"
    history = laptop.run("history", "/notes/b.txt").stdout
    assert "rev" in history  # the move kept the file's history

    phone.file("notes/b.txt").unlink()
    converge(phone, laptop)
    assert not laptop.file("notes/b.txt").exists()
    assert synced_tree(phone) == synced_tree(laptop)


def test_nfd_names_sync_and_meet_their_nfc_twin_as_one(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    nfd = unicodedata.normalize("NFD", "café.txt")
    laptop.file(nfd).write_bytes(b"decomposed")
    converge(laptop, phone)
    assert phone.file(unicodedata.normalize("NFC", "café.txt")).read_bytes() == b"decomposed"
    assert laptop.file(nfd).read_bytes() == b"decomposed"
    assert len(os.listdir(laptop.folder)) == 2  # the file and the marker: no twin appeared


def test_concurrent_edits_keep_both_versions_on_both_devices(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    laptop.file("doc.txt").write_bytes(b"base")
    converge(laptop, phone)
    laptop.file("doc.txt").write_bytes(b"laptop's edit")
    phone.file("doc.txt").write_bytes(b"phone's edit")

    converge(laptop, phone)

    for device in pair:
        contents = sorted(v for k, v in synced_tree(device).items() if v is not None)
        assert contents == [b"laptop's edit", b"phone's edit"], device.name
        names = sorted(synced_tree(device))
        assert names[0] == "doc (conflicted copy from phone " + names[0].split("phone ")[1]
    assert synced_tree(laptop) == synced_tree(phone)


def test_a_folder_of_200_files_moves_as_a_move(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    (laptop.folder / "src").mkdir()
    for i in range(200):
        laptop.file(f"src/f{i:03}.txt").write_bytes(f"file {i}".encode())
    converge(laptop, phone)
    (laptop.folder / "src").rename(laptop.folder / "moved")
    out = laptop.sync().stdout
    assert "0 bytes up" in out  # a move sends no file bytes
    phone.sync()
    assert sorted(os.listdir(phone.folder / "moved")) == [f"f{i:03}.txt" for i in range(200)]
    assert not (phone.folder / "src").exists()


def test_a_removed_sync_folder_deletes_nothing_on_the_server(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    laptop.file("keep.txt").write_bytes(b"precious")
    converge(laptop, phone)
    shutil.rmtree(laptop.folder)

    done = laptop.run("sync", "--once", check=False)

    assert done.returncode == 3 and "missing" in done.stderr and "Traceback" not in done.stderr
    phone.sync()
    assert phone.file("keep.txt").read_bytes() == b"precious"
    assert "keep.txt" in phone.run("ls", "/").stdout


def test_an_emptied_folder_is_refused_not_mirrored(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    for i in range(10):
        laptop.file(f"f{i}.txt").write_bytes(b"x")
    converge(laptop, phone)
    for i in range(10):
        laptop.file(f"f{i}.txt").unlink()

    done = laptop.run("sync", "--once", check=False)

    assert done.returncode == 3, done.stderr
    assert "driftbox sync --once --confirm-deletes" in done.stderr
    phone.sync()
    assert len([n for n in os.listdir(phone.folder) if n != ".driftbox"]) == 10

    # Said to be meant: the deletes go, and the other device follows without being asked again.
    assert laptop.run("sync", "--confirm-deletes", check=False).returncode == 2  # one pass only
    laptop.run("sync", "--once", "--confirm-deletes")
    phone.sync()
    assert os.listdir(phone.folder) == [".driftbox"]
    assert "deleted" in phone.run("history", "/f3.txt").stdout
    converge(laptop, phone)  # and the next passes need no confirmation


def test_errors_are_one_line_without_a_traceback(stack: Any, tmp_path: Path) -> None:
    lonely = Device(stack, tmp_path, "lonely")
    done = lonely.run("sync", "--once", check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    nowhere = ("--server", "http://127.0.0.1:9")
    done = lonely.run(*nowhere, "login", "a@example.com", "--device", "x", check=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "cannot reach" in done.stderr


def test_a_running_sync_hears_of_changes_both_ways(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    env = {**os.environ, "DRIFTBOX_PASSWORD": "unused"}
    command = [DRIFTBOX, "--server", phone.stack.api, "--home", str(phone.home), "sync"]
    running = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        laptop.file("from-laptop.txt").write_bytes(b"pushed")
        laptop.sync()  # the phone learns of it by its WebSocket, not by a timer (a minute)
        wait_for(lambda: phone.file("from-laptop.txt").exists(), 30, "the phone to download the file")
        assert phone.file("from-laptop.txt").read_bytes() == b"pushed"

        phone.file("from-phone.txt").write_bytes(b"watched")  # the watcher sees it
        wait_for(lambda: "from-phone.txt" in laptop.run("ls", "/").stdout, 30, "the phone to upload it")
    finally:
        running.send_signal(signal.SIGINT)
        output, _ = running.communicate(timeout=30)
    assert running.returncode == 130 and "Traceback" not in output, output


def test_2000_small_files_go_up_in_few_commits_and_come_down(pair: tuple[Device, Device], stack: Any) -> None:
    laptop, phone = pair
    for i in range(2000):
        laptop.file(f"many/{i // 100:02}/f{i:04}.txt").parent.mkdir(parents=True, exist_ok=True)
        laptop.file(f"many/{i // 100:02}/f{i:04}.txt").write_bytes(f"small {i}".encode())
    laptop.sync()
    phone.sync()
    assert synced_tree(phone) == synced_tree(laptop)
    commits = sum("POST /v1/commit" in line for line in stack.output)
    assert commits <= 10, commits  # 2,020 ops at most 1,000 to a commit


def test_a_deleted_index_resyncs_without_deleting_anything(pair: tuple[Device, Device]) -> None:
    laptop, phone = pair
    laptop.file("a.txt").write_bytes(b"a")
    converge(laptop, phone)
    phone.file("b.txt").write_bytes(b"b, made while the index was lost")
    for index_file in phone.home.rglob("*.sqlite*"):
        index_file.unlink()

    converge(phone, laptop)

    assert (
        synced_tree(laptop)
        == synced_tree(phone)
        == {"a.txt": b"a", "b.txt": b"b, made while the index was lost"}
    )
