# Two commands: `make repro` (set up, then run the default pipeline) and `make test`
# (`make test-fast`: the same without the pipeline and browser tests).
PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.installed

.PHONY: setup repro test test-fast lock clean-venv browser results study controls

setup: $(STAMP)

# Re-install when the pins change. torch==2.13.0 is pinned so pip takes the local CPU build.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The stages run `python`: put the venv first on PATH so they use it.
repro: setup
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/dvc repro

# Two pytest-xdist workers (one per core; tests/conftest.py gives each one torch/BLAS thread and
# keeps a module's shared fixture on one worker). TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2
PYTEST := PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The whole suite, what CI runs (.ci/run).
test: setup
	$(PYTEST)

# Everything but the pipeline tests (real `dvc repro` in a temporary repo) and the browser
# tests: the tier to run before each commit.
test-fast: setup
	$(PYTEST) -m "not pipeline and not browser"

# docs/results.md: its generated tables rewritten from metrics/*.json (after `dvc repro`; a test
# fails when they are stale).
results: setup
	.venv/bin/python -m climemu.report.results

# The study (params.yaml `study`): every lead x arm x seed not yet kept in reports/study/, then
# reports/study.md. Resumable; STUDY_ARGS=--commit commits each experiment's folder as it finishes.
study: setup
	.venv/bin/python tools/study.py $(STUDY_ARGS)
	.venv/bin/python -m climemu.report.study

# Headless Chromium for tests/report/test_page.py (Debian's package; needs root or sudo and apt).
# No test installs it: the browser test skips when no chromium is on PATH; .ci/run calls this first.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
	    $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update >/dev/null 2>&1 && \
	      $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; }; }
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "chromium could not be installed (apt-get install chromium failed)"; exit 1; }

# Regenerate the full lock from the direct pins in requirements.txt.
lock:
	rm -rf /tmp/climemu-lock && python3 -m venv /tmp/climemu-lock
	/tmp/climemu-lock/bin/pip install --quiet -r requirements.txt
	/tmp/climemu-lock/bin/pip freeze | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

clean-venv:
	rm -rf .venv

# End-to-end controls (params.yaml `controls`): each finding's pair of generator settings at every
# replicate, then reports/controls.md. Resumable; CONTROLS_ARGS=--commit commits each folder.
controls: setup
	.venv/bin/python tools/controls.py $(CONTROLS_ARGS)
	.venv/bin/python -m climemu.report.controls
