#!/usr/bin/env bash
# mypy --strict on the language-neutral parts: certkernel.protocol and
# certkernel.sdk, i.e. the certkernel-sdk distribution. The folders are mapped
# into one namespace at install time, so mypy checks a plain (non-editable)
# install of that distribution.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
sdk=./packaging/certkernel-sdk
"$VENV/bin/pip" install -q --no-deps --no-build-isolation --target "$target" "$sdk" >/dev/null 2>&1 \
  || "$VENV/bin/pip" install -q --no-deps --target "$target" "$sdk" >/dev/null
cd "$target"
"$VENV/bin/mypy" --strict --python-executable "$VENV/bin/python" \
  --follow-imports=silent --ignore-missing-imports \
  -p certkernel.protocol -p certkernel.sdk
