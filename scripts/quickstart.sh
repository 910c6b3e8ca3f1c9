#!/usr/bin/env bash
# Set everything up and obtain a real certificate from a local Pebble CA:
# installs the packages (scripts/setup.sh), starts Pebble on loopback ports,
# runs `certkernel certonly --standalone`, shows the result, stops Pebble.
# Files land in ./quickstart/ (config, work and logs dirs). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
DOMAIN=${1:-www.example.test}
state=$(mktemp -d)
out=$PWD/quickstart
"$VENV/bin/python" tests/infra/pebble.py --serve --state "$state" >"$state/pebble.log" 2>&1 &
pebble_pid=$!
trap 'kill "$pebble_pid" 2>/dev/null; wait "$pebble_pid" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do [[ -s "$state/pebble.json" ]] && break; sleep 0.1; done
[[ -s "$state/pebble.json" ]] || { cat "$state/pebble.log" >&2; echo "Pebble did not start" >&2; exit 1; }
field() { "$VENV/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$state/pebble.json" "$1"; }

"$VENV/bin/certkernel" certonly --standalone -d "$DOMAIN" \
  --server "$(field directory_url)" --ca-bundle "$(field ca_bundle)" \
  --http-01-port "$(field http01_port)" --http-01-address 127.0.0.1 \
  --config-dir "$out/etc" --work-dir "$out/work" --logs-dir "$out/logs" \
  --agree-tos -m admin@example.test -n --force-renewal
"$VENV/bin/certkernel" certificates --config-dir "$out/etc" --work-dir "$out/work" --logs-dir "$out/logs"
