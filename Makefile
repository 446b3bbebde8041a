# Two commands on a fresh Debian / Raspberry Pi OS machine:
#   make demo   install what is missing, then run the kiosk (a window if there is a desktop,
#               else headless with a scripted customer on stdin)
#   make test   install what is missing, then run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO_DATA := demo-data

.PHONY: demo test bench screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { sh scripts/system-deps.sh venv; $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

test: $(STAMP)
	@sh scripts/system-deps.sh test
	$(BIN)/pytest -q

demo: $(STAMP)
	@sh scripts/system-deps.sh demo
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "Kiosk in a window: keys 1-4 answer, L switches language, F12 saves a screenshot, Esc quits."; \
		$(BIN)/kiosk run --window --panel keyboard --data-dir $(DEMO_DATA); \
	else \
		echo "No desktop: running headless with a scripted customer (docs/demo-script.txt)."; \
		$(BIN)/kiosk run --headless --panel stdin --data-dir $(DEMO_DATA) < docs/demo-script.txt; \
		echo "--- responses buffered in $(DEMO_DATA) (kiosk responses):"; \
		$(BIN)/kiosk responses --data-dir $(DEMO_DATA); \
		echo "--- screenshots: $(DEMO_DATA)/screenshots/"; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

screenshots: $(STAMP)
	$(BIN)/kiosk screenshot --out docs/screenshots

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache
