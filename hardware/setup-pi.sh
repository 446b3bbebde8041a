#!/bin/sh
# Install the Nabız kiosk on a Raspberry Pi running Raspberry Pi OS Bookworm (Lite is fine).
# Run as root from a copy of the project:   sudo sh hardware/setup-pi.sh [DEVICE_ID]
# Safe to run again (upgrades the software, keeps the config and the buffered responses).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEVICE_ID=${1:-kiosk-$(hostname | tr 'A-Z' 'a-z')}
VENV=/opt/nabiz/venv
CONFIG=/etc/nabiz/kiosk.toml

if [ "$(id -u)" -ne 0 ]; then echo "error: run as root (sudo sh $0)" >&2; exit 2; fi
if ! grep -q "Raspberry Pi" /proc/device-tree/model 2>/dev/null; then
  echo "warning: this does not look like a Raspberry Pi; continuing anyway" >&2
fi
if ! command -v apt-get >/dev/null; then echo "error: needs Raspberry Pi OS / Debian (apt-get)" >&2; exit 2; fi

echo "== system packages (pygame with the system SDL: KMS/DRM without X)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv python3-pip python3-pygame python3-gpiozero python3-lgpio python3-peewee \
  fonts-dejavu-core >/dev/null

echo "== user nabiz"
id nabiz >/dev/null 2>&1 || useradd --system --home-dir /var/lib/nabiz-kiosk --shell /usr/sbin/nologin nabiz
for group in video render input gpio; do
  getent group "$group" >/dev/null && usermod -a -G "$group" nabiz
done

echo "== software in $VENV"
mkdir -p /opt/nabiz
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q --upgrade "$SRC[pi]"

echo "== config $CONFIG"
if [ ! -f "$CONFIG" ]; then
  mkdir -p /etc/nabiz
  cat > "$CONFIG" <<CONF
# Nabız kiosk configuration: see docs/operations.md
device_id = "$DEVICE_ID"

[panel]
kind = "gpio"
profile = "arcade-4"

[screen]
mode = "fullscreen"
CONF
  echo "   wrote $CONFIG (device_id = $DEVICE_ID)"
else
  echo "   kept the existing $CONFIG"
fi
"$VENV/bin/kiosk" validate "$(${VENV}/bin/python -c 'from kiosk.survey import DEFAULT_SURVEY_PATH; print(DEFAULT_SURVEY_PATH)')" >/dev/null

echo "== service"
install -m 0644 "$SRC/hardware/systemd/nabiz-kiosk.service" /etc/systemd/system/nabiz-kiosk.service
systemctl daemon-reload
systemctl enable nabiz-kiosk >/dev/null
systemctl restart nabiz-kiosk

cat <<DONE
Done. The kiosk is running as a service.
  status:       systemctl status nabiz-kiosk
  logs:         journalctl -u nabiz-kiosk -f
  responses:    sudo -u nabiz $VENV/bin/kiosk responses --data-dir /var/lib/nabiz-kiosk
  health:       sudo -u nabiz $VENV/bin/kiosk health --data-dir /var/lib/nabiz-kiosk
  screenshot:   sudo systemctl kill -s USR1 nabiz-kiosk   (saved in /var/lib/nabiz-kiosk/screenshots/)
  wiring check: docs/hardware.md
DONE
