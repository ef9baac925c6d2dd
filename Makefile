# Two commands: `make repro` (set up, then run the default pipeline) and `make test`.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.installed

.PHONY: setup repro test lock clean-venv

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

test: setup
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pytest -q

# Regenerate the full lock from the direct pins in requirements.txt.
lock:
	rm -rf /tmp/climemu-lock && python3 -m venv /tmp/climemu-lock
	/tmp/climemu-lock/bin/pip install --quiet -r requirements.txt
	/tmp/climemu-lock/bin/pip freeze | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

clean-venv:
	rm -rf .venv
