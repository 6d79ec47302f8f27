# Two entry points: `make demo` (install what the app needs, then serve it on the bundled model) and
# `make test` (install with the test extra, then lint and run the test suite).
# Both create or update a local virtual environment with pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUNTIME := $(VENV)/.installed-runtime-$(HASH)
TESTING := $(VENV)/.installed-test-$(HASH)

.PHONY: demo test install lint clean browser

# the runtime only: what `make demo` serves with (no pytest, Playwright, ruff, scikit-image or pydicom)
$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.installed-runtime-* && touch $@

$(TESTING): $(RUNTIME)
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-test-* && touch $@

install: $(RUNTIME)

demo: $(RUNTIME)
	$(PY) app.py

lint: $(TESTING)
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

# Two passes, so that every machine tests both precisions a user can get: the whole suite with "auto" as this
# machine resolves it (bf16 on CPUs with AMX/AVX512-BF16, fp32 elsewhere), then the product's tests (the app
# served, the browser, the Spaces install, OOD verdicts, inference, the clip view, the model card) with
# "auto" pinned to the other one by DIFFCLIP_AUTO_PRECISION. The rest forces its own precision or compares
# with references, and would run the same twice. Set DIFFCLIP_AUTO_PRECISION yourself to choose pass one.
PRODUCT_TESTS := tests/test_app.py tests/test_browser.py tests/test_spaces_install.py tests/test_ood.py \
	tests/test_inference.py tests/test_clip_view.py tests/test_model_card.py

test: $(TESTING) browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --timeout 900 --durations=15
	@other=$$($(PY) -c 'from diffclip.device import other_cpu_precision as o; print(o())') && \
	  echo "make: second pass, precision auto pinned to $$other: $(PRODUCT_TESTS)" && \
	  DIFFCLIP_AUTO_PRECISION=$$other $(PY) -m pytest -q --timeout 900 -p no:cacheprovider $(PRODUCT_TESTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
