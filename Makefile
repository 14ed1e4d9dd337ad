# motcua-watch: `make run` starts the system on embedded defaults with demo data;
# `make test` installs what the tests need and runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test venv bench clean demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) app.py run

demo: $(STAMP)
	$(PY) app.py demo-data

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_sla.py
	$(PY) benchmarks/bench_query.py
	$(PY) benchmarks/bench_import.py
	$(PY) benchmarks/bench_probe_overhead.py
	$(PY) benchmarks/bench_probe_schedule.py
	$(PY) benchmarks/bench_compliance.py
	$(PY) benchmarks/bench_loadtest_cpu.py
	$(PY) benchmarks/bench_loadtest_distributed.py
	$(PY) benchmarks/bench_dashboard.py
	$(PY) benchmarks/bench_export.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
