# Two commands on a fresh Debian / Raspberry Pi OS machine:
#   make demo   install what is missing, then run the whole system on this machine: the fleet
#               server with its own Mosquitto and SQLite, a provisioned kiosk (a window if there
#               is a desktop, else headless with a scripted customer on stdin), and what arrived
#   make test   install what is missing, then run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO_DATA := demo-data
# Not 1883: a machine may already run a broker there (Debian's mosquitto package starts one).
DEMO_PORT ?= 18830

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
	@sh scripts/demo.sh $(BIN) $(DEMO_DATA) $(DEMO_PORT)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

screenshots: $(STAMP)
	$(BIN)/kiosk screenshot --out docs/screenshots
	$(BIN)/python scripts/web_screenshots.py docs/web

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache
