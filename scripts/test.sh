#!/usr/bin/env bash
# Install what is needed (scripts/setup.sh), then run the whole test suite:
# the Python tests (real Pebble, BIND, nginx, apache2 and plugin processes),
# the Node SDK's tests, ruff, vulture and mypy. Run as root on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
export PATH="$VENV/bin:$PATH"

status=0
echo "== pytest"
pytest_log=$(mktemp)
trap 'rm -f "$pytest_log"' EXIT
python -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$pytest_log" || status=1
if [[ -f sdk/node/package.json ]]; then
  echo "== node SDK tests"
  (cd sdk/node && npm test --silent) || status=1
fi
echo "== ruff"
ruff check . || status=1
echo "== vulture (dead code; scripts/vulture_whitelist.py says what it cannot see)"
./scripts/deadcode.sh || status=1
echo "== mypy --strict (kernel, plugin host, plugins, protocol, sdk)"
./scripts/mypy.sh || status=1
# Without ../shared (a fresh clone), the corpus tests skip: say so once, at the end.
corpus_line=$(grep -o 'corpus tests skipped: [^)]*fetch-corpus.py' "$pytest_log" | head -n 1 || true)
if [[ -n "$corpus_line" ]]; then
  echo "== note: $corpus_line"
fi
exit $status
