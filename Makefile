# `make demo` and `make test` work from a fresh clone: they create .venv, install
# skmx with its test extras, build the Cython kernels in place and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skmx-installed

.PHONY: demo test build bench bench-env clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip "setuptools>=77" wheel "cython>=3.1" "numpy>=2" "scipy>=1.10"
	$(PY) -m pip install --no-build-isolation -e ".[test]"
	touch $(STAMP)

build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace -j 2

demo: build
	$(PY) examples/demo.py

test: build
	$(PY) -m pytest -q

# PyTorch lives in its own environment, pinned to the CPU build on local disk.
benchmarks/.venv-torch/bin/python:
	$(PYTHON) -m venv benchmarks/.venv-torch
	benchmarks/.venv-torch/bin/python -m pip install "torch==2.13.0" numpy

bench-env: benchmarks/.venv-torch/bin/python

bench: build bench-env
	$(PY) benchmarks/run.py

clean:
	rm -rf build skmx/_kernels/*.c skmx/_kernels/*.so skmx/_kernels/*.html

# The documentation, with the example gallery executed: warnings are errors. The tools are
# the `docs` extra of pyproject.toml (keep DOCS_REQUIREMENTS equal to it). Intersphinx links
# need the network: SKMX_DOCS_OFFLINE=0 make docs fetches the inventories.
DOCS_REQUIREMENTS := "sphinx>=7" "numpydoc>=1.6" "sphinx-gallery>=0.16" "matplotlib>=3.7"
DOCS_STAMP := $(VENV)/.skmx-docs-installed
SKMX_DOCS_OFFLINE ?= 1

.PHONY: docs

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install $(DOCS_REQUIREMENTS)
	touch $(DOCS_STAMP)

docs: build $(DOCS_STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	SKMX_DOCS_OFFLINE=$(SKMX_DOCS_OFFLINE) MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going \
		-b html -d docs/_build/doctrees docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"
