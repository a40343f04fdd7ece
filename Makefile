# The named steps of the project. `make demo` and `make test` are the two commands a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= work/demo
QUICK  ?= 1
SHELL  := /bin/bash
.SHELLFLAGS := -eo pipefail -c
export PYTHONUNBUFFERED := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install lint demo test models ablation detect-example notebooks report report-real bench bench-peer clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored" || true; }
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install requirements.txt (once)

demo: $(STAMP)  ## run the whole pipeline on the embedded demo data
	$(PY) -m deepfake_detection demo --out work/demo-run

lint: $(STAMP)  ## ruff: pyflakes, pycodestyle, isort and bugbear rules (pyproject.toml), line length 120
	$(VENV)/bin/ruff check src tests bench

# Two worker processes, whole files each (session fixtures stay per worker); the notebooks test, the longest, is
# collected first (marker `longest`), so it starts at once on one worker while the other runs the rest.
TEST_WORKERS ?= 2
test: $(STAMP) lint  ## lint, then run the test suite (TEST_WORKERS=0: in one process)
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

models: $(STAMP)  ## retrain the shipped zoo from ../shared/data/dfdc-faces (DFDC crop benchmark + models/zoo + card)
	$(PY) -m deepfake_detection benchmark --suite dfdc-crops --data ../shared/data/dfdc-faces \
		--out reports/dfdc-crops --work work/dfdc-crops
	$(PY) -m deepfake_detection zoo --work work/dfdc-crops --bench reports/dfdc-crops --out models/zoo
	$(PY) -m deepfake_detection benchmark --suite cross-ffpp --data ../shared/data/ffpp --models models/zoo \
		--out reports/cross-ffpp --work work/cross-ffpp
	$(PY) -m deepfake_detection benchmark --suite face-clips --data ../shared/data/face-clips --models models/zoo \
		--out reports/face-clips --work work/face-clips

ablation: $(STAMP)  ## one-change ablations of the zoo's recipes on the DFDC crops (shares work/dfdc-crops with make models), then DFDC-only vs DFDC+FF++ training and DFDC-initialised FF++ fine-tuning
	$(PY) -m deepfake_detection benchmark --suite dfdc-ablation --data ../shared/data/dfdc-faces \
		--out reports/dfdc-ablation --work work/dfdc-crops
	$(PY) -m deepfake_detection benchmark --suite ffpp-pooled --data ../shared/data/ffpp --models models/zoo \
		--out reports/ffpp-pooled --work work/ffpp-pooled
	$(PY) -m deepfake_detection benchmark --suite ffpp-finetune --data ../shared/data/ffpp --models models/zoo \
		--out reports/ffpp-finetune --work work/ffpp-finetune

DETECT_EXAMPLE ?= ../shared/data/dfdc/dfdc_train_part_0/brtujopkby.mp4
detect-example: $(STAMP)  ## detect on one real DFDC video -> reports/real/detect/ and a screenshot (needs chromium)
	rm -rf reports/real/detect
	$(PY) -m deepfake_detection detect $(DETECT_EXAMPLE) --out reports/real/detect
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 \
		--screenshot=reports/real/detect/report.png file://$(CURDIR)/reports/real/detect/$(notdir $(DETECT_EXAMPLE))/report.html
	$(PY) -c "from PIL import Image; p = 'reports/real/detect/report.png'; Image.open(p).convert('RGB').quantize(256).save(p, optimize=True)"  # 256 colours: a third of the bytes
	rm reports/real/detect/$(notdir $(DETECT_EXAMPLE))/report.html  # its figures are committed as PNGs; keeps the repo small

notebooks: $(STAMP)  ## execute notebooks/0*.py in order (DATA=..., QUICK=0 for real data)
	$(PY) -m deepfake_detection notebooks --data $(DATA) --quick $(QUICK)

report: $(STAMP)  ## regenerate reports/report.md and figures from the last run
	$(PY) -m deepfake_detection report

report-real: $(STAMP)  ## reports/real/report.md + report.html from ../shared, the committed benchmarks, zoo and detect example
	$(PY) -m deepfake_detection report --real

bench: $(STAMP)  ## run the benchmarks in bench/
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

PEER := .venv-peer/bin/python
bench-peer: $(STAMP)  ## optional: facenet-pytorch's MTCNN beside ours in bench_extract (own env, bench/requirements-peer.txt)
	test -x $(PEER) || { $(PYTHON) -m venv .venv-peer && .venv-peer/bin/pip install --quiet -r bench/requirements-peer.txt \
		&& .venv-peer/bin/pip install --quiet --no-deps facenet-pytorch==2.6.0; }
	$(PY) bench/bench_extract.py --peer-python $(PEER)

clean:  ## remove generated outputs (keeps .venv)
	rm -rf work build dist reports/figures/*.png reports/*.md reports/ffpp
