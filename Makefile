# Every target bootstraps .venv itself: on a fresh clone `make run` and `make test` are enough.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
CDK_VERSION := 2.1148.1
NODE_STAMP := node_modules/.bin/cdk
# The web app (web/): its own npm project, bundled into web/dist/ (docs/web.md). The build
# reruns when a source, the build script or the lockfile changes.
WEB_MODULES := web/node_modules/.package-lock.json
WEB_BUILD := web/dist/index.html
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/build.mjs
# The CLI pinned in package-lock.json (npx finds it in node_modules); no telemetry, no
# instance-metadata probing for credentials, no notices fetch: synth needs no network.
CDK := CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true npx --yes aws-cdk@$(CDK_VERSION)
CDK_CONTEXT = $(if $(NOTIFY_EMAIL),-c notify_email=$(NOTIFY_EMAIL)) $(if $(OPS_EMAIL),-c ops_email=$(OPS_EMAIL)) $(if $(KEY_PREFIXES),-c key_prefixes=$(KEY_PREFIXES)) $(if $(SETTINGS),-c 'settings=$(SETTINGS)') $(if $(SERVICES),-c services=$(SERVICES))
QUICK ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export PYTHONPATH := $(CURDIR)

.PHONY: venv lock add run test test-latest lint format synth deploy bench clean web chromium

# Every Python package, transitive ones included, comes from uv.lock (docs/decisions.md, "One lock").
# uv itself is in the lock; the bootstrap installs that same version with the venv's own pip, then
# removes that pip (and setuptools, on 3.11) so that nothing in the venv is outside the lock.
UV := $(BIN)/uv
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
# --locked: a pyproject.toml edited without relocking stops here, saying so (see `make add`)
SYNC := UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --quiet --python $(BIN)/python --extra infra --extra dev
GROUP ?= dev

venv: $(STAMP)

# Re-run whenever the lock or pyproject.toml changes: `make` keeps the venv equal to the lock.
# The project itself is installed editable, as before.
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	test -x $(UV) || { $(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" \
		&& $(UV) pip uninstall --quiet --python $(BIN)/python pip setuptools; }
	$(SYNC)
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(SYNC) --extra bench
	touch $(BENCH_STAMP)

# Upgrade every package to the newest its range in pyproject.toml allows, on purpose; lands only
# with a green `make test` (docs/decisions.md).
lock: $(STAMP)
	$(UV) lock --upgrade
	$(MAKE) venv

# Add one dependency and lock it, changing no other pin:
#   make add DEP='schemathesis>=4,<5'              (GROUP=dev by default; infra, bench, or runtime)
add: $(STAMP)
	test -n "$(DEP)" || { echo "usage: make add DEP='name>=1.2,<2' [GROUP=dev|infra|bench|runtime]"; exit 2; }
	$(UV) add --no-sync $(if $(filter runtime,$(GROUP)),,--optional $(GROUP)) '$(DEP)'
	$(MAKE) venv

# At a terminal it keeps serving the web app after the samples, until Ctrl-C (--serve/--no-serve).
run: $(STAMP) $(WEB_BUILD)
	$(BIN)/imgpipe local run samples/ --out out

web: $(WEB_BUILD)

$(WEB_MODULES): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_MODULES)

$(WEB_BUILD): $(WEB_MODULES) $(WEB_SOURCES)
	cd web && node build.mjs

# The browser tests drive an installed Chromium; as root, Debian's is installed when none is found.
chromium: $(STAMP)
	$(BIN)/python -m tests.browser.chromium

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# services/: each service's own tests, in its folder
# node_modules: tests/infra/test_backfill.py validates the state machine with asl-validator.
# web + chromium: tests/browser drives the built page in headless Chromium.
test: lint $(NODE_STAMP) $(WEB_BUILD) chromium
	$(BIN)/pytest tests services

# The drift canary, outside `make test`: the newest releases the ranges in pyproject.toml allow,
# resolved into a throwaway venv (the lock and .venv are left alone), then the unit, integration and
# browser tiers run there. It prints which packages differ from the lock first, to name the suspects.
LATEST_VENV := $(or $(TMPDIR),/tmp)/imgpipe-test-latest
test-latest: $(STAMP) $(WEB_BUILD) chromium
	rm -rf $(LATEST_VENV)
	UV_PYTHON_DOWNLOADS=never $(UV) venv --quiet --python $(BIN)/python $(LATEST_VENV)
	$(UV) pip install --quiet --python $(LATEST_VENV)/bin/python --resolution highest --upgrade -e ".[infra,dev]"
	$(BIN)/python -m imgpipe_tools.drift $(LATEST_VENV)/bin/python
	$(LATEST_VENV)/bin/pytest tests/unit tests/integration tests/browser -p no:cacheprovider

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Synth runs cdk-nag (fails on any unacknowledged finding), then cfn-lint (fails on errors).
synth: $(STAMP) $(NODE_STAMP) $(WEB_BUILD)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth --quiet --no-notices $(CDK_CONTEXT)
	$(BIN)/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

# --all: a stack outside us-east-1 comes with companion stacks there (infra/components/edge_region.py)
deploy: $(STAMP) $(NODE_STAMP) $(WEB_BUILD)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy --all --no-notices --require-approval broadening $(CDK_CONTEXT)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick)

clean:
	rm -rf cdk.out out outbox .pytest_cache web/dist
