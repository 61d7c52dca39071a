# Set-up is part of every target: the first run creates .venv and installs labsnn with
# its dev and dask extras (torch==2.14.1, torchvision==0.29.1); later runs reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PROFILE ?= full

.PHONY: test report benchmark clean-results

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,dask]'
	$(PY) -m labsnn kernels || echo "labsnn: training will run its torch loops"
	@touch $(STAMP)

# The notebooks' smoke runs are recomputed by every test run (results/smoke is theirs).
test: $(STAMP)
	rm -rf results/smoke
	$(PY) -m pytest

report: $(STAMP)
	$(PY) -m labsnn report --profile $(PROFILE)

benchmark: $(STAMP)
	$(PY) benchmarks/bench_epoch.py

clean-results:
	rm -rf results reports/*.ipynb reports/figures reports/*.pdf
