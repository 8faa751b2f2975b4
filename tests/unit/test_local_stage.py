"""The local stage of .chalice/config.json reaches the stack `make run` starts, with its defaults."""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest

from chalicelib.settings import Settings
from infra.local import serve
from infra.local.child import PROJECT_DIR

STAGES = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]
LOCAL = STAGES["local"]["environment_variables"]


def make_run_environment() -> dict[str, str]:
    """What `make run` (serve.py with no options, from a shell with no AWS variables) runs the app with."""
    with mock.patch.dict(os.environ, {}, clear=True):  # serve.py sets up os.environ: keep ours
        serve._environment(serve._arguments([]))
        return dict(os.environ)


def test_the_local_stage_reaches_make_runs_emulator_gateway_and_resources() -> None:
    served = make_run_environment()
    shared = [name for name in served if not name.startswith("DRIFTBOX_STAGE")]
    assert {name: LOCAL[name] for name in shared} == {name: served[name] for name in shared}
    assert LOCAL["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"


def test_the_local_stage_is_valid_and_plain_chalice_local_refuses_to_reach_aws() -> None:
    assert Settings.from_env(LOCAL).stage == "local"
    with pytest.raises(RuntimeError, match="make dev"):
        Settings.from_env(STAGES["dev"]["environment_variables"])  # what plain `chalice local` runs with
