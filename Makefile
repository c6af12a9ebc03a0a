# Two commands for a fresh machine (see README):
#   make run    install everything and start the app on its embedded defaults
#   make test   install what the tests need and run the whole suite
#
# torch comes as the CPU build. On these machines `torch==2.13.0` resolves to the CPU wheel on
# disk; elsewhere pass the PyTorch CPU index: make run TORCH_INDEX=https://download.pytorch.org/whl/cpu

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
TORCH_VERSION := 2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint check-bank bench bench-deps install install-dev browser-deps deploy-deps

run: $(VENV)/.installed
	$(BIN)/torchquiz serve

test: $(VENV)/.installed-dev browser-deps deploy-deps lint
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy app

bench: $(VENV)/.installed-dev bench-deps deploy-deps
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/runner_load.py
	$(BIN)/python bench/lab_runs.py
	$(BIN)/python bench/fairness.py
	$(BIN)/python bench/item_stats.py
	$(BIN)/python bench/gradebook.py --db both
	$(BIN)/python bench/queue_scaling.py
	$(BIN)/python bench/scale_out.py --short

# wrk, a real HTTP load generator, from Debian.
bench-deps:
	@command -v wrk >/dev/null || $(SUDO) apt-get install -y --no-install-recommends wrk \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends wrk)

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e .
	touch $@

# The app and its dev extras in one install (one resolve, one build of the project), which
# also stands for the app's own.
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

# Headless Chromium from Debian (a test tool's own browser download does not work here),
# and axe-core from npm for the accessibility checks.
browser-deps:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y --no-install-recommends chromium \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)
	@[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund

# What tests/deploy runs offline: Debian's docker-compose 1.29 (`config -q` validates the compose
# files without an engine) and nginx (deploy/nginx.conf, run in front of stand-in replicas;
# tests/scale's proxy in front of two real replicas).
deploy-deps:
	@command -v docker-compose >/dev/null && [ -x /usr/sbin/nginx ] \
		|| $(SUDO) apt-get install -y --no-install-recommends docker-compose nginx \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends docker-compose nginx)
