# Two commands on a fresh Debian / Raspberry Pi OS machine:
#   make demo   install what is missing, then run the whole system on this machine: the fleet
#               server with its own Mosquitto and SQLite, a provisioned kiosk (a window if there
#               is a desktop, else headless with a scripted customer on stdin), and what arrived
#   make test   install what is missing, then run every test
#   make fuzz   a long, randomized fuzz run of everything that reads untrusted input (minutes)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
DEMO_DATA := demo-data
# Not 1883: a machine may already run a broker there (Debian's mosquitto package starts one).
DEMO_PORT ?= 18830

# A Raspberry-Pi-4-class CPU share for `make bench-pi` (see that script; needs root for its cgroup).
PI_CLASS ?= ../shared/tools/pi-class
SHOTS := docs/screenshots

.PHONY: demo test fuzz bench bench-pi screenshots button-caps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { sh scripts/system-deps.sh venv; $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

test: $(STAMP)
	@sh scripts/system-deps.sh test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

# Every decoder of untrusted input, ingest on SQLite and PostgreSQL, and export, with
# FUZZ_EXAMPLES random examples per test instead of make test's few hundred fixed ones
# (tests/fuzzing.py). A failure prints the input and a @reproduce_failure line to replay it.
FUZZ_EXAMPLES ?= 1000
FUZZ_TESTS := tests/kiosk/test_protocol_fuzz.py tests/fleet/test_ingest_fuzz.py tests/fleet/test_export.py tests/fleet/test_timefix.py
fuzz: $(STAMP)
	NABIZ_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q --timeout 0 $(FUZZ_TESTS)

demo: $(STAMP)
	@sh scripts/system-deps.sh demo
	@sh scripts/demo.sh $(BIN) $(DEMO_DATA) $(DEMO_PORT)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The kiosk's latency bars on a Pi-class CPU share (a quarter of one core here).
bench-pi: $(STAMP)
	@test -x "$(PI_CLASS)" || { echo "error: $(PI_CLASS) not found\n  fix: make bench-pi PI_CLASS=/path/to/pi-class"; exit 2; }
	$(PI_CLASS) $(BIN)/python benchmarks/bench_kiosk.py --out benchmarks/results/kiosk-pi-class.json

# Every screen at 800x480 and 1080p, and the start screen (today's and before issue 9's) as
# seen with each colour-vision deficiency and in greyscale.
screenshots: $(STAMP)
	rm -rf $(SHOTS)/800x480 $(SHOTS)/1920x1080 $(SHOTS)/colour-vision
	$(BIN)/kiosk screenshot --out $(SHOTS)
	$(BIN)/python -m kiosk.screenshots simulate $(SHOTS)/800x480/attract-tr.png $(SHOTS)/before/attract-tr-before.png --out $(SHOTS)/colour-vision
	$(BIN)/python scripts/web_screenshots.py docs/web

# Printable caps for the arcade buttons, matching the screen's colours and faces.
button-caps: $(STAMP)
	$(BIN)/python scripts/button_caps.py --out hardware/button-caps

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache
