# One entry point for set-up, synthesis and every check. CI and the CD pipeline call these targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
# On Linux, PyPI's torch is the CUDA build (several GB of nvidia-* packages). With
# `make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` the pinned version's CPU build
# comes from PyTorch's CPU wheel index first, and then satisfies the pin in requirements-dev.txt
# (a pin without a local label, `==2.13.0`, matches `2.13.0+cpu`: PEP 440, local versions).
TORCH_INDEX_URL ?=
TORCH_VERSION := $(shell sed -n 's/^torch==//p' requirements-dev.txt)

.PHONY: demo setup synth test test-fast lint typecheck format unit bench clean deploy-local destroy-local

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-nodeps.txt constructs/pyproject.toml cli/pyproject.toml emulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX_URL),$(BIN)/python -m pip install --quiet --extra-index-url $(TORCH_INDEX_URL) "torch==$(TORCH_VERSION)+cpu")
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	rm -rf cdk.out
	cdk synth --quiet
	$(BIN)/python scripts/list_assembly.py cdk.out

lint: setup
	ruff format --check .
	ruff check .
	$(BIN)/python scripts/check_size.py

typecheck: setup
	mypy

unit: setup
	pytest -n auto --dist loadfile

# Type checking (slow on a cold cache: it reads aws-cdk-lib's stubs) runs beside the tests.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target typecheck unit

# The quick loop while editing: lint, then every test not marked slow (no real training, no real
# CDK CLI, no fresh virtual environments). `make test` is what CI runs.
test-fast: lint
	pytest -n auto --dist loadfile -m "not slow"

format: setup
	ruff format .
	ruff check --fix .

# As modules from the repository's root, so that they import scripts/ (the sample digits).
bench: setup
	$(BIN)/python benchmarks/bench_synth.py
	$(BIN)/python -m benchmarks.bench_training
	$(BIN)/python -m benchmarks.bench_serving
	$(BIN)/python -m benchmarks.bench_tuning

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

# The app's stack, deployed by the real CDK CLI into a local AWS emulator (moto on 127.0.0.1):
# no AWS account. deploy-local leaves the emulator running; destroy-local deletes the stack
# (as `cdk destroy` would) and stops it, also when the deletion fails. See emulator/README.md.
deploy-local: setup
	@$(BIN)/python scripts/demo.py --deploy-only

# The README's main command: deploy into the emulator, train for real, deploy, predict.
demo: setup
	@$(BIN)/python scripts/demo.py

destroy-local: setup
	status=0; $(BIN)/mlpipeline-emulator destroy MLPipelineStack || status=$$?; \
	$(BIN)/mlpipeline-emulator stop; exit $$status
