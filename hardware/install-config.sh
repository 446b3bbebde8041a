#!/bin/sh
# Check a kiosk config as the kiosk's user, then install it in one atomic step.
#
#   sh install-config.sh NEW_CONFIG TARGET KIOSK_USER KIOSK_COMMAND
#
#   NEW_CONFIG     the config to install (e.g. the file `fleet device add` wrote)
#   TARGET         where the kiosk reads it: /etc/nabiz/kiosk.toml
#   KIOSK_USER     the service's user (nabiz). The config is checked as that user, so a file
#                  it names (a CA certificate, a survey, a profile) must be readable by it.
#   KIOSK_COMMAND  the kiosk command: /opt/nabiz/venv/bin/kiosk
#
# A config that would not start the kiosk is refused with the reason (exit status 2) and
# TARGET stays exactly as it was: the service never restarts into a bad file. A good one
# replaces TARGET by one rename (never half-written), mode 0640, group of KIOSK_USER (it
# holds the broker password); a different previous TARGET is kept as TARGET.bak.
# setup-pi.sh calls this; it also runs alone (as root) to give a kiosk a new config.
set -eu

die() { printf 'error: %s\n' "$*" >&2; exit 2; }

[ $# -eq 4 ] || die "usage: sh $0 NEW_CONFIG TARGET KIOSK_USER KIOSK_COMMAND"
NEW=$1
TARGET=$2
KIOSK_USER=$3
KIOSK=$4
[ -f "$NEW" ] && [ -r "$NEW" ] || die "$NEW: no such readable file (give the .toml file 'fleet device add' wrote)"
GROUP=$(id -gn "$KIOSK_USER" 2>/dev/null) || die "no user '$KIOSK_USER' (setup-pi.sh creates the kiosk's user nabiz)"
DIR=$(dirname "$TARGET")
mkdir -p "$DIR"

# Staged beside the target, so the final mv is a rename within one file system.
STAGED=$(mktemp "$DIR/.kiosk.toml.XXXXXX")
trap 'rm -f "$STAGED"' EXIT
trap 'exit 2' HUP INT TERM
cat "$NEW" > "$STAGED"
chmod 0640 "$STAGED"
if [ "$(id -u)" -eq 0 ]; then
    chown "root:$GROUP" "$STAGED"
fi

check() {
    # From / (a relative path in the config would not resolve there for the service either).
    if [ "$(id -un)" = "$KIOSK_USER" ]; then
        (cd / && env PYGAME_HIDE_SUPPORT_PROMPT=1 "$KIOSK" check-config "$1")
    else
        (cd / && runuser -u "$KIOSK_USER" -- env PYGAME_HIDE_SUPPORT_PROMPT=1 "$KIOSK" check-config "$1")
    fi
}

# The checker names the staged copy; the technician knows the file by its own name.
literal() { printf '%s' "$1" | sed 's/[|&\\]/\\&/g'; }
renamed() { printf '%s\n' "$REPORT" | sed "s|$(literal "$STAGED")|$(literal "$1")|g"; }
if ! REPORT=$(check "$STAGED" 2>&1); then
    renamed "$NEW" >&2
    die "$NEW is not installed: the kiosk would not start with it as user $KIOSK_USER. $TARGET is unchanged."
fi
renamed "$TARGET"

if [ -f "$TARGET" ] && ! cmp -s "$STAGED" "$TARGET"; then
    cp -p "$TARGET" "$TARGET.bak"
    echo "   kept the previous one as $TARGET.bak"
fi
mv -f "$STAGED" "$TARGET"
trap - EXIT
echo "   installed $NEW as $TARGET (mode 0640, group $GROUP)"
