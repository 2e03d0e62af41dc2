# Two commands: `make demo` and `make test`. Both create .venv when it is
# missing or pyproject.toml changed, and install the project (editable) there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,docs,atari,dmc,minigrid,tensorboard,vizdoom,envpool,ray
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup test lint typecheck demo bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

demo: setup
	$(BIN)/python examples/image_caption.py

bench: setup
	$(BIN)/python bench/bridges.py
	$(BIN)/python bench/preprocess.py
	$(BIN)/python bench/agents.py
	$(BIN)/python bench/vector.py

docs: setup
	$(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache *.egg-info src/*.egg-info site
