"""``[needs] serialize``: the manifest, not the plugin's role, decides one-order-at-a-time."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from certkernel import errors
from certkernel.plugin_host.manifest import Manifest, load_manifest, parse_manifest
from certkernel.renewal.renewal_runner import RenewalRunner

REPO = Path(__file__).resolve().parents[2]


def third_party(roles: list[str], needs: dict[str, Any]) -> Manifest:
    return parse_manifest({"name": "acme-thing", "roles": roles, "command": ["x"],
                           "challenges": ["http-01"], "needs": needs},
                          Path("/x/plugin.toml"), origin="entry-point")


def runner(*manifests: Manifest) -> RenewalRunner:
    config = SimpleNamespace(manifests={m.name: m for m in manifests})
    return RenewalRunner(cast(Any, config), cast(Any, None), cast(Any, None),
                         cast(Any, None), store=cast(Any, None))


def test_builtin_server_editing_authenticators_declare_serialize() -> None:
    for name in ("nginx", "apache"):
        assert load_manifest(REPO / "plugins" / name).serialize is True
    for name in ("webroot", "standalone", "manual", "null"):
        assert load_manifest(REPO / "plugins" / name).serialize is False


def test_a_declared_plugin_gets_one_lock_shared_by_every_lineage() -> None:
    run = runner(third_party(["authenticator"], {"serialize": True}))
    first, second = run._serialized("acme-thing"), run._serialized("acme-thing")
    assert isinstance(first, type(threading.Lock()))
    assert first is second


def test_an_installer_that_does_not_declare_it_runs_orders_in_parallel() -> None:
    # The old heuristic serialized every authenticator that was also an installer.
    run = runner(third_party(["authenticator", "installer"], {}))
    assert isinstance(run._serialized("acme-thing"), nullcontext)


def test_a_non_boolean_serialize_is_one_clear_error() -> None:
    with pytest.raises(errors.ConfigurationError, match=r"\[needs\] 'serialize' must be true or false"):
        third_party(["authenticator"], {"serialize": "yes"})
