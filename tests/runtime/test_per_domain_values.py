"""What each challenge carries in ``per_domain`` (PROTOCOL.md §8), from one lineage's options."""

from __future__ import annotations

from pathlib import Path

from certkernel.plugin_host.manifest import load_manifest
from certkernel.protocol.messages import Challenge
from certkernel.runtime.per_domain_values import PerDomainValues

REPO = Path(__file__).resolve().parents[2]
WEBROOT = load_manifest(REPO / "plugins" / "webroot")


def chall(name: str, wildcard: bool = False) -> Challenge:
    return Challenge(identifier=name, type="http-01", token="t", key_authorization="t.k",
                     validation="t.k", wildcard=wildcard)


def test_the_lineage_entry_else_the_last_value_as_on_the_command_line() -> None:
    values = PerDomainValues.of(WEBROOT, {"path": ["/w/first", "/w/last"],
                                          "map": {"A.example, b.example": "/w/ab",
                                                  "*.w.example": "/w/wild"}})
    assert values is not None
    found = [c.per_domain for c in values.attach(
        [chall("a.example"), chall("B.EXAMPLE"), chall("w.example", wildcard=True),
         chall("other.example")])]
    assert found == [{"map": "/w/ab"}, {"map": "/w/ab"}, {"map": "/w/wild"},
                     {"map": "/w/last"}]


def test_no_value_is_an_empty_field_not_an_absent_one() -> None:
    # Absent would tell the plugin "older kernel: use your options", which may
    # hold another lineage's map; {} says this lineage gave nothing for the name.
    values = PerDomainValues.of(WEBROOT, {"path": [], "map": {}})
    assert values is not None
    assert [c.per_domain for c in values.attach([chall("a.example")])] == [{}]


def test_a_plugin_without_per_domain_options_gets_no_field() -> None:
    standalone = load_manifest(REPO / "plugins" / "standalone")
    assert PerDomainValues.of(standalone, {}) is None
    assert "per_domain" not in chall("a.example").to_wire()
