# Every target bootstraps .venv itself: on a fresh clone `make run` and `make test` are enough.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
CDK_VERSION := 2.1148.1
CDK := npx --yes aws-cdk@$(CDK_VERSION)
QUICK ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export PYTHONPATH := $(CURDIR)

.PHONY: venv run test lint format synth deploy bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[infra,dev]"
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

run: $(STAMP)
	$(BIN)/imgpipe local run samples/ --out out

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest tests

synth: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth --quiet $(if $(NOTIFY_EMAIL),-c notify_email=$(NOTIFY_EMAIL))

deploy: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy --require-approval broadening $(if $(NOTIFY_EMAIL),-c notify_email=$(NOTIFY_EMAIL))

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick)

clean:
	rm -rf cdk.out out outbox .pytest_cache
