# Two entry points: `make demo` (install, then serve the app on the bundled model) and
# `make test` (install with the test extra, then lint and run the test suite).
# Both create or update a local virtual environment with pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install lint clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: $(STAMP)
	$(PY) app.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The browser test drives Debian's Chromium with Playwright (Playwright cannot download its own here):
# installed with apt-get when missing and running as root; otherwise the test fails with how to install it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make: the browser test needs Debian's chromium: run 'sudo apt-get install chromium' (it will fail without it)"; \
	  fi; }

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --timeout 900 --durations=15

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
