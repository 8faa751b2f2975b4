"""The client's home on real folders: where it is, who may read it, and writes that are atomic."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
from driftbox.adapters.home import Home, HomeUnusable, Settings, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_the_option_wins_over_the_environment(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path / "opt"), {"DRIFTBOX_HOME": str(tmp_path / "env")})
    assert home == Home(tmp_path / "opt", tmp_path / "opt")


def test_the_environment_wins_over_the_platform_folders(tmp_path: Path) -> None:
    home = Home.resolve(None, {"DRIFTBOX_HOME": str(tmp_path / "env")})
    assert home.config_dir == home.data_dir == tmp_path / "env"
    assert home.index_path.parent == home.settings_path.parent == home.token_path.parent == tmp_path / "env"


def test_without_either_the_platform_folders_are_used() -> None:
    home = Home.resolve(None, {})
    assert home.config_dir == platformdirs.user_config_path("driftbox", appauthor=False)
    assert home.data_dir == platformdirs.user_data_path("driftbox", appauthor=False)
    assert home.config_dir != home.data_dir


def test_a_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Home.resolve("rel", {}).config_dir == tmp_path / "rel"


def test_settings_round_trip_and_start_unset(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path / "h"), {})
    assert home.load_settings() == Settings()
    saved = Settings(server="http://127.0.0.1:8000", linked_folder="/data/Drift box", namespace_id="n1")
    home.save_settings(saved)
    assert home.load_settings() == saved
    assert Home.resolve(str(tmp_path / "h"), {}).load_settings() == saved


def test_unknown_settings_are_ignored_and_broken_ones_explained(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path), {})
    home.settings_path.write_text('{"device_name": "laptop", "from_the_future": 1}')
    assert home.load_settings() == Settings(device_name="laptop")
    home.settings_path.write_text('{"device_name": "lap')
    with pytest.raises(HomeUnusable, match=r"settings\.json is not valid settings"):
        home.load_settings()


def test_token_save_load_forget(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path), {})
    assert home.load_token() is None
    home.save_token("tok_abc123")
    assert home.load_token() == "tok_abc123"
    home.forget_token()
    home.forget_token()  # forgetting twice is fine
    assert home.load_token() is None
    with pytest.raises(ValueError, match="one word"):
        home.save_token("two\nlines")


@pytest.mark.usefixtures("permissive_umask")
def test_folders_are_0700_and_files_0600_even_with_umask_0(tmp_path: Path) -> None:
    home = Home.resolve(None, {"DRIFTBOX_HOME": str(tmp_path / "deep" / "home")})
    home.save_settings(Settings(device_name="d"))
    home.save_token("secret")
    assert mode(home.config_dir) == 0o700
    assert mode(home.settings_path) == mode(home.token_path) == 0o600
    assert mode(home.index_path.parent) == 0o700


def test_loose_permissions_found_are_tightened(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path / "h"), {})
    home.config_dir.mkdir()
    home.config_dir.chmod(0o755)
    home.token_path.write_text("secret\n")
    home.token_path.chmod(0o644)
    assert home.load_token() == "secret"
    assert mode(home.config_dir) == 0o700 and mode(home.token_path) == 0o600


def test_a_save_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    home = Home.resolve(str(tmp_path), {})
    home.save_token("first")
    with home.token_path.open() as old_reader:
        home.save_token("second")
        assert old_reader.read() == "first\n"  # a new file was renamed over; the old one is intact
    assert home.load_token() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]


def test_a_concurrent_reader_sees_one_whole_version_or_the_other(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    versions = [b"A" * 200_000, b"B" * 300_000]
    write_private(path, versions[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            write_private(path, versions[n % 2])
    finally:
        done.set()
        reader.join()
    assert seen <= set(versions)
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_an_unwritable_home_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    home = Home.resolve(str(blocker / "home"), {})
    with pytest.raises(HomeUnusable, match="cannot use the folder"):
        home.save_token("t")
