"""Where the client keeps its settings, token and index: private folders, atomically written files.

``--home DIR`` puts everything in DIR; else ``DRIFTBOX_HOME`` does; else the platform's user config
folder holds the settings and token, and its user data folder the index (on Linux
``~/.config/driftbox`` and ``~/.local/share/driftbox``). Folders are 0700 and files 0600, whatever
the umask: looser ones found are tightened. Files are replaced atomically (a temporary file in the
same folder, fsynced, renamed over the old one), so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from driftbox.adapters.fs import fsync_path
from driftbox.errors import DriftboxError

APP_NAME = "driftbox"
HOME_ENV = "DRIFTBOX_HOME"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class HomeUnusable(DriftboxError):
    """A file in the client's home cannot be read or written."""


@dataclass(frozen=True)
class Settings:
    """What this device remembers between runs (the token is kept apart, in its own file)."""

    server: str | None = None  # the server's URL, as last chosen
    linked_folder: str | None = None  # absolute local path of the folder this device syncs
    namespace_id: str | None = None
    device_name: str | None = None
    device_id: str | None = None
    user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Home:
    config_dir: Path  # settings and token
    data_dir: Path  # the index

    @classmethod
    def resolve(cls, home_option: str | None, env: Mapping[str, str]) -> Home:
        """``--home`` first, then ``DRIFTBOX_HOME``, then the platform's user folders."""
        chosen = home_option or env.get(HOME_ENV)
        if chosen:
            folder = Path(chosen).expanduser().absolute()
            return cls(folder, folder)
        return cls(
            platformdirs.user_config_path(APP_NAME, appauthor=False),
            platformdirs.user_data_path(APP_NAME, appauthor=False),
        )

    @property
    def settings_path(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def token_path(self) -> Path:
        return self.config_dir / "token"

    @property
    def index_path(self) -> Path:
        """The SQLite index (its folder made private first)."""
        make_private_dir(self.data_dir)
        return self.data_dir / "index.sqlite3"

    def load_settings(self) -> Settings:
        """The saved settings; all unset if none were saved. Unknown keys are ignored."""
        text = _read_private(self.settings_path)
        if text is None:
            return Settings()
        try:
            saved = json.loads(text)
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise HomeUnusable(
                f"{self.settings_path} is not valid settings ({exc}): fix or delete it"
            ) from exc
        known = {field.name for field in dataclasses.fields(Settings)}
        values = {k: str(v) for k, v in saved.items() if k in known and v is not None}
        return Settings(**values)

    def save_settings(self, settings: Settings) -> None:
        data = {k: v for k, v in dataclasses.asdict(settings).items() if v is not None}
        write_private(self.settings_path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())

    def load_token(self) -> str | None:
        text = _read_private(self.token_path)
        if text is None or not text.strip():
            return None
        return text.strip()

    def save_token(self, token: str) -> None:
        if not token or any(ch.isspace() for ch in token):
            raise ValueError("a token is one word, without spaces or line breaks")
        write_private(self.token_path, (token + "\n").encode("ascii"))

    def forget_token(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.token_path.unlink()


def make_private_dir(folder: Path) -> None:
    """Create ``folder`` (and its parents) if missing; make it 0700 if it is looser."""
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        _tighten(folder, FOLDER_MODE)
    except OSError as exc:
        raise HomeUnusable(f"cannot use the folder {folder}: {exc.strerror or exc}") from exc


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the file is 0600 from its first byte."""
    make_private_dir(path.parent)
    try:
        # mkstemp creates the file 0600 whatever the umask, in the target's folder (same file system).
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise HomeUnusable(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
        fsync_path(path.parent)  # the rename itself survives a power cut
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise HomeUnusable(f"cannot write {path}: {exc.strerror or exc}") from exc


def _read_private(path: Path) -> str | None:
    """The text of ``path`` (None if missing), after making it and its folder private."""
    try:
        if not path.exists():
            return None
        make_private_dir(path.parent)
        _tighten(path, FILE_MODE)
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HomeUnusable(f"cannot read {path}: {exc}") from exc


def _tighten(path: Path, mode: int) -> None:
    """Take away any permission beyond ``mode`` (group and others), keeping the owner's."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        os.chmod(path, current & mode)
