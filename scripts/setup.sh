#!/usr/bin/env bash
# Install everything certkernel and its tests need on a fresh Debian machine:
# system packages (Pebble, nginx, apache2, BIND, PostgreSQL, haproxy, faketime for fleet mode), a world-readable virtualenv
# with certkernel-sdk, certkernel and its test extras, and the Node SDK's packages.
# Run as root. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
PACKAGES=(pebble nginx apache2 bind9 bind9-utils bind9-dnsutils nodejs npm curl postgresql haproxy faketime)

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

# When certkernel runs as root, plugins that need no root run as an
# unprivileged account with this virtualenv's interpreter and this checkout's
# code, so both must be usable by users other than root. A Python under /root
# (pyenv) is not: then the virtualenv is built from the system's Python.
usable_by_others() {  # PYTHON [import]: can uid/gid 65534 (nobody) run it and read its files?
  local real
  real=$(readlink -f "$1") || return 1
  setpriv --reuid=65534 --regid=65534 --clear-groups -- "$1" -c \
    "import os, sys${2:+, $2}; open('$real', 'rb').close(); os.listdir(os.path.dirname(os.__file__))" \
    </dev/null >/dev/null 2>&1
}
base_python() {
  local candidate
  for candidate in "$(command -v python3 || true)" \
      "/usr/bin/python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
      /usr/bin/python3; do
    if [[ -n "$candidate" && -x "$candidate" ]] && usable_by_others "$candidate"; then
      echo "$candidate"; return 0
    fi
  done
  echo "setup: no Python here can be run by an unprivileged user; install python3 outside /root" >&2
  return 1
}
if [[ -x "$VENV/bin/python" ]] && ! usable_by_others "$VENV/bin/python"; then
  echo "setup: $VENV/bin/python cannot be run by unprivileged users (plugins run as one);" \
       "rebuilding $VENV from a system Python"
  "$(base_python)" -m venv --clear "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  "$(base_python)" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip >/dev/null
# Two distributions from this checkout, both editable: certkernel-sdk (the
# protocol and the Python SDK, packaging/certkernel-sdk) first, because
# certkernel depends on it and it is on no index.
"$VENV/bin/pip" install -q -e ./packaging/certkernel-sdk
"$VENV/bin/pip" install -q -e '.[test,all]'
chmod -R o+rX "$VENV"
# The editable install points at this checkout: every folder above it must let
# other users through (o+x; not listing) or plugins cannot import certkernel.
dir=$(pwd -P)
while [[ "$dir" != "/" ]]; do
  dir=$(dirname "$dir")
  if [[ $(( 0$(stat -c %a "$dir") & 01 )) -eq 0 ]]; then
    chmod o+x "$dir"
    echo "setup: made $dir traversable by other users (chmod o+x) so plugins running as" \
         "an unprivileged account can read certkernel's code in $(pwd -P)"
  fi
done
if ! (cd / && usable_by_others "$VENV/bin/python" certkernel.sdk); then
  echo "setup: an unprivileged user cannot import certkernel from $VENV; make $(pwd -P)" \
       "readable by others (chmod -R o+rX) or clone it elsewhere" >&2
  exit 1
fi

if [[ -f sdk/node/package-lock.json ]]; then
  (cd sdk/node && npm ci --silent --no-audit --no-fund)
fi
echo "setup: ready ($VENV)"
