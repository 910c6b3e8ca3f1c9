"""``per_domain = "MAP"`` in a manifest's [[options]]: checked when the manifest loads.

A per-domain option is what lets a third-party plugin have Certbot's ``-w``
behaviour (each value applies to the ``-d`` names after it) without the
kernel knowing the plugin; a wrong declaration is one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certkernel.errors import ConfigurationError
from certkernel.plugin_host.manifest import Manifest, load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[2]


def manifest(*options: dict[str, Any]) -> Manifest:
    return parse_manifest({"name": "tagger", "roles": ["authenticator"], "command": ["x"],
                           "options": list(options)}, Path("/x/plugin.toml"), origin="entry-point")


def test_the_builtin_webroot_declares_path_as_filling_map() -> None:
    webroot = load_manifest(REPO / "plugins" / "webroot")
    assert [(a.name, b.name) for a, b in webroot.per_domain_options] == [("path", "map")]


def test_a_valid_declaration_pairs_the_two_options() -> None:
    m = manifest({"name": "zone", "type": "list", "per_domain": "zones"},
                 {"name": "zones", "type": "map"}, {"name": "other", "type": "list"})
    assert [(a.dest, b.dest) for a, b in m.per_domain_options] == [("tagger_zone", "tagger_zones")]


@pytest.mark.parametrize(("options", "message"), [
    ([{"name": "zone", "type": "str", "per_domain": "zones"}, {"name": "zones", "type": "map"}],
     "option 'zone': per_domain needs a repeatable list option (type = \"list\"), not 'str'"),
    ([{"name": "zone", "type": "list", "repeatable": False, "per_domain": "zones"},
      {"name": "zones", "type": "map"}],
     "option 'zone': per_domain needs a repeatable list option"),
    ([{"name": "zone", "type": "list", "per_domain": "zones"}],
     "per_domain names 'zones', which must be another option of type \"map\""),
    ([{"name": "zone", "type": "list", "per_domain": "zones"}, {"name": "zones", "type": "list"}],
     "per_domain names 'zones', which must be another option of type \"map\""),
    ([{"name": "zone", "type": "list", "per_domain": "zone"}],
     "per_domain names 'zone', which must be another option"),
    ([{"name": "a", "type": "list", "per_domain": "m"}, {"name": "b", "type": "list", "per_domain": "m"},
      {"name": "m", "type": "map"}],
     "option 'b': per_domain: 'm' is already filled by another option"),
])
def test_a_wrong_declaration_is_one_line_naming_the_manifest(
        options: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        manifest(*options)
    text = str(info.value)
    assert text.startswith("plugin manifest /x/plugin.toml: ") and "\n" not in text
    assert message in text


def _sharing(needs: dict[str, Any], roles: tuple[str, ...] = ("authenticator",),
             options: tuple[dict[str, Any], ...] = (
                 {"name": "zone", "type": "list", "per_domain": "zones"},
                 {"name": "zones", "type": "map"})) -> Manifest:
    return parse_manifest({"name": "tagger", "roles": list(roles), "command": ["x"],
                           "options": list(options), "needs": needs},
                          Path("/x/plugin.toml"), origin="entry-point")


def test_per_domain_from_challenge_is_declared_by_webroot_and_off_by_default() -> None:
    assert load_manifest(REPO / "plugins" / "webroot").per_domain_from_challenge is True
    assert _sharing({}).per_domain_from_challenge is False
    assert _sharing({"per_domain_from_challenge": True}).per_domain_from_challenge is True


@pytest.mark.parametrize(("needs", "roles", "options", "message"), [
    ({"per_domain_from_challenge": "yes"}, ("authenticator",), None,
     "[needs] 'per_domain_from_challenge' must be true or false"),
    ({"per_domain_from_challenge": True}, ("authenticator",),
     ({"name": "zone", "type": "list"},),
     "[needs] per_domain_from_challenge = true needs a per_domain option in [[options]]"),
    ({"per_domain_from_challenge": True}, ("authenticator", "installer"), None,
     "[needs] per_domain_from_challenge = true is for authenticators only"),
])
def test_a_wrong_per_domain_from_challenge_is_one_line_naming_the_manifest(
        needs: dict[str, Any], roles: tuple[str, ...],
        options: tuple[dict[str, Any], ...] | None, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _sharing(needs, roles, *([options] if options else []))
    text = str(info.value)
    assert text.startswith("plugin manifest /x/plugin.toml: ") and "\n" not in text
    assert message in text
