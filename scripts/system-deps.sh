#!/bin/sh
# Install the Debian / Raspberry Pi OS packages a make target needs, only those missing.
# Usage: scripts/system-deps.sh test|demo|venv
#   test: Xvfb and xdotool (a real desktop window in the tests), DejaVu fonts (Turkish glyphs),
#         Mosquitto (the tests start their own brokers with it), Chromium (the web pages' browser
#         tests drive Debian's build through Playwright; Playwright's own download is never used)
#   demo: DejaVu fonts, Mosquitto (the fleet server's embedded broker)
# Without apt-get (not Debian), or without root and sudo, it says what to install and goes on:
# the tests that need a missing tool say so when they are skipped.
set -eu
case "${1:-}" in
  test) packages="fonts-dejavu-core xvfb xdotool mosquitto chromium" ;;
  demo) packages="fonts-dejavu-core mosquitto" ;;
  venv) packages="python3-venv" ;;
  *) echo "usage: $0 test|demo|venv" >&2; exit 2 ;;
esac
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not a Debian system; please install:$missing" >&2; exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "note: need root to install:$missing (run: sudo apt-get install$missing)" >&2; exit 0
fi
echo "installing:$missing"
$sudo apt-get update -qq >/dev/null || true
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
