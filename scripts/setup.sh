#!/usr/bin/env bash
# Install everything certkernel and its tests need on a fresh Debian machine:
# system packages (Pebble, nginx, apache2, BIND), a world-readable virtualenv
# with certkernel and its test extras, and the Node SDK's packages.
# Run as root. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
PACKAGES=(pebble nginx apache2 bind9 bind9-utils bind9-dnsutils nodejs npm curl)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# nodejs/npm may come from outside Debian's archive on some machines: accept a working node.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  for attempt in 1 2 3; do
    apt-get -o DPkg::Lock::Timeout=300 update -q && break
    echo "setup: apt-get update failed (attempt $attempt), retrying" >&2
    sleep $((attempt * 5))
  done
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip >/dev/null
"$VENV/bin/pip" install -q -e '.[test,all]'
chmod -R o+rX "$VENV"

if [[ -f sdk/node/package-lock.json ]]; then
  (cd sdk/node && npm ci --silent --no-audit --no-fund)
fi
echo "setup: ready ($VENV)"
