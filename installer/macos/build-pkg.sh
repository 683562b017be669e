#!/bin/sh
# Build a macOS installer package from the darwin agent tarball (run on a Mac with Xcode's
# command line tools): ./build-pkg.sh aigate-agent-<version>-darwin.tar.gz [--sign "Developer ID Installer: ..."]
# Then notarize it (xcrun notarytool submit ... --wait) before deploying it with an MDM.
set -eu
[ $# -ge 1 ] || { echo "usage: build-pkg.sh AGENT_TARBALL [--sign IDENTITY]" >&2; exit 2; }
tarball=$1; shift
sign=''
[ "${1:-}" = --sign ] && sign=${2:?--sign needs an identity}
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/opt/aigate/package"
tar -xzf "$tarball" -C "$work/root/opt/aigate/package" --strip-components 1
version=$(cat "$work/root/opt/aigate/package/VERSION")
set -- --root "$work/root" --identifier com.aigate.agent --version "$version" --scripts "$here/pkg/scripts" --install-location /
[ -n "$sign" ] && set -- "$@" --sign "$sign"
pkgbuild "$@" "aigate-agent-$version.pkg"
echo "built aigate-agent-$version.pkg"
