#!/usr/bin/env bash
# Run a command with a real, unlocked Secret Service (gnome-keyring) on a
# private D-Bus session bus and a throwaway HOME, as CI does.
set -euo pipefail
export HOME="$(mktemp -d)"
exec dbus-run-session -- bash -c 'printf "throwaway" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$@"' bash "$@"
