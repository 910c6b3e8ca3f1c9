#!/usr/bin/env bash
# Install what is needed (scripts/setup.sh), then run the whole test suite:
# the Python tests (real Pebble, BIND, nginx, apache2 and plugin processes),
# the Node SDK's tests, ruff and mypy. Run as root on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
export PATH="$VENV/bin:$PATH"

status=0
echo "== pytest"
python -m pytest -q -p no:cacheprovider "$@" || status=1
if [[ -f sdk/node/package.json ]]; then
  echo "== node SDK tests"
  (cd sdk/node && npm test --silent) || status=1
fi
echo "== ruff"
ruff check . || status=1
echo "== mypy --strict (protocol, sdk)"
./scripts/mypy.sh || status=1
exit $status
