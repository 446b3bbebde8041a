#!/bin/sh
# make demo: the whole system on one machine, and the escalation loop closed.
#   1. a webhook receiver standing in for a staff member's phone (scripts/webhook_receiver.py:
#      every POST appended to demo-data/webhook.jsonl)
#   2. the fleet server with its embedded Mosquitto and SQLite (demo-data/fleet), configured by
#      demo-data/fleet/fleet.toml (checked with `fleet config check` first): a site, its staff
#      Ayşe reached at that webhook, and a rule that raises an alert when a customer asks for help
#   3. a demo kiosk provisioned with its own broker login (demo-data/demo-kiosk.toml)
#   4. the kiosk itself: a window with a desktop, else headless with a scripted customer
#      (docs/demo-script.txt) who answers negatively and accepts help; the demo then plays the
#      staff: `fleet alert ack ID --by "Ayşe" --eta 2`, and the kiosk shows who is coming
#   5. head office pushes a new first question (docs/surveys/demo-survey.toml, Turkish and English):
#      `fleet survey add`, `fleet survey push --to device:demo-kiosk`, signed with the key of
#      `fleet survey keygen` that the kiosk's config trusts; the kiosk shows it on its start screen
#   6. what happened: the alert, the message the webhook received, the delivery log, the
#      rollout's status, the screenshots
# Usage: scripts/demo.sh BIN_DIR DATA_DIR PORT   (the web pages listen on PORT+1, the webhook on PORT+2)
set -eu
BIN=$1
DATA=$2
PORT=$3
HTTP_PORT=$((PORT + 1))
WEBHOOK_PORT=$((PORT + 2))
FLEET_DATA="$DATA/fleet"
CONFIG="$DATA/demo-kiosk.toml"
WEBHOOK_LOG="$DATA/webhook.jsonl"
KIOSK_LOG="$DATA/kiosk.log"
SCRIPT=docs/demo-script.txt
mkdir -p "$FLEET_DATA" "$DATA/screenshots"
export NABIZ_FLEET_DATA="$FLEET_DATA"
: > "$WEBHOOK_LOG"
: > "$KIOSK_LOG"

# Every `fleet` command finds this file in the data directory (docs/fleet.toml.example has every
# key; docs/escalation.md explains the escalation sections).
cat > "$FLEET_DATA/fleet.toml" <<TOML
# The demo fleet: written by scripts/demo.sh at every run.
[broker]
bind = "127.0.0.1"
port = $PORT

[kiosks]
broker_url = "mqtt://127.0.0.1:$PORT"   # the demo kiosk runs on this same machine

[web]
host = "127.0.0.1"
port = $HTTP_PORT
public_url = "http://127.0.0.1:$HTTP_PORT"   # the acknowledge link in the message points here

[[sites]]
id = "kadikoy"
name = "İstanbul Kadıköy"
language = "tr"                 # the staff's messages are written in Turkish
help_wait_seconds = 45

[[contacts]]
id = "ayse"
name = "Ayşe Yılmaz"
sites = ["kadikoy"]
roles = ["staff"]
urls = ["json://127.0.0.1:$WEBHOOK_PORT/staff"]   # scripts/webhook_receiver.py, standing in for her phone

[[policies]]
id = "staff-now"
  [[policies.stages]]
  roles = ["staff"]

[[rules]]
id = "help-request"             # the customer said yes to "shall a colleague come?"
kind = "response"
on = "help"
severity = "urgent"             # the first stage runs at once
policy = "staff-now"

[notifications]
public_url = "http://127.0.0.1:$HTTP_PORT"
TOML
chmod 600 "$FLEET_DATA/fleet.toml"
"$BIN/fleet" config check "$FLEET_DATA/fleet.toml" > /dev/null

"$BIN/python" scripts/webhook_receiver.py --port "$WEBHOOK_PORT" --out "$WEBHOOK_LOG" > "$DATA/webhook.log" 2>&1 &
RECEIVER=$!
"$BIN/fleet" serve > "$DATA/fleet.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" "$RECEIVER" 2>/dev/null; wait "$SERVER" "$RECEIVER" 2>/dev/null || true' EXIT INT TERM

# wait_for WHAT SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
  what=$1; seconds=$2; shift 2
  tries=0
  until "$@" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt $((seconds * 10)) ]; then echo "demo: gave up waiting for $what after $seconds s" >&2; return 1; fi
    sleep 0.1
  done
}
fleet_serving() {
  kill -0 "$SERVER" 2>/dev/null || { echo "fleet serve did not start:" >&2; cat "$DATA/fleet.log" >&2; exit 1; }
  grep -q "fleet serving" "$DATA/fleet.log"
}
wait_for "fleet serve to start (see $DATA/fleet.log)" 30 fleet_serving
grep -q "webhook receiver listening" "$DATA/webhook.log" || wait_for "the webhook receiver" 10 grep -q "webhook receiver listening" "$DATA/webhook.log"
echo "fleet server running: broker mqtt://127.0.0.1:$PORT, web pages http://127.0.0.1:$HTTP_PORT, store $FLEET_DATA/fleet.sqlite3, log $DATA/fleet.log"
echo "staff webhook (Ayşe's phone): json://127.0.0.1:$WEBHOOK_PORT/staff -> $WEBHOOK_LOG"

# Head office's survey signing key, before the kiosk's config is written: the config lists its
# public key ([survey] trusted_keys), and the kiosk takes only surveys it signed.
"$BIN/fleet" survey keys > /dev/null 2>&1 || "$BIN/fleet" survey keygen > /dev/null
SURVEY_KEY=$("$BIN/fleet" survey keys | head -n 1)
if [ ! -f "$CONFIG" ]; then
  # The kiosk runs on this same machine: the one case where a config may name 127.0.0.1.
  "$BIN/fleet" device add demo-kiosk --site kadikoy --out "$CONFIG" --allow-loopback
elif ! grep -qF "$SURVEY_KEY" "$CONFIG"; then
  # A config from before the key (an older demo-data): written again, with the key and a new password.
  "$BIN/fleet" device credentials demo-kiosk --out "$CONFIG" --allow-loopback
fi

open_alert() {  # the newest open alert's id, once the webhook has received its message
  [ -s "$WEBHOOK_LOG" ] || return 1
  ALERT=$("$BIN/fleet" alert list --state open --format json | "$BIN/python" -c 'import json, sys; print(json.loads(sys.stdin.readline())["id"])') || return 1
  [ -n "$ALERT" ]
}
acknowledge() {  # the staff's side: Ayşe takes the alert from her phone's message
  wait_for "the staff's webhook to receive the alert" 30 open_alert || return 1
  echo "--- the demo, as the staff: fleet alert ack $ALERT --by \"Ayşe\" --eta 2" >&2
  "$BIN/fleet" alert ack "$ALERT" --by "Ayşe" --eta 2 >&2
}
survey_applied() {  # the newest rollout: every device reported the survey applied
  "$BIN/fleet" survey status --format json | "$BIN/python" -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if s["counts"]["applied"] == s["devices"] else 1)'
}
push_survey() {  # head office's side: a new version of the survey, pushed to the demo kiosk
  echo "--- the demo, as head office: fleet survey add docs/surveys/demo-survey.toml; fleet survey push exit-default --version 4 --to device:demo-kiosk" >&2
  "$BIN/fleet" survey add docs/surveys/demo-survey.toml >&2
  "$BIN/fleet" survey push exit-default --version 4 --to device:demo-kiosk >&2
  wait_for "the kiosk to report the new survey applied" 30 survey_applied
}

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Kiosk in a window: keys 1-4 answer, L switches language, F12 saves a screenshot, Esc quits."
  echo "Answer negatively and press 4 (yes) to the offer of help: the demo acknowledges as Ayşe."
  echo "Then head office pushes a new first question: it shows on the next start screen (F12 for a screenshot)."
  ( acknowledge && wait_for "the alert to be acknowledged" 300 grep -q "help shown" "$KIOSK_LOG" && push_survey || true ) &
  "$BIN/kiosk" run --config "$CONFIG" --window --panel keyboard --data-dir "$DATA/kiosk" 2>&1 | tee "$KIOSK_LOG"
else
  echo "No desktop: running headless with a scripted customer ($SCRIPT)."
  {
    sed -n '1,/^# @ack/p' "$SCRIPT"
    acknowledge
    wait_for "the kiosk to show who is coming" 20 grep -q "help shown" "$KIOSK_LOG"
    sed -n '/^# @ack/,/^# @resolve/p' "$SCRIPT" | sed '1d'
    wait_for "the screenshot of the help screen" 20 grep -q "07-help-coming.png" "$KIOSK_LOG"
    "$BIN/fleet" alert resolve "$ALERT" --by "Ayşe" --comment "came to the customer" >&2
    wait_for "the kiosk to hear the alert is closed" 20 grep -q "help update heard.*state=closed" "$KIOSK_LOG"
    sed -n '/^# @resolve/,/^# @survey/p' "$SCRIPT" | sed '1d'
    push_survey
    wait_for "the kiosk to show the new survey" 20 grep -q "survey applied" "$KIOSK_LOG"
    sed '1,/^# @survey/d' "$SCRIPT"
  } | "$BIN/kiosk" run --config "$CONFIG" --headless --panel stdin --data-dir "$DATA/kiosk" 2>&1 | tee "$KIOSK_LOG"
  echo "--- screenshots: $DATA/screenshots/ (the help screen: $DATA/screenshots/07-help-coming.png)"
fi
echo "--- what the fleet stored (fleet responses):"
"$BIN/fleet" responses
echo "--- the fleet's devices (fleet device list):"
"$BIN/fleet" device list
echo "--- still unsent on the kiosk (kiosk responses --unsent):"
"$BIN/kiosk" responses --data-dir "$DATA/kiosk" --unsent
echo "--- the alerts (fleet alert list):"
"$BIN/fleet" alert list
echo "--- what Ayşe's phone received ($WEBHOOK_LOG):"
"$BIN/python" -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    print(entry["title"]); print("  " + entry["message"].replace("\n", "\n  "))' "$WEBHOOK_LOG"
echo "--- the newest alert whole: what happened, who was told, every attempt (fleet alert show):"
NEWEST=$("$BIN/fleet" alert list --format json --limit 1 | "$BIN/python" -c 'import json, sys; line = sys.stdin.readline(); print(json.loads(line)["id"] if line.strip() else "")')
if [ -n "$NEWEST" ]; then "$BIN/fleet" alert show "$NEWEST"; fi
echo "--- the survey push (fleet survey status):"
"$BIN/fleet" survey status --devices || true
if [ -f "$DATA/screenshots/08-new-question.png" ]; then
  echo "the kiosk's start screen with the new question: $DATA/screenshots/08-new-question.png"
fi
