#!/bin/sh
# Remove the aigate agent (Linux or macOS): first restore every tool it stubbed or quarantined (byte-identical),
# then remove the service and files. The state dir goes too unless --keep-state.
#
#   sudo /opt/aigate/current/uninstall.sh [--keep-state]
set -eu

usage() {
  cat <<'USAGE'
usage: uninstall.sh [--keep-state] [--root DIR] [--force]

  --keep-state   keep the agent's state dir (enrollment, device key, event spool)
  --root DIR     uninstall from a tree staged with install.sh --root DIR; no service calls
  --force        remove the agent even if restoring some tool failed (they stay as they are)
  -h, --help     this text
USAGE
}

die() { echo "uninstall.sh: $*" >&2; exit 1; }

keep_state=no root='' force=no
while [ $# -gt 0 ]; do
  case $1 in
    --keep-state) keep_state=yes; shift ;;
    --root) [ $# -ge 2 ] || { echo "uninstall.sh: --root needs a directory" >&2; exit 2; }; root=$2; shift 2 ;;
    --force) force=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(CDPATH='' cd -- "$root" && pwd -P)
elif [ "$(id -u)" != 0 ]; then
  die "run me as root (sudo)"
fi

AIGATE_PREFIX=/opt/aigate
case $(uname -s) in Darwin) AIGATE_STATE_DIR='/Library/Application Support/aigate' ;; *) AIGATE_STATE_DIR=/var/lib/aigate ;; esac
if [ -f "$root/etc/aigate/install.conf" ]; then
  # Only the two settings we need, read as data (the file is root-owned, but be strict anyway).
  AIGATE_PREFIX=$(sed -n 's/^AIGATE_PREFIX=\(\/.*\)$/\1/p' "$root/etc/aigate/install.conf" | tail -n 1)
  AIGATE_STATE_DIR=$(sed -n 's/^AIGATE_STATE_DIR=\(\/.*\)$/\1/p' "$root/etc/aigate/install.conf" | tail -n 1)
fi
[ -n "$AIGATE_PREFIX" ] && [ -n "$AIGATE_STATE_DIR" ] || die "$root/etc/aigate/install.conf is damaged"
prefix=$root$AIGATE_PREFIX
state=$root$AIGATE_STATE_DIR
agent=$prefix/current/bin/aigate-agent

# 1. Stop the service, so nothing re-applies a block while we restore.
if [ -z "$root" ]; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now aigate-agent.service >/dev/null 2>&1 || true
  elif command -v launchctl >/dev/null 2>&1; then
    launchctl bootout system/com.aigate.agent 2>/dev/null || true
  fi
fi

# 2. Restore every tool the agent changed.
if [ -x "$agent" ] && [ -d "$state" ]; then
  echo "Restoring every tool the agent stubbed or quarantined ..."
  if ! "$agent" restore --all --state-dir "$state"; then
    if [ "$force" = yes ]; then
      echo "uninstall.sh: some tools could not be restored (see above); removing the agent anyway (--force)" >&2
    else
      die "some tools could not be restored (see above). Nothing was removed; fix the cause and run uninstall.sh again, or use --force"
    fi
  fi
else
  echo "No agent or state found under $prefix and $state: nothing to restore."
fi

# 3. Remove the service and the files.
unit=$root/etc/systemd/system/aigate-agent.service
if [ -f "$unit" ]; then
  rm -f "$unit"
  if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
rm -f "$root/Library/LaunchDaemons/com.aigate.agent.plist"
link=$root/usr/local/bin/aigate-agent
if [ -L "$link" ] && [ "$(ls -l "$link" | sed 's/.* -> //')" = "$AIGATE_PREFIX/current/bin/aigate-agent" ]; then rm -f "$link"; fi
rm -rf "$prefix"
rm -f "$root/etc/aigate/install.conf"
rmdir "$root/etc/aigate" 2>/dev/null || true
if [ "$keep_state" = yes ]; then
  echo "Kept the agent's state in $AIGATE_STATE_DIR (--keep-state)."
else
  rm -rf "$state"
fi
echo "aigate agent removed."
