# tinycodec: one entry point for users and CI.
#   make demo                 end-to-end on the default board (a few minutes)
#   make test                 the whole test suite (does its own setup)
#   make build|bench|flash TARGET=<board> MODEL=<model>
#   make bench-wsn            rate-distortion + device tables in results/
#   make bench-nn             int8 code generator: zoo x boards, bit-exactness, arena, cycles
SHELL := /bin/bash
PY_SYS ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TARGET ?= msp430f1611
MODEL  ?= gsb-temporal
export TINYCODEC_DATA ?= $(abspath ../shared/data)

.PHONY: setup apt-deps demo test build run bench flash bench-wsn bench-nn zoo clean help

help:
	@sed -n '2,6p' Makefile

# Idempotent: apt only installs what is missing; the venv is rebuilt only when requirements change.
setup: apt-deps $(VENV)/.stamp-setup

apt-deps:
	@missing=$$(for p in $$(grep -v '^#' apt-packages.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	else echo "setup: Debian packages present"; fi

$(VENV)/.stamp-setup: requirements.txt pyproject.toml
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(VENV)/bin/tinycodec demo --target $(TARGET)

build: setup
	$(VENV)/bin/tinycodec build --model $(MODEL) --target $(TARGET)

run: setup
	$(VENV)/bin/tinycodec run --model $(MODEL) --target $(TARGET)

bench: setup
	$(VENV)/bin/tinycodec run --model $(MODEL) --target $(TARGET) --windows 200

flash: setup
	$(VENV)/bin/tinycodec flash --model $(MODEL) --target $(TARGET) $(if $(PORT),--port $(PORT))

bench-wsn: setup
	$(VENV)/bin/tinycodec bench-wsn

bench-nn: setup
	$(VENV)/bin/tinycodec bench-nn

zoo: setup
	$(VENV)/bin/tinycodec zoo

clean:
	rm -rf build
