"""Schemathesis over ``docs/openapi.yaml`` against the local stack: what a fuzzer sends gets an
answer the spec documents, in the shape it documents, and never a 5xx.

Bounded and repeatable: a fixed seed, a fixed number of cases per operation, one worker. The
stack's long-polls wait at most a second, so a case that reaches a real cursor does not hold the
run for the usual 25 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.local.child import PROJECT_DIR
from tests.system.conftest import Client

SPEC = PROJECT_DIR / "docs" / "openapi.yaml"
SCHEMATHESIS = Path(sys.executable).parent / "st"
SEED = 20261203
CASES_PER_OPERATION = 20
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
# These two end the run's own token or device: they get a run of their own, with a token to lose.
ENDS_THE_TOKEN = ("/v1/auth/logout", "/v1/devices/{device_id}")


def _config(tmp_path: Path, namespace_id: str) -> Path:
    """Most generated ``namespace_id``s are the caller's own, so cases reach past the role check."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[dictionaries.mine]\nvalues = ["{namespace_id}"]\n\n'
        "[parameters]\n"
        '"query.namespace_id" = { dictionary = "mine", probability = 0.7 }\n'
        '"body.namespace_id" = { dictionary = "mine", probability = 0.7 }\n'
    )
    return config


def _fuzz(base: str, config: Path, token: str, *selection: str, cases: int) -> tuple[str, int]:
    """Run schemathesis; its whole report, and how many cases it generated."""
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            str(SPEC),
            "--url",
            base,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(cases),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--output-truncate",
            "false",
            *selection,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=config.parent,
        check=False,
    )
    report = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", report)
    assert done.returncode == 0 and generated, report
    return report, int(generated.group(1))


@pytest.fixture
def fuzzed(make_stack: Any, tmp_path: Path) -> tuple[Client, Path]:
    stack = make_stack(None, LONGPOLL_MAX_S="1")
    client, _ = Client.sign_up(stack.api, password="a fuzzer's own passphrase")
    return client, _config(tmp_path, client.namespace_id)


def test_every_operation_answers_as_documented_and_never_with_a_5xx(fuzzed: tuple[Client, Path]) -> None:
    client, config = fuzzed
    excluded = [arg for path in ENDS_THE_TOKEN for arg in ("--exclude-path", path)]
    assert client.token
    report, generated = _fuzz(client.base, config, client.token, *excluded, cases=CASES_PER_OPERATION)
    print(f"schemathesis: {generated} cases over every operation but {', '.join(ENDS_THE_TOKEN)}")
    assert generated >= 300, report  # every phase ran on every operation


def test_logout_and_unlinking_answer_as_documented(fuzzed: tuple[Client, Path]) -> None:
    client, config = fuzzed
    included = [arg for path in ENDS_THE_TOKEN for arg in ("--include-path", path)]
    assert client.token
    report, generated = _fuzz(client.base, config, client.token, *included, cases=10)
    print(f"schemathesis: {generated} cases over {', '.join(ENDS_THE_TOKEN)}")
    assert generated >= 10, report
