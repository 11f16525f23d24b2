#!/usr/bin/env bash
# Shared set-up for the quick-start commands: system packages, a virtualenv, the project.
# Sourced by scripts/demo and scripts/test; safe to run again (each step checks first).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MUSICCONNECT_VENV:-$repo/.venv}"

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [ "${MUSICCONNECT_WITH_SERVERS:-0}" = 1 ]; then
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  # The stream bench drives the API with wrk; the browser tests drive the web app in chromium.
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)
  # Live sessions: nginx with Debian's RTMP module takes the pushes (the suite runs it unprivileged).
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need_apt+=(libnginx-mod-rtmp)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${need_apt[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "!! please install: ${need_apt[*]} (no apt-get here)" >&2
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating virtualenv $venv"
  python3 -m venv "$venv"
fi
# PEP 735 dependency groups need pip >= 25.1.
"$venv/bin/python" -m pip install -q --upgrade "pip>=25.1"
echo "==> installing Music Connect${1:+ with groups: $*}"
groups=()
for g in "$@"; do groups+=(--group "$g"); done
"$venv/bin/python" -m pip install -q -e "$repo" "${groups[@]}"
# The web app's browser packages (hls.js, chart.js; axe-core for its test), from package-lock.json.
web_packages_missing=0
for package in hls.js chart.js axe-core; do
  [ -f "$repo/node_modules/$package/package.json" ] || web_packages_missing=1
done
if [ "$web_packages_missing" = 1 ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "==> installing browser packages (npm ci)"
    (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "!! npm is missing: the web pages will play and chart nothing until 'npm ci' runs" >&2
  fi
fi
export PATH="$venv/bin:$PATH"
