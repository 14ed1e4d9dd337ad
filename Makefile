# motcua-watch: `make run` starts the system on embedded defaults with demo data;
# `make test` installs what the tests need and runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# test files run in this many worker processes (pytest-xdist), each file's tests in one of them
# so that a module's fixtures are built once; TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed

.PHONY: run test venv bench clean demo system-tools

# Without ensurepip (Debian's python3 lacks it until python3-venv is installed) the venv is made
# without pip, and the system's pip installs pip into it.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && $(PYTHON) -m venv --without-pip $(VENV) \
		&& $(PYTHON) -m pip --python $(PY) install --quiet pip; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) app.py run

demo: $(STAMP)
	$(PY) app.py demo-data

# Debian tools some tests use: installed when root with apt-get, else named (their tests are
# skipped, the reasons in pytest's summary); never a failure
system-tools:
	@PYTHON=$(PYTHON) bash .ci/system-tools

test: system-tools $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

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
	$(PY) benchmarks/bench_backup.py
	$(PY) benchmarks/bench_status_page.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
