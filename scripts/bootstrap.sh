#!/usr/bin/env bash
# Install what Vigil needs on a Debian machine (as root), idempotently:
# the servers and tools from apt, and a .venv with the project and its dev dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
APT_PACKAGES=(mosquitto influxdb ffmpeg chromium fonts-wqy-zenhei docker-compose)  # docker-compose: only to validate docker-compose.yml in the tests
# A stock Debian python3 lacks venv/ensurepip until python3-venv is installed.
"$PY" -c "import ensurepip, venv" 2>/dev/null || APT_PACKAGES+=(python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The Debian packages start their own services on the default ports; Vigil runs its own instances.
for svc in mosquitto influxdb; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.vigil-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  echo "$want" >"$stamp"
fi
