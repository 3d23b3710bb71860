# tinycodec: one entry point for users and CI.
#   make demo                 end-to-end on the default board (a few minutes)
#   make test                 the whole test suite (does its own setup)
#   make build|bench|flash TARGET=<board> MODEL=<model>
#   make bench-wsn            rate-distortion + device tables in results/
#   make bench-nn             int8 code generator: zoo x boards, bit-exactness, arena, cycles
#   make bench-reports        report scheduler on the paper's test case: results/report_stream.csv
#   make bench-ecg            ECG codec (Dynamic-Deep) on MIT-BIH DS2: results/ecg_dynamic.csv + PNGs
#   make bench-image          image codec (Starfish): NAS, training, rate-quality, packet loss, LoRa network, K210 (~100 min)
#   make bench-kpu            K210 KPU placement of the zoo (+ nncase columns): results/k210_kpu.csv
#   make setup-nncase         optional: nncase 1.9 for the K210 in .venv/nncase (needs Python <= 3.10)
SHELL := /bin/bash
PY_SYS ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TARGET ?= msp430f1611
MODEL  ?= gsb-temporal
export TINYCODEC_DATA ?= $(abspath ../shared/data)

.PHONY: setup apt-deps demo test build run bench flash bench-wsn bench-ecg train-ecg bench-nn bench-image bench-reports bench-kpu setup-nncase zoo fuzz clean help

help:
	@sed -n '2,11p' Makefile

# Idempotent: apt only installs what is missing; the venv is rebuilt only when requirements change.
setup: apt-deps $(VENV)/.stamp-setup $(VENV)/.stamp-nncase

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
	$(VENV)/bin/tinycodec flash --model $(MODEL) --target $(TARGET) $(if $(PORT),--port $(PORT)) \
	  $(if $(DRIVER),--driver $(DRIVER)) $(if $(BAUD),--baud $(BAUD)) $(if $(BOARD),--board $(BOARD))

bench-wsn: setup
	$(VENV)/bin/tinycodec bench-wsn

# ECG codec: train-ecg retrains models/ecg-dynamic (tasks first if absent; resumable, ~30 min on 2
# cores); bench-ecg evaluates the committed model on DS2 (FULL=1: every DS2 segment on the devices).
train-ecg: setup
	$(PY) -m toolchain.codecs.ecg_dynamic.downstream --train-if-missing
	$(VENV)/bin/tinycodec train-ecg

bench-ecg: setup
	$(VENV)/bin/tinycodec bench-ecg $(if $(FULL),--full)
	$(PY) -m toolchain.codecs.ecg_dynamic.kmodel --out results/ecg_kmodel.csv
	$(PY) -m toolchain.codecs.ecg_dynamic.cost --from-bench results/ecg_dynamic.csv --csv results/ecg_cost.csv

bench-nn: setup
	$(VENV)/bin/tinycodec bench-nn

# Image codec (issue 14): NAS on the K210 + full training of its top 2 and the winner's rate points
# (resumable; committed models in models/image-codec are reused when they match), then the
# rate-quality, packet-loss, network and deployment tables. About 90 min on 2 cores; FULL=1: hours.
bench-image: setup
	$(VENV)/bin/tinycodec bench-image $(if $(FULL),--full)

bench-reports: setup
	$(PY) -m toolchain.bench.reports

bench-kpu: setup
	$(PY) -m toolchain.bench.kpu

# nncase 1.x wheels exist for CPython <= 3.10 only: setup makes .venv/nncase when such an
# interpreter is on PATH or in pyenv, and otherwise goes on (the kmodel stage says what is missing).
$(VENV)/.stamp-nncase: $(VENV)/.stamp-setup
	@if $(PY) -m toolchain.kendryte.nncase_stage --setup; then touch $@; \
	 else echo "setup: nncase for the K210 not installed (above: why); everything else is ready"; fi

setup-nncase: $(VENV)/.stamp-setup
	$(PY) -m toolchain.kendryte.nncase_stage --setup

zoo: setup
	$(VENV)/bin/tinycodec zoo

# Link framing: libFuzzer on the C parser (600 s) and 2,000,000 host decoder inputs.
fuzz: setup
	$(PY) -m toolchain.link.fuzz --seconds 600 --inputs 2000000

# HIL bench (tests/hil): DUT=native (default, virtual board), qemu (DUT_BOARD=riscv-qemu by default,
# or cortex-m-qemu, k210-qemu), or serial with PORT=/dev/ttyUSB0
# on a board flashed beforehand with `make flash`. Outcomes are summarized under "tinycodec HIL".
.PHONY: hil bench-link
DUT ?= native
hil: setup
	$(PY) -m pytest -q tests/hil --dut=$(DUT) $(if $(DUT_BOARD),--dut-board=$(DUT_BOARD)) \
	  $(if $(PORT),--port=$(PORT)) $(if $(BAUD),--baud=$(BAUD)) \
	  --hil-report=build/hil_outcomes.json

# Link fault injection on a GSB replay through the virtual board: results/link_faults.csv
bench-link: setup
	$(PY) -m host_tools.testing.faults

clean:
	rm -rf build
