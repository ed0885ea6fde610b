# qapgen: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Installed before the package so that pip resolves torch to this build. On the CI machines
# this exact version is a CPU wheel already on disk; elsewhere pip fetches it from the index
# (set TORCH_SPEC to pick another build, e.g. TORCH_SPEC='torch==2.13.0' with an --index-url).
TORCH_SPEC ?= torch==2.13.0
PYTEST_WORKERS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

$(BIN)/qapgen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

.PHONY: install
install: $(BIN)/qapgen ## Create .venv and install qapgen with its dev extra (torch first)

.PHONY: test
test: install ## Run the test suite (slow and GPU tests are skipped; CI runs this)
	$(BIN)/python -m pytest -q

.PHONY: test-fast
test-fast: install ## Fast subset for the edit loop (under 3 minutes on 2 cores)
	$(BIN)/python -m pytest -q -m 'not slow and not gpu and not learnability and not faults and not compile and not rehearsal'

.PHONY: test-slow
test-slow: install ## Slow tests only (real data when QAPGEN_DATA_DIR is set, long training)
	$(BIN)/python -m pytest -q -m slow

# The oldest transformers pyproject allows, with the tokenizers, hub client and kernels of its
# time, laid over .venv's packages in a folder of its own (the venv keeps its newest release).
# kernels is pinned too: newer transformers install kernels>=0.19, whose LayerRepository
# refuses the unversioned repositories that transformers 5.1's T5 import declares.
TRANSFORMERS_FLOOR ?= transformers==5.1.0 tokenizers==0.22.2 huggingface_hub==1.33.0 kernels==0.12.1

.PHONY: test-transformers-floor
test-transformers-floor: install ## The decoding tests on the oldest transformers allowed (CI runs them after make test)
	$(BIN)/pip install -q --no-deps --upgrade --target .transformers-floor $(TRANSFORMERS_FLOOR)
	PYTHONPATH=.transformers-floor $(BIN)/python -c 'import transformers as t; \
		print("transformers", t.__version__, "from", t.__file__); assert t.__version__ == "5.1.0"'
	PYTHONPATH=.transformers-floor $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/models tests/generate tests/baselines/test_baseline_deepnqg.py

# Sweep settings: PROFILE=offline|scratch-gpu|paper|auto, comma lists for the rest.
PROFILE ?= offline
DATASETS ?=
MODELS ?=
SEEDS ?= 0
RESULTS ?= results
DATA_DIR ?= $(QAPGEN_DATA_DIR)
DRY_RUN ?=
SWEEP = $(BIN)/python -m experiments.sweep --profile $(PROFILE) --datasets '$(DATASETS)' \
	--models '$(MODELS)' --seeds '$(SEEDS)' --results-dir $(RESULTS) \
	$(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(DRY_RUN),--dry-run)

.PHONY: reproduce-table2
reproduce-table2: install ## Train and score every Table 2 cell, print it beside the paper's
	$(SWEEP) table2

.PHONY: reproduce-table3
reproduce-table3: install ## The same for Table 3 (answer generation)
	$(SWEEP) table3

.PHONY: reproduce-table5
reproduce-table5: install ## The same for Table 5 (IGJA-QAP ablations)
	$(SWEEP) table5

.PHONY: table1
table1: install ## Table 1: prepared data statistics beside the paper's
	$(BIN)/python -m experiments.table1 --profile $(PROFILE) --results-dir $(RESULTS) \
		$(if $(DATA_DIR),--data-dir $(DATA_DIR))

.PHONY: table1-variants
table1-variants: install ## SQuAD's Table 1 under every preparation variant (DATA_DIR=folder of train/dev-v1.1.json)
	$(BIN)/python -m experiments.table1_variants --data-dir $(DATA_DIR)

.PHONY: figure5
figure5: install ## Figure 5: per-task METEOR curves of IGJA-QAP and OneStop (PNG, PDF)
	$(BIN)/python -m experiments.figure5 --profile $(PROFILE) --results-dir $(RESULTS)

.PHONY: readings
readings: install ## Open readings on real SQuAD, one CPU run each (DATA_DIR=folder of train/dev-v1.1.json; STUDY=igja_qap|info_qap)
	$(BIN)/python -m experiments.readings --study $(or $(STUDY),igja_qap) --profile cpu-real \
		--results-dir $(RESULTS) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

BENCH_ARGS ?=

.PHONY: bench
bench: install ## Training/generation throughput vs plain HF T5 (CPU tiny; GPU: BENCH_ARGS="--size t5-base-shape --device cuda --compile")
	$(BIN)/python -m bench.bench_train $(BENCH_ARGS)

# `make gpu-check` runs on the GPU machine, which has no network: no venv, the image's python3,
# and the wheels `make gpu-carry` downloaded here (bench/GPU.md).
GPU_OUT ?= gpu-check-out

.PHONY: gpu-carry
gpu-carry: install ## Here, before gpu-check: wheels into .whl/, prepared SQuAD into .data/ (DATA_DIR=folder of train/dev-v1.1.json)
	$(BIN)/python -m bench.gpu_check carry $(if $(DATA_DIR),--data-dir $(DATA_DIR))

.PHONY: gpu-check
gpu-check: ## On one CUDA GPU (bench/GPU.md): GPU tests, real-data training, T5-base benchmark into GPU_OUT
	PYTHON=$(PYTHON) bash bench/gpu_check.sh $(GPU_OUT)

.PHONY: lint
lint: install ## Ruff lint and format check
	$(BIN)/ruff check qapgen baselines experiments tests bench
	$(BIN)/ruff format --check qapgen baselines experiments tests bench

.PHONY: format
format: install ## Apply ruff's formatter and safe fixes
	$(BIN)/ruff check --fix qapgen baselines experiments tests bench
	$(BIN)/ruff format qapgen baselines experiments tests bench

.PHONY: clean
clean: ## Remove caches and run outputs (keeps .venv)
	rm -rf .pytest_cache .ruff_cache runs lightning_logs .cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
