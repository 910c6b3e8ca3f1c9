"""``[needs] changes_nothing``: the manifest, not the name "null", says an installer deploys nowhere."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from certkernel import errors
from certkernel.flows.deploy_flow import congratulate
from certkernel.plugin_host.manifest import Manifest, load_manifest, parse_manifest
from certkernel.runtime.deploy import changes_nothing, installer_locked

REPO = Path(__file__).resolve().parents[2]


def installer(name: str, needs: dict[str, Any]) -> Manifest:
    return parse_manifest({"name": name, "roles": ["installer"], "command": ["x"],
                           "needs": needs}, Path("/x/plugin.toml"), origin="entry-point")


def config(*manifests: Manifest) -> Any:
    return cast(Any, SimpleNamespace(manifests={m.name: m for m in manifests},
                                     https_port=443, quiet=False))


def test_only_the_builtin_null_installer_declares_it() -> None:
    assert load_manifest(REPO / "plugins" / "null").changes_nothing is True
    for name in ("nginx", "apache", "webroot", "standalone", "manual"):
        assert load_manifest(REPO / "plugins" / name).changes_nothing is False


def test_a_third_party_declaration_is_honoured_and_the_name_null_means_nothing() -> None:
    cfg = config(installer("keep-here", {"changes_nothing": True}),
                 installer("null", {}))
    assert changes_nothing(cfg, "keep-here") is True
    assert isinstance(installer_locked(cfg, "keep-here"), nullcontext)
    # A plugin merely called "null" that does not declare it is an ordinary installer.
    assert changes_nothing(cfg, "null") is False
    # No installer at all (Certbot writes installer = None) changes nothing either.
    assert changes_nothing(cfg, "None") is True
    # An installer the kernel has no manifest for is assumed to change something.
    assert changes_nothing(cfg, "unknown") is False


def test_no_https_congratulations_for_an_installer_that_changes_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(installer("keep-here", {"changes_nothing": True}), installer("other", {}))
    congratulate(cfg, "keep-here", ["a.example"])
    captured = capsys.readouterr()
    assert "Congratulations" not in captured.out + captured.err
    congratulate(cfg, "other", ["a.example"])
    captured = capsys.readouterr()
    assert "https://a.example" in captured.out + captured.err


def test_a_non_boolean_declaration_is_one_clear_error() -> None:
    with pytest.raises(errors.ConfigurationError,
                       match=r"\[needs\] 'changes_nothing' must be true or false"):
        installer("keep-here", {"changes_nothing": 1})


def test_run_without_an_installer_falls_back_to_the_declared_one_not_to_a_name() -> None:
    from certkernel.runtime.plugin_runtime import chosen_plugins

    def run_with(*manifests: Manifest) -> tuple[str | None, str | None]:
        cfg = SimpleNamespace(authenticator="auth", configurator=None, installer=None,
                              manifests={m.name: m for m in manifests})
        return chosen_plugins(cast(Any, cfg), "run")

    assert run_with(installer("keep-here", {"changes_nothing": True}),
                    installer("other", {})) == ("auth", "keep-here")
    # A plugin called "null" that does not declare it is not a place to keep certificates.
    with pytest.raises(errors.MissingFlag, match=r"choose an installer \(-i NAME\)"):
        run_with(installer("null", {}))
