# The two commands: `make run` (the whole backend on this machine) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run dev test lint typecheck cfnlint package unit functional bench peers clean

$(STAMP): requirements.txt requirements-dev.txt client/requirements.txt client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 asks for pip<26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.local.serve

dev: $(STAMP)
	$(BIN)/python -m infra.local.develop

test: $(STAMP) lint typecheck cfnlint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy app.py chalicelib infra tests bench client/driftbox

# The deployable SAM template: Chalice's functions merged with infra/template.yaml (infra/README.md).
# The first run pip-downloads the Lambda wheels; later runs reuse .chalice/deployments/.
PACKAGE_DIR := build/package
package: $(STAMP)
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage prod \
		--merge-template infra/template.yaml --template-format yaml $(PACKAGE_DIR)
	@# The merge must have replaced Chalice's "*" policy and turned on partial batch responses.
	grep -q ReportBatchItemFailures $(PACKAGE_DIR)/sam.yaml
	! grep -n "Resource: '\*'" $(PACKAGE_DIR)/sam.yaml

cfnlint: package
	$(BIN)/cfn-lint $(PACKAGE_DIR)/sam.yaml

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

functional: $(STAMP)
	$(BIN)/python -m pytest tests/functional

bench: $(STAMP) peers
	$(BIN)/python -m bench.cold_start_bench
	$(BIN)/python -m bench.commit_bench
	$(BIN)/python -m bench.durability_bench
	$(BIN)/python -m bench.notify_bench
	$(BIN)/python -m bench.client_bench

# What bench/client_bench.py compares the client with: aws s3 sync in .venv-peers (its own botocore),
# and rclone from the system's packages where it can be installed (else the bench goes without it).
PEERS := .venv-peers/.installed
$(PEERS): bench/peers-requirements.txt
	test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet -r bench/peers-requirements.txt
	touch $(PEERS)

peers: $(PEERS)
	@command -v rclone >/dev/null || (apt-get update -qq && apt-get install -y -qq rclone) \
		|| echo "rclone could not be installed: client_bench compares with aws s3 sync alone"

clean:
	rm -rf $(VENV) .venv-peers .mypy_cache .ruff_cache .pytest_cache build
