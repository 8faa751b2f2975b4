"""The emulator's patches of moto run only on the moto they were written for, and say so otherwise."""

from __future__ import annotations

import re

import moto
import pytest

from infra.local import (
    dynamodb_index,
    dynamodb_params,
    dynamodb_query,
    dynamodb_shortcuts,
    emulator,
    moto_patches,
    s3_listing,
    s3_names,
)


def test_the_version_written_for_is_the_one_installed() -> None:
    assert moto.__version__ == moto_patches.WRITTEN_FOR  # requirements-dev.txt pins it
    moto_patches.require_written_for()


def test_another_version_is_refused_naming_both_and_what_to_do() -> None:
    with pytest.raises(moto_patches.MotoVersionError) as refused:
        moto_patches.require_written_for("5.3.0")
    message = str(refused.value)
    assert f"moto {moto_patches.WRITTEN_FOR}" in message and "moto 5.3.0 is installed" in message
    assert "requirements-dev.txt" in message and "infra/local/moto_patches.py" in message


PATCHES = [
    dynamodb_index.install,
    dynamodb_params.install,
    dynamodb_query.install,
    dynamodb_shortcuts.install,
    s3_listing.install,
    s3_names.install,
]


@pytest.mark.parametrize("start", [emulator.wsgi_app, *PATCHES])
def test_the_emulator_and_each_patch_refuse_to_start_on_another_moto(
    monkeypatch: pytest.MonkeyPatch, start: object
) -> None:
    monkeypatch.setattr(moto, "__version__", "6.0.0")
    with pytest.raises(moto_patches.MotoVersionError, match=re.escape("moto 6.0.0 is installed")):
        start()  # type: ignore[operator]


def test_an_emulator_process_exits_with_the_reason_on_another_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "6.0.0")
    with pytest.raises(SystemExit) as exited:
        emulator.main(["--port", "0"])
    assert "moto 6.0.0 is installed" in str(exited.value.code)
