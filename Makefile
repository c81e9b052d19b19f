# Two commands set everything up on a fresh machine: `make lab` and `make test`.
# Both create .venv once; the install is redone only when pyproject.toml changes.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
JOBS    ?= 2
FIRST_LESSON := lessons/01_chain_rule_sympy.ipynb
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)
NBVAL   := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test test-fast notebooks site release release-check mutants bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

## JupyterLab for the course: first lesson open, lessons listed, no news pop-ups, kernel started without asking.
## The settings override ships as bpkit/jupyterlab_overrides.json; plotly and widgets need no build step.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/bpkit.json

$(LAB_OVERRIDES): bpkit/jupyterlab_overrides.json $(VENV)/.installed
	mkdir -p $(@D)
	cp $< $@

lab: $(VENV)/.installed $(LAB_OVERRIDES)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=$(CURDIR) $(wildcard $(FIRST_LESSON))

## The whole suite: unit, gradient, grading, nbval over every lesson and exercise source, browser.
test: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests lessons exercises/source $(NBVAL)

## Unit tests only (no notebooks, no browser): the quick loop while developing.
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -n $(JOBS) --dist loadfile tests -m "not browser"

## Re-execute every lesson and exercise source notebook in place (deterministic, no widget state), each Plotly
## figure with a small static PNG beside it (kaleido drives /usr/bin/chromium) for GitHub, nbviewer and VS Code.
notebooks: $(VENV)/.installed-test
	$(PY) -m bpkit.notebooks lessons/*.ipynb exercises/source/*.ipynb

## The course as a static website in site/ (not committed): index, lessons and student exercises as HTML with
## interactive Plotly from one local plotly.js and MathJax shipped offline; open site/index.html, even from file://.
site: $(VENV)/.installed-test
	$(PY) -m bpkit.site --out site

## Regenerate the student notebooks from the instructor sources.
release: $(VENV)/.installed
	$(PY) -m bpkit release exercises/source --out exercises

## Fail when a committed student notebook differs from a fresh release (also a test in tests/test_release.py).
release-check: $(VENV)/.installed
	$(PY) -m bpkit release exercises/source --out exercises --check

## Mutation testing of the exercise checks: every mutant of every solution (make test runs a sample of them).
mutants: $(VENV)/.installed-test
	$(PY) tests/mutants.py

bench: $(VENV)/.installed-test
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info site
