#!/usr/bin/env bash
# Run a command with a real, unlocked Secret Service (gnome-keyring) on a
# private D-Bus session bus and a throwaway HOME, as CI does. The command
# starts once the keyring owns org.freedesktop.secrets on the bus (the daemon
# claims the name a moment after it returns; the tests check for it).
set -euo pipefail
export HOME="$(mktemp -d)"
exec dbus-run-session -- bash -c '
  printf "throwaway" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  if command -v dbus-send >/dev/null 2>&1; then
    for _ in $(seq 50); do
      dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
      sleep 0.1
    done
  fi
  exec "$@"' bash "$@"
