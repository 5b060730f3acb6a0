# Two commands on a fresh machine: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is pinned in the same pip call as everything else: unpinned, pip would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install demo test docs clean

install: $(VENV)/.installed

# -qq: set-up shows pip's errors only, not its notes on this machine's index configuration.
$(VENV)/.installed: pyproject.toml Makefile src/voxage/__init__.py  # __init__ holds the version
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -qq --upgrade pip
	$(PIP) install -qq "$(TORCH)" -e ".[train,serve,dev]"
	$(PIP) install -qq --no-deps resemblyzer==0.1.4
	touch $@

demo: install
	$(VENV)/bin/voxage demo --out demo-output

test: install
	$(PY) -m pytest -q
	$(VENV)/bin/lint-imports --no-cache

docs: install
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) demo-output test-output site
