#!/usr/bin/env bash
# Dead code: vulture over the production code (and the scripts that call it).
# 60% is vulture's lowest confidence: it is the only level that reports unused
# functions, classes, methods and attributes; what vulture cannot see being used
# (names called by a library, entry points, public API) is listed, with the
# reason, in scripts/vulture_whitelist.py.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
exec "$VENV/bin/vulture" --min-confidence 60 \
  kernel plugin-host plugins protocol sdk/python scripts
