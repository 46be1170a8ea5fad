#!/usr/bin/env bash
# Installs Debian's tmux for the terminal demo's test when it is missing (as root; CI runs as root).
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "tmux is missing: install Debian's tmux package (apt-get install tmux)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends tmux >/dev/null
command -v tmux
