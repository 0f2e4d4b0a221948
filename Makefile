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

.PHONY: venv notebooks book html check-book test unit nbval smoke clean notebook

# `make test` prints each stage's wall-clock time and stops at the first failing stage.
define timed
	@start=$$(date +%s); echo "== $(1)"; \
	$(2); \
	echo "== $(1): passed in $$(( $$(date +%s) - start )) s"
endef

# The last step compiles dcor's numba kernels once into their cache, so that the test
# runs that start together do not compile (and write that cache) at the same time.
INSTALL = $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q -c requirements-lock.txt -e '.[book,test]' \
  && $(BIN)/python -c 'import dcor'

$(BIN)/.installed: pyproject.toml requirements-lock.txt
	$(call timed,install: venv and the pinned dependencies,$(INSTALL))
	touch $@

venv: $(BIN)/.installed

# Execute one notebook: make notebook NB=sec5_2_intuition PROFILE=quick
notebook: venv
	mkdir -p $(BUILD)
	$(BIN)/jupytext --quiet --to ipynb notebooks/$(NB).py -o $(BUILD)/$(NB).ipynb
	$(BIN)/papermill --no-progress-bar --kernel python3 $(BUILD)/$(NB).ipynb book/$(NB).ipynb -p PROFILE $(PROFILE)
	$(BIN)/python tools/tidy_notebook.py book/$(NB).ipynb

# Execute every notebook into book/ (fails loudly on the first failing cell).
notebooks: venv
	@for nb in $(NAMES); do echo "== executing $$nb (PROFILE=$(PROFILE))"; \
	  $(MAKE) --no-print-directory notebook NB=$$nb PROFILE=$(PROFILE); done

book: notebooks html

# The html from the executed notebooks as committed (Jupyter Book never executes code).
html: venv
	$(BIN)/jupyter-book build . --path-output book --config _config.yml --toc _toc.yml --warningiserror --keep-going
	@echo "book: book/_build/html/index.html"

# Every page of the toc opened in headless Chromium: images load, no error output, no
# broken internal link, no empty plot panel; one full-page screenshot per page.
check-book: html
	$(BIN)/python tools/check_book.py --html book/_build/html --toc _toc.yml --screens $(BUILD)/screens

# Tests: core unit tests, nbval over the executed book, and a quick-profile run of
# every notebook from scratch (RETRAIN) into a scratch folder.
# Unit tests and nbval each run under two ATen CPU kernels at once (tools/kernels.sh):
# the portable `default` and this CPU's best (AVX2 / AVX-512).
test: venv
	$(call timed,unit tests (two CPU kernels),$(MAKE) --no-print-directory unit)
	$(call timed,nbval over book/*.ipynb (two CPU kernels),$(MAKE) --no-print-directory nbval)
	$(call timed,browser check of the book,$(MAKE) --no-print-directory check-book)
	$(call timed,quick-profile run of every notebook,$(MAKE) --no-print-directory smoke)

unit: venv
	tools/kernels.sh unit $(BIN)/python -m pytest tests -q

nbval: venv
	tools/kernels.sh nbval $(BIN)/python -m pytest -q -p no:cacheprovider --nbval book/*.ipynb \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env

# Two notebooks at a time (one torch thread each), into a scratch folder.
smoke: venv
	mkdir -p $(BUILD)/smoke
	@printf '%s\n' $(NAMES) | OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 xargs -P 2 -I{} bash -c 'set -eo pipefail; \
	  $(BIN)/jupytext --quiet --to ipynb notebooks/{}.py -o $(BUILD)/smoke/{}.in.ipynb; \
	  VAEFAIL_RESULTS=$(CURDIR)/$(BUILD)/smoke/results $(BIN)/papermill --no-progress-bar --kernel python3 \
	    $(BUILD)/smoke/{}.in.ipynb $(BUILD)/smoke/{}.ipynb -p PROFILE quick -p RETRAIN True \
	    > $(BUILD)/smoke/{}.log 2>&1 || { echo "smoke: {} failed:"; tail -n 40 $(BUILD)/smoke/{}.log; exit 255; }; \
	  echo "   quick run of {}: ok"'
	@echo "smoke: all notebooks ran with PROFILE=quick"

clean:
	rm -rf $(BUILD) book/_build
