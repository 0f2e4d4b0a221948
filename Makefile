# vaefail: the README's two commands are `make book` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Profile the committed book is executed with (quick | reduced | paper).
PROFILE ?= reduced
NOTEBOOKS := $(sort $(wildcard notebooks/*.py))
NAMES := $(basename $(notdir $(NOTEBOOKS)))
BUILD := build
export VAEFAIL_QUIET := 1
export PYTHONHASHSEED := 0
export OMP_NUM_THREADS := 2

.PHONY: venv notebooks book test unit nbval smoke clean notebook

$(BIN)/.installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c requirements-lock.txt -e '.[book,test]'
	touch $@

venv: $(BIN)/.installed

# Execute one notebook: make notebook NB=sec5_2_intuition PROFILE=quick
notebook: venv
	mkdir -p $(BUILD)
	$(BIN)/jupytext --quiet --to ipynb notebooks/$(NB).py -o $(BUILD)/$(NB).ipynb
	$(BIN)/papermill --no-progress-bar --kernel python3 $(BUILD)/$(NB).ipynb book/$(NB).ipynb -p PROFILE $(PROFILE)

# Execute every notebook into book/ (fails loudly on the first failing cell).
notebooks: venv
	@for nb in $(NAMES); do echo "== executing $$nb (PROFILE=$(PROFILE))"; \
	  $(MAKE) --no-print-directory notebook NB=$$nb PROFILE=$(PROFILE); done

book: notebooks
	$(BIN)/jupyter-book build . --path-output book --config _config.yml --toc _toc.yml --warningiserror --keep-going
	@echo "book: book/_build/html/index.html"

# Tests: core unit tests, nbval over the executed book, and a quick-profile run of
# every notebook from scratch (RETRAIN) into a scratch folder.
test: unit nbval smoke

unit: venv
	$(BIN)/python -m pytest tests -q

nbval: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval book/*.ipynb --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env

smoke: venv
	mkdir -p $(BUILD)/smoke
	@for nb in $(NAMES); do echo "== quick run of $$nb"; \
	  $(BIN)/jupytext --quiet --to ipynb notebooks/$$nb.py -o $(BUILD)/smoke/$$nb.in.ipynb; \
	  VAEFAIL_RESULTS=$(CURDIR)/$(BUILD)/smoke/results $(BIN)/papermill --no-progress-bar --kernel python3 \
	    $(BUILD)/smoke/$$nb.in.ipynb $(BUILD)/smoke/$$nb.ipynb -p PROFILE quick -p RETRAIN True; done
	@echo "smoke: all notebooks ran with PROFILE=quick"

clean:
	rm -rf $(BUILD) book/_build
