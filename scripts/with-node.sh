#!/usr/bin/env bash
# Runs a command with a Node.js this project runs on first on PATH, in place of this script (exec: the
# command gets its signals and its parent): the `node` already on PATH when it satisfies package.json's
# `engines.node`, else Node.js 24 from the npm registry (package node-<os>-<arch>, the binary alone),
# installed once with the machine's npm under ${XDG_CACHE_HOME:-~/.cache}/mixpanel-delivery/node24.
# npm itself then runs under it too. `--major N` asks for that major version whatever PATH has (CI).
#
#   scripts/with-node.sh node dist/src/main.js
#   scripts/with-node.sh --major 24 npm test
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exact=""
if [ "${1:-}" = "--major" ]; then
  exact="$2"
  shift 2
fi
major="${exact:-24}" # what gets installed when PATH has nothing suitable
minimum="$(sed -n 's/^ *"node": *">= *\([0-9.]*\)".*/\1/p' "$root/package.json" | head -n 1)"

version_of() { "$1" -p 'process.versions.node' 2>/dev/null || true; }

# suits VERSION: whether a Node.js of this version will do.
suits() {
  local v="$1" want="${exact:-${minimum:-0}}"
  [ -n "$v" ] || return 1
  if [ -n "$exact" ]; then
    [ "${v%%.*}" = "$exact" ]
    return
  fi
  local IFS=.
  # shellcheck disable=SC2206
  local have=($v) need=($want)
  for i in 0 1 2; do
    [ "${have[i]:-0}" -gt "${need[i]:-0}" ] && return 0
    [ "${have[i]:-0}" -lt "${need[i]:-0}" ] && return 1
  done
  return 0
}

current="$(version_of node)"
if ! suits "$current"; then
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os="" ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="" ;; esac
  package="node-$os-$arch"
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/mixpanel-delivery/node$major"
  bin="$cache/node_modules/$package/bin"
  if ! suits "$(version_of "$bin/node")"; then
    need="${exact:+Node.js $exact}"
    need="${need:-Node.js $minimum or later}"
    if [ -z "$os" ] || [ -z "$arch" ]; then
      echo "with-node: this project needs $need (found ${current:-none}); no Node.js package for $(uname -s) $(uname -m) on the npm registry: install one yourself." >&2
      exit 1
    fi
    echo "with-node: this project needs $need (found ${current:-none}); installing Node.js $major ($package) into $cache" >&2
    rm -rf "$cache" && mkdir -p "$cache"
    if ! npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error "$package@$major" >&2 || ! suits "$(version_of "$bin/node")"; then
      echo "with-node: could not install $package@$major from the npm registry: install $need yourself." >&2
      exit 1
    fi
  fi
  export PATH="$bin:$PATH"
fi
exec "$@"
