# Set-up is part of every target: the first run creates .venv and installs labsnn with its
# dev and cluster extras at the versions of requirements.lock, then builds the compiled
# kernels; later runs reuse it.
# `make report` also installs TeX where it can (root on Debian); `make test` installs
# nothing on the machine and needs no TeX.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
EXTRAS := dev,cluster
PROFILE ?= full
TEX_PACKAGES := texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc

.PHONY: test lint report tex benchmark lock fresh-check clean-results

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(LOCK) 'pip'
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[$(EXTRAS)]'
	$(PY) -m labsnn kernels || echo "labsnn: training will run its torch loops"
	@touch $(STAMP)

# The notebooks' smoke runs are recomputed by every test run (results/smoke is theirs).
test: $(STAMP) lint
	rm -rf results/smoke
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff format --check labsnn tests benchmarks tools
	$(PY) -m ruff check labsnn tests benchmarks tools
	$(VENV)/bin/lint-imports

# Checks first (one line and exit 2 on a bad profile or data root), then TeX where it can be
# installed, then the run. Without TeX the report is written as HTML only and exits 3.
report: $(STAMP)
	$(PY) -m labsnn report --profile $(PROFILE) --check-only
	@bash tools/install_tex.sh $(TEX_PACKAGES) || true
	$(PY) -m labsnn report --profile $(PROFILE)

tex:
	@bash tools/install_tex.sh $(TEX_PACKAGES)

benchmark: $(STAMP)
	$(PY) benchmarks/bench_epoch.py

# Refresh requirements.lock: resolve the newest allowed versions in a scratch venv.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[$(EXTRAS)]'
	{ echo "# The exact versions make installs (pip constraints). Refresh: make lock"; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v -E '^(setuptools|wheel)=='; } > $(LOCK)
	.lock-venv/bin/python tools/sync_environment.py
	rm -rf .lock-venv

# The README's test command in a fresh clone, with TeX hidden and an empty kernel cache.
fresh-check:
	bash tools/fresh_check.sh

clean-results:
	rm -rf results reports/*.ipynb reports/*.csv reports/figures reports/*.pdf
