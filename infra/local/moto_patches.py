"""The one moto version the emulator's patches of moto's internals were written for, checked at start.

``dynamodb_shortcuts``, ``dynamodb_params``, ``dynamodb_query``, ``dynamodb_index``,
``s3_listing``, ``s3_names``, ``s3_put``, ``s3_ids`` and the patches in ``emulator`` reach into
moto's private classes and functions (their names, arguments and data structures), and each is
held to moto's own answers by tests run on this version only. On another version a patch may
still import and silently answer differently, so the emulator checks the version before it
installs any (``_moto_app``), and each ``install`` checks it too: on another version the emulator
refuses to start.
"""

from __future__ import annotations

import moto

WRITTEN_FOR = "5.2.5"  # requirements-dev.txt pins the same


class MotoVersionError(RuntimeError):
    """The installed moto is not the one infra/local's patches were written for."""


def require_written_for(installed: str | None = None) -> None:
    """Raise ``MotoVersionError`` unless ``installed`` (moto's own version by default) is ``WRITTEN_FOR``."""
    installed = moto.__version__ if installed is None else installed
    if installed != WRITTEN_FOR:
        raise MotoVersionError(
            f"the local AWS emulator patches moto's internals as of moto {WRITTEN_FOR}, but moto "
            f"{installed} is installed. Install moto {WRITTEN_FOR} (make .venv/.installed, or "
            f"pip install -r requirements-dev.txt), or port the patches named in "
            f"infra/local/moto_patches.py to moto {installed}, run their tests against it, and change "
            f"WRITTEN_FOR there."
        )
