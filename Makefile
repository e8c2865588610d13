# flowlang — the whole set-up is `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint format chaos bench corpus servers regen clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

## make run: run the main example end to end on bundled sample data
run: $(STAMP)
	rm -rf out/quickstart
	$(VENV)/bin/flowc run examples/quickstart.flow

## the servers the tests talk to: victoria-metrics and nats-server (Debian);
## osmem-server comes from PyPI with the test extra
servers:
	@command -v victoria-metrics >/dev/null && command -v nats-server >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics nats-server; }

## make test: install everything, run the whole suite (fixtures start the servers)
test: $(STAMP) servers lint
	$(PY) -m pytest -q -p no:cacheprovider
	$(VENV)/bin/flowc test examples/

## the code's format and lint rules (pyproject.toml [tool.ruff]); `make format` applies them
lint: $(STAMP)
	$(VENV)/bin/ruff format --check flowlang tests bench
	$(VENV)/bin/ruff check flowlang tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format flowlang tests bench
	$(VENV)/bin/ruff check --fix flowlang tests bench

## make chaos: kill -9 at random moments, 10 trials per pipeline, a table of
## lost / duplicated / corrupt records and exact windows (make test runs 2)
chaos: $(STAMP)
	$(PY) -m tests.chaos --trials 10

## make bench: throughput ratios against hand-written baselines
bench: $(STAMP) servers
	$(PY) -m bench

## make corpus: the held-out corpus's pass rate (vector files in tests/corpus/
## or $$FLOWLANG_CORPUS, kept out of the repository: tests/corpus/README.md)
corpus: $(STAMP)
	$(PY) -m tests.corpus_check

## regenerate golden files after a deliberate change
regen: $(STAMP)
	$(PY) -m tests.regen

clean:
	rm -rf $(VENV) .flowc-cache .flowc-state build dist
