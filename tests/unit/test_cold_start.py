"""Cold start: ``import app`` leaves out what a handler loads at its first call (chalicelib/lazy.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from chalicelib import lazy
from infra.local.child import PROJECT_DIR

# Loaded by the handlers that use them, never by ``import app``: DynamoDB's and S3's clients, the
# SQS worker's Powertools utilities, the password hasher, and the services that reach them.
DEFERRED = (
    "pynamodb",
    "boto3",
    "botocore.client",
    "argon2",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "chalicelib.adapters",
    "chalicelib.accounts.service",
    "chalicelib.chunks.service",
    "chalicelib.metadata.commit",
    "chalicelib.notify",
)


def modules_after_import_app() -> set[str]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env = {**config["stages"]["prod"]["environment_variables"], "AWS_REGION": "us-east-1"}
    code = "import json, sys, app; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def test_import_app_leaves_out_what_only_some_handlers_use() -> None:
    loaded = modules_after_import_app()
    assert "app" in loaded and "chalice.app" in loaded
    assert sorted(m for m in loaded if m.startswith(DEFERRED)) == []


def test_a_lazy_module_is_imported_at_its_first_attribute_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "tabnanny", raising=False)  # a module nothing here imports
    stand_in = lazy.module("tabnanny")
    assert "tabnanny" not in sys.modules
    check = stand_in.check
    assert check is sys.modules["tabnanny"].check


def test_a_lazy_module_reads_and_writes_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    real = types.ModuleType("tests.unit.fake_service")
    real.limit = 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, real.__name__, real)
    stand_in = lazy.module(real.__name__)
    assert stand_in.limit == 3
    monkeypatch.setattr(stand_in, "limit", 10)  # a test patching through the stand-in patches the module
    assert real.limit == 10  # type: ignore[attr-defined]
