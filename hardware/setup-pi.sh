#!/bin/sh
# Install (or upgrade) the Nabız kiosk on a Raspberry Pi with Raspberry Pi OS Bookworm.
#
#   sudo sh hardware/setup-pi.sh [--config FILE | --device-id ID] [SOURCE]
#
#   SOURCE     the project folder or a nabiz-*.whl (default: the folder above this script)
#   FILE       the kiosk config head office made with `fleet device add` (it holds this
#              kiosk's id, site and broker login); checked as the kiosk's user, then
#              installed as /etc/nabiz/kiosk.toml (a bad one is refused, the old one kept)
#   ID         this kiosk's id, e.g. ist-kadikoy-01 (default: kiosk-<hostname>);
#              only used when neither FILE nor /etc/nabiz/kiosk.toml exists
#
# Safe to run again: it upgrades the software and keeps the config and the buffered answers.
# Guide: docs/hardware.md.
set -eu

VENV=/opt/nabiz/venv
DOCS=/opt/nabiz/docs
CONFIG_DIR=/etc/nabiz
CONFIG=$CONFIG_DIR/kiosk.toml
DATA_DIR=/var/lib/nabiz-kiosk
UNIT=/etc/systemd/system/nabiz-kiosk.service
USER_NAME=nabiz
GROUPS_NEEDED="video render input gpio"
APT_PACKAGES="python3 python3-venv python3-pip python3-pygame python3-gpiozero python3-lgpio python3-peewee python3-click fonts-dejavu-core"

say() { printf '== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

# --- arguments ------------------------------------------------------------------------
ARGS="$*"
DEVICE_ID=""
SOURCE=""
NEW_CONFIG=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -d|--device-id)
            [ $# -ge 2 ] || die "$1 needs a value, e.g. $1 ist-kadikoy-01"
            DEVICE_ID=$2; shift 2 ;;
        --device-id=*) DEVICE_ID=${1#*=}; shift ;;
        -c|--config)
            [ $# -ge 2 ] || die "$1 needs the kiosk config file made by 'fleet device add'"
            NEW_CONFIG=$2; shift 2 ;;
        --config=*) NEW_CONFIG=${1#*=}; shift ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            [ -z "$SOURCE" ] || die "only one SOURCE may be given (see --help)"
            SOURCE=$1; shift ;;
    esac
done

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
if [ -z "$SOURCE" ]; then
    SOURCE=$(cd "$SCRIPT_DIR/.." && pwd)
fi
case "$SOURCE" in
    *.whl) [ -f "$SOURCE" ] || die "$SOURCE: no such wheel file" ;;
    *) [ -f "$SOURCE/pyproject.toml" ] || die "$SOURCE has no pyproject.toml: give the Nabız project folder or a .whl" ;;
esac
case "$SOURCE" in
    /*) ;;
    *) SOURCE=$(pwd)/$SOURCE ;;
esac

if [ -z "$DEVICE_ID" ]; then
    DEVICE_ID="kiosk-$(hostname -s 2>/dev/null || hostname)"
    DEVICE_ID=$(printf '%s' "$DEVICE_ID" | tr '[:upper:]' '[:lower:]')
fi
case "$DEVICE_ID" in
    ''|[!a-z0-9]*|*[!a-z0-9_-]*) die "device id '$DEVICE_ID' may only contain lowercase letters, digits, '_' and '-', and must start with a letter or digit (it is also the kiosk's broker login)" ;;
esac
if [ -n "$NEW_CONFIG" ]; then
    [ -f "$NEW_CONFIG" ] || die "$NEW_CONFIG: no such file (give the .toml file 'fleet device add' wrote)"
    grep -q '^\[fleet\]' "$NEW_CONFIG" || warn "$NEW_CONFIG has no [fleet] table: this kiosk will keep its answers on the card and not sync"
fi

# --- where are we -----------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root: sudo sh $0 $ARGS"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Raspberry Pi OS (Debian)"

MODEL=""
if [ -r /proc/device-tree/model ]; then
    MODEL=$(tr -d '\0' < /proc/device-tree/model)
fi
case "$MODEL" in
    *"Raspberry Pi 3 Model B Plus"*|*"Raspberry Pi 4"*|*"Raspberry Pi 5"*) ;;
    *"Raspberry Pi"*) warn "$MODEL is not a tested board (3B+, 4, 5); continuing" ;;
    *) warn "this does not look like a Raspberry Pi (no model in /proc/device-tree); continuing" ;;
esac
CODENAME=""
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    CODENAME=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
fi
[ "$CODENAME" = bookworm ] || warn "this is '${CODENAME:-unknown}', not Raspberry Pi OS Bookworm; continuing"

# --- system packages --------------------------------------------------------------------
say "system packages"
apt-get update -qq || warn "apt-get update failed (no network?); installing from the package lists already here"
to_install=""
for package in $APT_PACKAGES; do
    if apt-cache show "$package" >/dev/null 2>&1; then
        to_install="$to_install $package"
    else
        warn "package $package is not available here (it comes from the Raspberry Pi OS archive); pip will try PyPI"
    fi
done
# shellcheck disable=SC2086  # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $to_install

# --- user -----------------------------------------------------------------------------
say "user $USER_NAME"
for group in $GROUPS_NEEDED; do
    if ! getent group "$group" >/dev/null; then
        # The unit's SupplementaryGroups= fails if a group is missing; Raspberry Pi OS has them all.
        warn "group $group does not exist; creating it (on a Raspberry Pi OS it already exists)"
        groupadd --system "$group"
    fi
done
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Nabiz kiosk" "$USER_NAME"
fi
usermod --append --groups "$(printf '%s' "$GROUPS_NEEDED" | tr ' ' ',')" "$USER_NAME"

# --- software -------------------------------------------------------------------------
say "software in $VENV (from $SOURCE)"
mkdir -p "$(dirname "$VENV")"
if [ -f "$VENV/pyvenv.cfg" ] && ! grep -qi '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg"; then
    warn "$VENV does not see the system packages; recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv --system-site-packages "$VENV"
fi
# Without --upgrade-strategy eager, pip keeps the apt packages that satisfy the requirements
# (above all python3-pygame, whose SDL can draw through KMS/DRM without a desktop).
"$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade "${SOURCE}[pi]"
PYGAME_FILE=$(PYGAME_HIDE_SUPPORT_PROMPT=1 "$VENV/bin/python" -c 'import pygame; print(pygame.__file__)')
case "$PYGAME_FILE" in
    /usr/lib/python3/*) ;;
    *) warn "pygame comes from $PYGAME_FILE, not from python3-pygame: the display may not work without a desktop (see docs/hardware.md)" ;;
esac
if [ -d "$SOURCE/docs" ]; then
    mkdir -p "$DOCS"
    cp "$SOURCE"/docs/*.md "$DOCS"/
fi

# --- configuration ----------------------------------------------------------------------
# Checked as the service's user BEFORE it is installed (install-config.sh): a bad config is
# refused with the reason and the previous one stays, so the service never restarts into it.
say "configuration $CONFIG"
INSTALL_CONFIG="$SCRIPT_DIR/install-config.sh"
[ -f "$INSTALL_CONFIG" ] || die "$INSTALL_CONFIG is missing: run this script from the Nabız project folder"
if [ -n "$NEW_CONFIG" ]; then
    sh "$INSTALL_CONFIG" "$NEW_CONFIG" "$CONFIG" "$USER_NAME" "$VENV/bin/kiosk" \
        || die "fix $NEW_CONFIG and run this script again (the service was not restarted)"
elif [ -f "$CONFIG" ]; then
    echo "   checking the existing $CONFIG"
    sh "$INSTALL_CONFIG" "$CONFIG" "$CONFIG" "$USER_NAME" "$VENV/bin/kiosk" \
        || die "the kiosk would not start with $CONFIG: fix it and run this script again (the service was not restarted)"
else
    TEMPLATE=$(mktemp)
    "$VENV/bin/python" -c 'import sys; from kiosk.contract.deployment import config_template; sys.stdout.write(config_template(sys.argv[1]))' "$DEVICE_ID" > "$TEMPLATE"
    sh "$INSTALL_CONFIG" "$TEMPLATE" "$CONFIG" "$USER_NAME" "$VENV/bin/kiosk" || { rm -f "$TEMPLATE"; die "the default config did not pass its check (the reason is above)"; }
    rm -f "$TEMPLATE"
    echo "   wrote $CONFIG (device_id = $DEVICE_ID)"
fi

# --- service --------------------------------------------------------------------------
say "service nabiz-kiosk"
install -m 0644 "$SOURCE/hardware/systemd/nabiz-kiosk.service" "$UNIT" 2>/dev/null \
    || "$VENV/bin/python" -c 'import hardware, pathlib, shutil, sys; shutil.copy(pathlib.Path(hardware.__file__).with_name("systemd") / "nabiz-kiosk.service", sys.argv[1])' "$UNIT"
chmod 0644 "$UNIT"
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable nabiz-kiosk.service
    systemctl restart nabiz-kiosk.service
    STARTED=yes
else
    if ! systemctl enable nabiz-kiosk.service 2>/dev/null; then
        mkdir -p /etc/systemd/system/multi-user.target.wants
        ln -sf "$UNIT" /etc/systemd/system/multi-user.target.wants/nabiz-kiosk.service
    fi
    STARTED=no
fi

cat <<EOF

Done. Device id: $(sed -n 's/^device_id *= *"\(.*\)".*/\1/p' "$CONFIG")
$( [ "$STARTED" = yes ] && echo "The kiosk service is running and starts at every boot." || echo "systemd is not running here: the service starts at the next boot." )

Next steps:
  1. Look at the screen; or check:  systemctl status nabiz-kiosk
                                    journalctl -u nabiz-kiosk -f
  2. Check the wiring in test mode (nothing is recorded; the survey is off meanwhile):
       sudo systemctl stop nabiz-kiosk; sudo -u $USER_NAME $VENV/bin/kiosk wiring-check; sudo systemctl start nabiz-kiosk
     Press every button: the screen shows its number and GPIO, its LED flashes (docs/hardware.md).
     Do not test on the running survey: those presses would be recorded as customers' answers.
  3. Answers buffered on this kiosk:  sudo -u $USER_NAME $VENV/bin/kiosk responses
     Outbox health:                   sudo -u $USER_NAME $VENV/bin/kiosk health
  4. Screenshot of the live screen:   sudo kill -USR1 \$(systemctl show -p MainPID --value nabiz-kiosk)
                                      (saved in $DATA_DIR/screenshots/)
  5. Change settings in $CONFIG, then: sudo systemctl restart nabiz-kiosk
  Raspberry Pi OS with a desktop: boot to the console instead
  (sudo systemctl set-default multi-user.target && sudo reboot): the kiosk draws on the display itself.
EOF
