# attiqa: `make demo` runs the whole pipeline offline; `make test` runs the test suite.
# Both create the virtual environment on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.attiqa-installed
# PyTorch for the environment; override for another build, e.g.
#   make TORCH="torch==2.9.1 torchvision==0.24.1" install
TORCH ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
# Test processes for `make test` (pytest-xdist): one per core; the end-to-end tests start first.
TEST_WORKERS ?= auto

# Nothing here may reach for the network at run time.
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline
export PYTHONUNBUFFERED := 1
# The install skips compiling (below), so each module is compiled on its first import and cached in
# __pycache__. Where the environment sets PYTHONDONTWRITEBYTECODE, nothing is cached and every
# process compiles torch, Lightning and the rest again: seconds per process, minutes over the test
# suite's subprocesses. make's commands write the cache.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo demo-enhance model ablations test test-fast lint bench heldout photos clean clean-demo help

help:
	@echo "make demo   - build the demo corpus, label, pretrain, fine-tune (2 variants), evaluate (CPU, offline)"
	@echo "make demo-enhance - enhancement demo: an enhancer trained against the shipped model attiqa-offline-v2, with and without it, beside auto-gamma and CLAHE on the test photos"
	@echo "make model  - the offline recipe: all train-split photos (fetched once), label, pretrain, fine-tune (2 variants), evaluate (CPU, about 30 min)"
	@echo "make ablations - the offline recipe's ablations (quality head, attributes, photos, pretraining loss) over seeds 0-2, scored on the test split (each seed's recipe in outputs/seed<N>, trained when missing)"
	@echo "make test   - lint (ruff) and run the whole test suite (what CI runs)"
	@echo "make test-fast - the unit tier only (under a minute on 2 cores)"
	@echo "make lint   - ruff check"
	@echo "make bench  - throughput benchmarks (ratios against bare loops)"
	@echo "make heldout - iqa heldout: held-out distortion ladders, make model's and make demo's checkpoints vs BRISQUE, NIQE, teacher (pip install -e '.[bench]')"
	@echo "make photos - iqa photos fetch: the registered real photos (train, tune, test) into ~/.cache/attiqa/photos (PHOTOS_ARGS='--split test')"
	@echo "make install - create $(VENV) with attiqa and its dependencies"

# --no-compile: Python compiles the modules it imports on first use instead of every file of every
# package at install time (torch alone has thousands), which roughly halves a fresh install.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m iqa.cli.main demo $(DEMO_ARGS)

demo-enhance: $(STAMP)
	$(PY) -m iqa.cli.main demo enhance $(DEMO_ARGS)

model: $(STAMP)
	$(PY) -m iqa.cli.main model $(MODEL_ARGS)

ablations: $(STAMP)
	$(PY) benchmarks/offline_ablations.py $(ABLATION_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

bench: $(STAMP)
	@for script in benchmarks/*_throughput.py; do echo "== $$script"; $(PY) $$script || exit 1; done

heldout: $(STAMP)
	$(PY) -m iqa.cli.main heldout $(HELDOUT_ARGS)

photos: $(STAMP)
	$(PY) -m iqa.cli.main photos fetch $(PHOTOS_ARGS)

clean-demo:
	rm -rf outputs/demo

clean:
	rm -rf outputs multirun labels .pytest_cache
