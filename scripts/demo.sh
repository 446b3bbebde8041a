#!/bin/sh
# make demo: the whole system on one machine.
#   1. the fleet server with its embedded Mosquitto and SQLite (demo-data/fleet), configured by
#      demo-data/fleet/fleet.toml (checked with `fleet config check` first)
#   2. a demo kiosk provisioned with its own broker login (demo-data/demo-kiosk.toml)
#   3. the kiosk itself: a window with a desktop, else headless with a scripted customer
#   4. what reached the fleet: `fleet responses` and `fleet device list`
# Usage: scripts/demo.sh BIN_DIR DATA_DIR PORT
set -eu
BIN=$1
DATA=$2
PORT=$3
FLEET_DATA="$DATA/fleet"
CONFIG="$DATA/demo-kiosk.toml"
mkdir -p "$FLEET_DATA"
export NABIZ_FLEET_DATA="$FLEET_DATA"

# Every `fleet` command finds this file in the data directory (docs/fleet.toml.example has every key).
cat > "$FLEET_DATA/fleet.toml" <<EOF
# The demo fleet: written by scripts/demo.sh at every run.
[broker]
bind = "127.0.0.1"
port = $PORT

[kiosks]
broker_url = "mqtt://127.0.0.1:$PORT"   # the demo kiosk runs on this same machine
EOF
"$BIN/fleet" config check "$FLEET_DATA/fleet.toml" > /dev/null

"$BIN/fleet" serve > "$DATA/fleet.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT INT TERM
tries=0
until grep -q "fleet serving" "$DATA/fleet.log" 2>/dev/null; do
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "fleet serve did not start:" >&2; cat "$DATA/fleet.log" >&2; exit 1
  fi
  tries=$((tries + 1)); [ "$tries" -gt 200 ] && { echo "fleet serve is not ready after 20 s; see $DATA/fleet.log" >&2; exit 1; }
  sleep 0.1
done
echo "fleet server running: broker mqtt://127.0.0.1:$PORT, store $FLEET_DATA/fleet.sqlite3, log $DATA/fleet.log"

if [ ! -f "$CONFIG" ]; then
  # The kiosk runs on this same machine: the one case where a config may name 127.0.0.1.
  "$BIN/fleet" device add demo-kiosk --site "Demo: İstanbul Kadıköy" --out "$CONFIG" --allow-loopback
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Kiosk in a window: keys 1-4 answer, L switches language, F12 saves a screenshot, Esc quits."
  "$BIN/kiosk" run --config "$CONFIG" --window --panel keyboard --data-dir "$DATA/kiosk"
else
  echo "No desktop: running headless with a scripted customer (docs/demo-script.txt)."
  "$BIN/kiosk" run --config "$CONFIG" --headless --panel stdin --data-dir "$DATA/kiosk" < docs/demo-script.txt
  echo "--- screenshots: demo-data/screenshots/"
fi
echo "--- what the fleet stored (fleet responses):"
"$BIN/fleet" responses
echo "--- the fleet's devices (fleet device list):"
"$BIN/fleet" device list
echo "--- still unsent on the kiosk (kiosk responses --unsent):"
"$BIN/kiosk" responses --data-dir "$DATA/kiosk" --unsent
