"""The method registry (protocol/methods.py) against every other place the wire is written.

This file: the registry's rules, the generated blocks, the spec's prose and the
vectors; test_registry_sdks.py: the Python and Node SDKs' signatures;
test_registry_cases.py: registry-derived cases run through the real code.

How a field added in one place and not the others fails here:
- added to the registry only: the generated blocks go stale
  (``test_generated_blocks_are_fresh``), the spec's prose lacks it
  (``test_spec_prose_names_the_registry_fields``), the SDKs' signatures lack
  it (``test_python_*_signatures``, ``test_node_declarations_*``), and the
  case runs find a required field nobody checks or sends
  (``test_sdk_servers_follow_the_registry``, ``test_kernel_handles_send_every_field``);
- added to PROTOCOL.md's prose or to index.d.ts by hand only: the same
  comparisons fail from the other side;
- added to a vector only: ``test_vectors_match_the_registry`` (strict: every
  field of a vector must be declared);
- added to the kernel's services, the Python SDK or the Node SDK's dispatch,
  initialize or kernel handle only: the case runs above and
  ``test_kernel_services_follow_the_registry`` (a field one side requires and
  the registry does not declare makes the registry-shaped call fail).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import WireError, fields_of
from tests.protocol.registry_common import (
    REPO,
    SPEC,
    names,
)

# -- the registry's own rules ---------------------------------------------------------


def test_deadlines_come_from_the_registry() -> None:
    from certkernel.plugin_host import process

    assert process.DEFAULT_TIMEOUTS["perform"] == wire.METHODS["perform"].deadline == 300.0
    assert wire.deadline("storage/get") == process.DEFAULT_TIMEOUT == 60.0


# -- the generated blocks ------------------------------------------------------


def test_generated_blocks_are_fresh() -> None:
    """PROTOCOL.md §5's tables and index.d.ts's wire types are what the registry renders."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-protocol.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_generated_index_lists_every_method_and_field() -> None:
    """The §5.6 index has one row per registry method, naming each field."""
    text = SPEC.read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN GENERATED method-index", 1)[1].split("<!-- END", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", block, re.M)}
    assert list(rows) == list(wire.METHODS)
    for m in wire.METHODS.values():
        for field in names(m.params) + names(m.result):
            assert re.search(rf"[{{ ]{re.escape(field)}\??:", rows[m.name]), (m.name, field)


# -- the spec's hand-written prose -------------------------------------------------

# `method` (request, kernel → plugin) `{a, b?}` → `{c}`; either map may be missing.
_SIGNATURE = re.compile(
    r"`(?P<method>[$\w/]+)`(?: \((?P<paren>[^)]*)\))?"
    r"(?: `(?P<params>\{[^`]*\})`)?(?:[^`\n]{0,3}→ `(?P<result>\{[^`]*\})`)?")


def _split_fields(sig: str) -> list[str]:
    """``{a, b?: [x, ...], c}`` -> ``["a", "b", "c"]`` (top-level names only)."""
    inner, depth, parts, current = sig.strip()[1:-1], 0, [], ""
    for char in inner:
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    found = []
    for part in parts:
        match = re.match(r"\s*(\w+)", part)
        if match:
            found.append(match.group(1))
    return found


def _prose() -> str:
    """§4-§5 of the spec without the generated blocks, paragraphs joined into lines."""
    text = SPEC.read_text(encoding="utf-8")
    text = text[text.index("## 4. Lifecycle"):text.index("## 6. Errors")]
    text = re.sub(r"<!-- BEGIN GENERATED.*?<!-- END GENERATED[^\n]*\n", "", text, flags=re.S)
    return re.sub(r"\n(?=[ \t]+\S)", " ", text).replace("  ", " ")


def _table_after(text: str, anchor: str) -> dict[str, str]:
    """``{name: type}`` of the first ``| `name` | type | ...`` table after ``anchor``."""
    start = text.index(anchor)
    rows: dict[str, str] = {}
    for line in text[start:].splitlines()[1:]:
        match = re.match(r"\| `(\w+)` \| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
        elif rows and not line.startswith("|"):
            break
    return rows


Signature = tuple[list[str] | None, list[str] | None, str | None]


def _prose_signatures() -> dict[str, list[Signature]]:
    found: dict[str, list[Signature]] = {}
    for match in _SIGNATURE.finditer(_prose()):
        name = match.group("method")
        if name not in wire.METHODS or not (match.group("params") or match.group("result")
                                           or match.group("paren")):
            continue
        params = match.group("params")
        result = match.group("result")
        found.setdefault(name, []).append(
            (_split_fields(params) if params else None, _split_fields(result) if result else None,
             match.group("paren")))
    return found


_GENERATED_SECTIONS = {"5.3", "5.4"}
_TABLE_DOCUMENTED = {"initialize"}


@pytest.mark.parametrize("method", [
    m for m in wire.METHODS.values()
    if m.section not in _GENERATED_SECTIONS and m.name not in _TABLE_DOCUMENTED
], ids=lambda m: m.name)
def test_spec_prose_names_the_registry_fields(method: wire.Method) -> None:
    """Every method outside the generated tables is written in the prose with the same fields."""
    seen = _prose_signatures().get(method.name)
    assert seen, f"PROTOCOL.md §4-§5 never gives the signature of {method.name}"
    for params, result, paren in seen:
        if paren:  # "(request, kernel → plugin)": the kind, then the direction if given
            kind, _, direction = paren.partition(", ")
            assert kind == method.kind, f"{method.name} is a {method.kind} in the registry"
            assert direction in ("", method.direction), f"{method.name} is sent {method.direction}"
        if params is not None:
            assert params == names(method.params), f"{method.name} params in PROTOCOL.md"
        if result is not None:
            assert result == names(method.result), f"{method.name} result in PROTOCOL.md"


def test_spec_initialize_tables_match_the_registry() -> None:
    prose = _prose()
    section = prose[prose.index("### `initialize`"):prose.index("### `prepare`")]
    assert list(_table_after(section, "| param |")) == names(wire.InitializeParams)
    assert list(_table_after(section, "Result:")) == names(wire.InitializeResult)


def test_spec_challenge_and_lineage_maps_match_the_registry() -> None:
    prose = _prose()
    challenge = _table_after(prose, "A **challenge** is a map")
    assert sorted(challenge) == sorted(names(Challenge))
    for field in fields_of(Challenge):
        assert challenge[field.name] == field.wire_type(), field.name
    lineage = re.search(r"A \*\*lineage\*\* is a map `(\{[^`]*\})`", prose)
    assert lineage is not None
    assert _split_fields(lineage.group(1)) == names(LineageInfo)


# -- the vectors ---------------------------------------------------------------------

_VECTORS = json.loads((REPO / "protocol" / "vectors" / "vectors.json").read_text())["vectors"]
_REQUESTS = {v["name"]: v["decoded"][2] for v in _VECTORS
             if v.get("valid") and v.get("kind") == "request"}


def _vector_calls() -> list[tuple[str, str, Any, bool]]:
    """(vector, method, map, is_result) for every valid vector that carries a method's map."""
    calls = []
    for v in _VECTORS:
        if not v.get("valid"):
            continue
        decoded = v["decoded"]
        if v["kind"] == "request" and decoded[2] in wire.METHODS:
            calls.append((v["name"], decoded[2], decoded[3][0] if decoded[3] else {}, False))
        elif v["kind"] == "notification" and decoded[1] in wire.METHODS:
            calls.append((v["name"], decoded[1], decoded[2][0] if decoded[2] else {}, False))
        elif v["kind"] == "response" and decoded[2] is None and v["name"].endswith("-result"):
            base = v["name"].removesuffix("-result")
            name = _REQUESTS.get(base) or base.replace("-", "_").replace("display_", "display/")
            if name in wire.METHODS:
                calls.append((v["name"], name, decoded[3], True))
    return calls


def test_vectors_cover_each_kind_of_map() -> None:
    """The comparison below is not vacuous: requests, notifications and results are all seen."""
    calls = _vector_calls()
    assert {c[1] for c in calls if not c[3]} >= {"initialize", "perform", "$/log", "$/cancel",
                                                 "display/menu", "checkpoint/add", "save"}
    assert {c[1] for c in calls if c[3]} >= {"initialize", "get_chall_pref", "display/input"}


@pytest.mark.parametrize("vector,method,data,is_result", _vector_calls(),
                         ids=[c[0] for c in _vector_calls()])
def test_vectors_match_the_registry(vector: str, method: str, data: Any, is_result: bool) -> None:
    """Every field of every vector is declared, every required field present, every type right."""
    if vector == "unknown-fields-ignored":  # the one vector about a field nobody declares
        wire.decode_params(method, data)
        with pytest.raises(WireError, match="unknown field 'future_field'"):
            wire.check_strict(method, data)
        return
    wire.check_strict(method, data, result=is_result)
