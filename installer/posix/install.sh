#!/bin/sh
# Install (or upgrade) the aigate agent as a service: systemd on Linux, a LaunchDaemon on macOS.
#
#   sudo ./install.sh --server https://aigate.example.com --secret-file /root/enroll.secret \
#        [--policy-key-fingerprint FP]
#
# Idempotent: run it again to repair, or from a newer tarball to upgrade (enrollment and state
# are kept). Options: see --help. Exit codes: 0 done, 1 failed, 2 wrong usage.
set -eu

usage() {
  cat <<'USAGE'
usage: install.sh --server URL [--secret S | --secret-file F] [options]

  --server URL                  the aigate server (https://..., or http:// to this machine)
  --secret S                    enroll secret from `aigate enroll-secret create`
  --secret-file F               read the enroll secret from a file (keeps it out of `ps`)
                                (or set AIGATE_ENROLL_SECRET); not needed to upgrade an enrolled agent
  --policy-key-fingerprint FP   refuse to enroll unless the server's policy key has this fingerprint
  --insecure-http               allow plain http to another host (test networks only)
  --prefix DIR                  where the agent goes (default /opt/aigate)
  --state-dir DIR               the agent's state (default /var/lib/aigate on Linux,
                                /Library/Application Support/aigate on macOS)
  --node PATH                   Node.js 20+ to run it with (default: one bundled in the tarball, else PATH's)
  --root DIR                    install into DIR as if it were / (packaging, tests); no service calls
  --os linux|darwin             the layout to install (default: this machine's; useful with --root)
  --no-start                    install and enroll, but do not enable or start the service
  --no-enroll                   install only (enroll later with: aigate-agent enroll ...); for packaging
  -h, --help                    this text
USAGE
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; echo "run install.sh --help for the options" >&2; exit 2; }

server='' secret='' secret_file='' fingerprint='' insecure='' prefix=/opt/aigate state_dir='' node='' root='' start=yes os='' enroll=yes
while [ $# -gt 0 ]; do
  case $1 in
    --server) [ $# -ge 2 ] || usage_error "--server needs a URL"; server=$2; shift 2 ;;
    --secret) [ $# -ge 2 ] || usage_error "--secret needs a value"; secret=$2; shift 2 ;;
    --secret-file) [ $# -ge 2 ] || usage_error "--secret-file needs a file"; secret_file=$2; shift 2 ;;
    --policy-key-fingerprint) [ $# -ge 2 ] || usage_error "--policy-key-fingerprint needs a value"; fingerprint=$2; shift 2 ;;
    --insecure-http) insecure=yes; shift ;;
    --prefix) [ $# -ge 2 ] || usage_error "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --state-dir) [ $# -ge 2 ] || usage_error "--state-dir needs a directory"; state_dir=$2; shift 2 ;;
    --node) [ $# -ge 2 ] || usage_error "--node needs a path"; node=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || usage_error "--root needs a directory"; root=$2; shift 2 ;;
    --no-start) start=no; shift ;;
    --no-enroll) enroll=no; shift ;;
    --os) [ $# -ge 2 ] || usage_error "--os needs linux or darwin"; os=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
done

if [ -z "$os" ]; then
  case $(uname -s) in Darwin) os=darwin ;; *) os=linux ;; esac
fi
case $os in
  linux) [ -n "$state_dir" ] || state_dir=/var/lib/aigate ;;
  darwin) [ -n "$state_dir" ] || state_dir='/Library/Application Support/aigate' ;;
  *) usage_error "--os must be linux or darwin, got $os" ;;
esac
case $prefix in /*) ;; *) usage_error "--prefix must be an absolute path, got $prefix" ;; esac
case $state_dir in /*) ;; *) usage_error "--state-dir must be an absolute path, got $state_dir" ;; esac
case $server in
  '') usage_error "--server is required" ;;
  https://* | http://*) ;;
  *) usage_error "--server must be an http(s) URL, got $server" ;;
esac
if [ -n "$root" ]; then
  [ -d "$root" ] || usage_error "--root $root is not a directory"
  root=$(CDPATH='' cd -- "$root" && pwd -P)
elif [ "$(id -u)" != 0 ]; then
  die "run me as root (sudo), or with --root DIR to stage an install"
fi
if [ -n "$secret_file" ]; then
  [ -r "$secret_file" ] || usage_error "cannot read --secret-file $secret_file"
  secret=$(tr -d ' \r\n' <"$secret_file")
fi
[ -n "$secret" ] || secret=${AIGATE_ENROLL_SECRET:-}

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
[ -f "$here/lib/aigate-agent.mjs" ] && [ -f "$here/VERSION" ] || die "run me from the unpacked agent tarball (lib/aigate-agent.mjs and VERSION are missing beside me)"
version=$(cat "$here/VERSION")

# --- Node.js 20 or newer ------------------------------------------------------------------------
if [ -z "$node" ]; then
  if [ -x "$here/node/bin/node" ]; then node=bundled
  else node=$(command -v node 2>/dev/null || true)
  fi
fi
if [ "$node" = bundled ]; then
  check_node=$here/node/bin/node
else
  [ -n "$node" ] || die "Node.js 20 or newer is needed: install it (e.g. apt install nodejs) or pass --node PATH"
  [ -x "$node" ] || die "--node $node is not an executable"
  check_node=$node
fi
node_major=$("$check_node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] 2>/dev/null || die "$check_node is Node.js $node_major; the agent needs 20 or newer"

# --- Files -----------------------------------------------------------------------------------------
release=$prefix/releases/$version
dest=$root$release
echo "Installing aigate agent $version into $dest"
mkdir -p "$dest"
rm -rf "$dest.new"
mkdir -p "$dest.new/bin" "$dest.new/lib"
cp "$here/lib/aigate-agent.mjs" "$dest.new/lib/"
cp "$here/bin/aigate-agent" "$dest.new/bin/"
cp "$here/VERSION" "$here/uninstall.sh" "$dest.new/"
[ -f "$here/README.md" ] && cp "$here/README.md" "$dest.new/"
if [ "$node" = bundled ]; then
  cp -R "$here/node" "$dest.new/node"
else
  printf '%s\n' "$node" >"$dest.new/node-path"
fi
chmod 0755 "$dest.new" "$dest.new/bin" "$dest.new/lib" "$dest.new/bin/aigate-agent" "$dest.new/uninstall.sh"
chmod 0644 "$dest.new/lib/aigate-agent.mjs" "$dest.new/VERSION"
# Replace the release folder whole, then point `current` at it in one rename.
rm -rf "$dest"
mv "$dest.new" "$dest"
ln -sfn "releases/$version" "$root$prefix/current.new"
mv -fT "$root$prefix/current.new" "$root$prefix/current" 2>/dev/null || { rm -f "$root$prefix/current"; mv "$root$prefix/current.new" "$root$prefix/current"; }
cp "$dest/README.md" "$root$prefix/README.md" 2>/dev/null || true

# Employees run `aigate-agent status` and `aigate-agent request-exception` from PATH.
mkdir -p "$root/usr/local/bin"
ln -sfn "$prefix/current/bin/aigate-agent" "$root/usr/local/bin/aigate-agent"

# The agent sets the modes inside (secrets 0600; status.json and the employees' drop folders open).
mkdir -p "$root$state_dir"
chmod 0755 "$root$state_dir"
[ -z "$root" ] && chown 0:0 "$root$state_dir"

# What was installed where: uninstall.sh and upgrades read it. No secrets in it.
mkdir -p "$root/etc/aigate"
cat >"$root/etc/aigate/install.conf" <<CONF
# Written by install.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Read by uninstall.sh.
AIGATE_PREFIX=$prefix
AIGATE_STATE_DIR=$state_dir
AIGATE_SERVER=$server
AIGATE_VERSION=$version
CONF
chmod 0644 "$root/etc/aigate/install.conf"

# --- Enrollment ------------------------------------------------------------------------------------
agent=$dest/bin/aigate-agent
if [ "$enroll" = no ]; then
  echo "Not enrolled (--no-enroll): enroll with $prefix/current/bin/aigate-agent enroll --server $server --secret-file F --state-dir '$state_dir'"
elif [ -n "$secret" ]; then
  secret_tmp=$(mktemp)
  trap 'rm -f "$secret_tmp"' EXIT
  chmod 0600 "$secret_tmp"
  printf '%s' "$secret" >"$secret_tmp"
  set -- enroll --server "$server" --secret-file "$secret_tmp" --state-dir "$root$state_dir"
  [ -n "$fingerprint" ] && set -- "$@" --policy-key-fingerprint "$fingerprint"
  [ -n "$insecure" ] && set -- "$@" --insecure-http
  "$agent" "$@" || die "enrollment failed (see above); the files are installed, run install.sh again to retry"
elif [ -f "$root$state_dir/config.json" ]; then
  echo "Already enrolled (state in $state_dir kept)."
else
  usage_error "this machine is not enrolled yet: give --secret, --secret-file or AIGATE_ENROLL_SECRET"
fi

# --- Service ---------------------------------------------------------------------------------------
if [ "$os" = linux ]; then
  unit=$root/etc/systemd/system/aigate-agent.service
  mkdir -p "$(dirname "$unit")"
  sed -e "s#@PREFIX@#$prefix#g" -e "s#@STATE_DIR@#$state_dir#g" "$here/service/aigate-agent.service" >"$unit.new"
  chmod 0644 "$unit.new"
  mv -f "$unit.new" "$unit"
  if [ -z "$root" ] && [ "$start" = yes ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl daemon-reload
      systemctl enable aigate-agent.service >/dev/null
      # restart, not start: an upgrade must load the new release.
      systemctl restart aigate-agent.service
      echo "Service aigate-agent enabled and started."
    else
      echo "systemd is not running here: start the agent yourself with: $prefix/current/bin/aigate-agent run --state-dir $state_dir" >&2
    fi
  fi
  logs='journalctl -u aigate-agent'
  health='systemctl status aigate-agent'
else
  plist=$root/Library/LaunchDaemons/com.aigate.agent.plist
  mkdir -p "$(dirname "$plist")" "$root/Library/Logs/aigate"
  sed -e "s#@PREFIX@#$prefix#g" -e "s#@STATE_DIR@#$state_dir#g" "$here/service/com.aigate.agent.plist" >"$plist.new"
  chmod 0644 "$plist.new"
  [ -z "$root" ] && chown 0:0 "$plist.new"
  mv -f "$plist.new" "$plist"
  if [ -z "$root" ] && [ "$start" = yes ]; then
    # bootout first: an upgrade must load the new release and the new plist.
    launchctl bootout system/com.aigate.agent 2>/dev/null || true
    launchctl bootstrap system "$plist"
    launchctl enable system/com.aigate.agent
    echo "LaunchDaemon com.aigate.agent loaded."
  fi
  logs='/Library/Logs/aigate/agent.log'
  health='sudo launchctl print system/com.aigate.agent'
fi

# Releases other than the current one are kept for a manual rollback; only the last three stay.
if [ -d "$root$prefix/releases" ]; then
  ls -1t "$root$prefix/releases" | grep -vx "$version" | tail -n +3 | while read -r old; do rm -rf "$root$prefix/releases/$old"; done
fi

cat <<DONE
aigate agent $version is installed.
  status:     aigate-agent status            (any user; --json for scripts)
  logs:       $logs
  health:     $health; the server's device list shows its last check-in
  uninstall:  sudo $prefix/current/uninstall.sh   (restores every tool the agent changed)
DONE
