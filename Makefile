# Two commands matter: `make run` (whole pipeline, locally, on embedded vineyard) and `make test`.
# uv is installed on first use when it is missing.
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
MULTIPLIER ?= 1
SINK ?= vineyard

.PHONY: run test lint bench uv sync

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv

sync: uv
	$(UV) sync --frozen

run: sync
	$(UV) run --frozen pipeline --sink $(SINK) --multiplier $(MULTIPLIER)

test: sync
	$(UV) run --frozen pytest

lint: sync
	$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .

bench: sync
	$(UV) run --frozen pipeline-bench

# --- images (issue: step images) -------------------------------------------------------------

# --- cluster (issue: workflows and deploy) ---------------------------------------------------
