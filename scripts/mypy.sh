#!/usr/bin/env bash
# mypy --strict over the whole certkernel package: the kernel (kernel/), the
# plugin host (plugin-host/), the built-in plugins (plugins/), the protocol
# (protocol/) and the Python SDK (sdk/python).
#
# Why an install and not the checkout: the folders are mapped into one
# `certkernel` namespace only at install time (setup.py's ROOTS), and an
# editable install reaches them through an import hook mypy cannot follow. So
# both distributions are installed, non-editable, into a scratch folder and
# mypy checks that; its messages are mapped back to the checkout's paths.
#
# Why files and --explicit-package-bases and not `-p certkernel`: `certkernel`
# is a PEP 420 namespace package, and when mypy crawls one with -p it takes a
# manifest-only folder (plugins/dns/rfc2136/, holding plugin.toml) for the
# module of the same name (plugins/dns/rfc2136.py), which Python never does.
#
# Third-party stubs (types-requests, types-psutil, msgpack-types, types-boto3)
# come from the `test` extra. Libraries that ship neither types nor stubs carry a
# targeted `# type: ignore[import-untyped]` with a reason where they are imported.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CERTKERNEL_VENV:-/opt/certkernel-venv}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
# One pip run for both: a second `pip install --target` into the same folder
# skips a top-level folder (certkernel/) that is already there.
dists=(./packaging/certkernel-sdk .)
# setuptools reuses a build/ folder left by an earlier install, which would hand
# mypy stale copies of moved or deleted modules: start from none.
rm -rf build packaging/certkernel-sdk/build
"$VENV/bin/pip" install -q --no-deps --no-build-isolation --target "$target" "${dists[@]}" \
    >/dev/null 2>&1 \
  || "$VENV/bin/pip" install -q --no-deps --target "$target" "${dists[@]}" >/dev/null
mapfile -t files < <(cd "$target" && find certkernel -name '*.py' -not -path '*/__pycache__/*' | sort)
status=0
(cd "$target" && "$VENV/bin/mypy" --strict --python-executable "$VENV/bin/python" \
    --cache-dir "$target/.mypy_cache" --explicit-package-bases --warn-unused-configs \
    "${files[@]}") >"$target/mypy.out" 2>&1 || status=$?
# Installed path -> checkout path, most specific first.
sed -e 's#^certkernel/plugin_host/#plugin-host/#' \
    -e 's#^certkernel/plugins/#plugins/#' \
    -e 's#^certkernel/protocol/#protocol/#' \
    -e 's#^certkernel/sdk/#sdk/python/#' \
    -e 's#^certkernel/#kernel/#' "$target/mypy.out"
exit "$status"
