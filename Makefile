# Two entry points for a fresh machine: `make demo` and `make test` (see README).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo test browser studio musicnn-env

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/diffbgm generate examples/demo.mp4 -o out/demo.mp4

test: setup browser
	$(BIN)/python -m pytest -q

studio: setup
	$(BIN)/diffbgm studio

# The studio's browser test drives Debian's chromium; as root (CI, a fresh machine) it is installed when
# missing, elsewhere the test skips (and fails under CI).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium and chromium-driver for the studio's browser test"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		fi; \
	fi

# musicnn (for P@K over audio in benchmarks/eval_default_model.py) needs TensorFlow 1.x-style layers,
# so it gets its own environment; musicnn's metadata pins numpy<1.17, hence --no-deps.
MUSICNN_VENV ?= .venv-musicnn

musicnn-env: $(MUSICNN_VENV)/.installed

$(MUSICNN_VENV)/.installed:
	$(PYTHON) -m venv $(MUSICNN_VENV)
	$(MUSICNN_VENV)/bin/python -m pip install -q 'tensorflow-cpu==2.15.1' librosa 'numpy<2'
	$(MUSICNN_VENV)/bin/python -m pip install -q --no-deps musicnn==0.1.0
	touch $@
