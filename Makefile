# The two commands: `make run` (the whole backend on this machine) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run dev test lint typecheck cfnlint package unit functional bench peers clean

$(STAMP): requirements.txt requirements-package.txt requirements-dev.txt client/requirements.txt \
		client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 asks for pip<26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m infra.local.serve

dev: $(STAMP)
	$(BIN)/python -m infra.local.develop

# Two workers, each given whole test files (module-scoped stacks start once): the system tests mostly
# wait on processes and sockets, so two share two cores well. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP) lint typecheck cfnlint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy app.py chalicelib infra tests bench client/driftbox

# The deployable SAM template: Chalice's functions merged with infra/template.yaml (infra/README.md).
# Chalice packages for the Python it runs on (the functions' Runtime, and the wheels it vendors), so
# it runs here on the Lambda runtime's Python, in a venv of its own. The first run pip-downloads
# the Lambda wheels; later runs reuse .chalice/deployments/.
LAMBDA_RUNTIME := python3.13
LAMBDA_PYTHON ?= $(shell $(LAMBDA_RUNTIME) -c 'import sys; print(sys.executable)' 2>/dev/null \
	|| ls -d "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/$(LAMBDA_RUNTIME) 2>/dev/null | tail -1)
PACKAGE_VENV := .venv-package-$(LAMBDA_RUNTIME)
PACKAGE_STAMP := $(PACKAGE_VENV)/.installed
$(PACKAGE_STAMP): requirements.txt requirements-package.txt
	@test -n "$(LAMBDA_PYTHON)" || { echo "make package needs $(LAMBDA_RUNTIME), the functions' runtime:" \
		"install it, or name it with LAMBDA_PYTHON=/path/to/$(LAMBDA_RUNTIME)"; exit 1; }
	test -x $(PACKAGE_VENV)/bin/python || $(LAMBDA_PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/python -m pip install --quiet --upgrade "pip<26.3"
	$(PACKAGE_VENV)/bin/python -m pip install --quiet -r requirements-package.txt
	touch $(PACKAGE_STAMP)

PACKAGE_DIR := build/package
package: $(PACKAGE_STAMP)
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(PACKAGE_VENV)/bin/chalice package --stage prod \
		--merge-template infra/template.yaml --template-format yaml $(PACKAGE_DIR)
	@# The merge must have replaced every function's policy and turned on partial batch responses;
	@# every function runs on the runtime packaged for.
	grep -q ReportBatchItemFailures $(PACKAGE_DIR)/sam.yaml
	! grep -n "Resource: '\*'" $(PACKAGE_DIR)/sam.yaml
	! grep -n "Runtime: " $(PACKAGE_DIR)/sam.yaml | grep -v "Runtime: $(LAMBDA_RUNTIME)$$"

# make test lints the package it can make: on a machine without the runtime's Python, one made for the
# Python here (the template is the same but for Runtime), saying so; make package itself still refuses.
cfnlint: $(STAMP)
	@if [ -n "$(LAMBDA_PYTHON)" ]; then $(MAKE) --no-print-directory package; else \
		echo "cfnlint: no $(LAMBDA_RUNTIME) here: linting a package made for this Python instead"; \
		$(MAKE) --no-print-directory package LAMBDA_PYTHON="$(PYTHON)" \
			LAMBDA_RUNTIME="$$($(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])')"; fi
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
	rm -rf $(VENV) .venv-peers .venv-package-* .mypy_cache .ruff_cache .pytest_cache build
