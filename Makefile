# Set-up, tests, demo and benchmarks. Every target installs what it needs first and is idempotent:
# a second run on a set-up machine skips straight to the work.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pixelpad-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: a virtual display, the games the simulator ships profiles for, a C compiler and
# SDL2 headers (the clock shim and the test programs are built from source), pygame for a test game.
APT_PACKAGES := xvfb xauth x11-utils gcc libc6-dev make pkg-config libsdl2-dev \
	chromium-bsu supertux neverball python3-pygame

# Two test workers on two cores: one thread each, or they slow each other down tenfold.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install system-deps test lint demo bench lock clean

install: system-deps $(STAMP)

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pixelpad.sim.build >/dev/null  # the simulator's clock shim, compiled from its C source
	touch $@

lint: install
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)
	$(VENV)/bin/ruff format --check src tests $(wildcard benchmarks)

test: lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup tests

demo: install
	$(VENV)/bin/pixelpad demo --out out/demo

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Re-pin the whole environment after changing a dependency in pyproject.toml.
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^pixelpad' > requirements.lock.new
	(echo '# The full environment, pinned (regenerate: make lock). torch is the CPU build pip takes from local wheels.'; cat requirements.lock.new) > requirements.lock && rm requirements.lock.new

clean:
	rm -rf out build .pytest_cache .ruff_cache
