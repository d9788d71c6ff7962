# nps-risk: every target creates and uses .venv itself; a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/demo
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help demo test bench lint format train serve score ui screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP) ## simulate data, then run every step of the main job on the embedded default
	$(BIN)/python -m serving.demo --out $(DATA)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## run the benchmarks (minutes; the API one needs wrk; figures go to docs/benchmarks.md)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP) ## ruff lint and format check, mypy (strict for nps_core, features, serving)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train: $(STAMP) ## train on $(DATA) and register a challenger
	$(BIN)/nps-risk train --data $(DATA)

serve: $(STAMP) ## serve the champion on 127.0.0.1:8000
	$(BIN)/nps-risk serve --host 127.0.0.1 --port 8000

score: $(STAMP) ## today's risk list from $(DATA)
	$(BIN)/nps-risk score --data $(DATA)

ui: $(STAMP) ## MLflow UI on the embedded store (127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db --host 127.0.0.1 --port 5000

screenshots: $(STAMP) ## the dashboard in headless Chromium on a small simulated loop: outputs/dashboard/, docs/dashboard.png
	$(BIN)/python -m serving.screenshots

clean: ## remove generated data, outputs and the local MLflow store (keeps .venv)
	rm -rf data outputs .bench
	find mlruns -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
