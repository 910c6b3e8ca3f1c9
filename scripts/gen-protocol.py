#!/usr/bin/env python3
"""Write the method tables of PROTOCOL.md §5 and the wire types of the Node SDK from the registry.

    python scripts/gen-protocol.py            # rewrite the generated blocks
    python scripts/gen-protocol.py --check    # exit 1 if a committed block is stale

The registry is ``protocol/methods.py``; types are written with
``protocol/wire_codec.py``'s ``describe``. Each generated block sits between a
``BEGIN GENERATED <block>`` and an ``END GENERATED <block>`` marker; the
prose around the blocks is written by hand and never touched. Run this after
adding or changing a method or a field; ``tests/protocol/test_registry.py``
fails while a block is stale, and compares the hand-written prose, the
vectors and both SDKs with the registry.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from certkernel.protocol import methods as wire
from certkernel.protocol.messages import Challenge, LineageInfo
from certkernel.protocol.wire_codec import Wire, describe, fields_of

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_MD = ROOT / "protocol" / "PROTOCOL.md"
INDEX_D_TS = ROOT / "sdk" / "node" / "lib" / "index.d.ts"


def _default_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def signature(cls: type[Wire], *, full: bool = False) -> str:
    """``{a, b?, c: [str]}``: the spec's notation for a map's fields.

    Compact form: a plain name is a required string, ``?`` marks an optional
    field, other types follow a colon. ``full`` spells every type and the
    default an absent optional field takes.
    """
    parts = []
    for f in cls.wire_fields():
        name = f.name + ("" if f.required else "?")
        kind = f.wire_type()
        text = name if (kind == "str" and not full) else f"{name}: {kind}"
        if full and not f.required and f.default is not None:
            text += f" = {_default_text(f.default)}"
        parts.append(text)
    return "{" + ", ".join(parts) + "}"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def deadlines_table() -> list[str]:
    groups: dict[float, list[str]] = {}
    for m in wire.METHODS.values():
        if m.kind == "request" and m.deadline is not None:
            groups.setdefault(m.deadline, []).append(m.name)
    rows = ["| method | default deadline |", "|---|---|"]
    for seconds, names in sorted(groups.items()):
        rows.append(f"| {', '.join(f'`{n}`' for n in names)} | {_seconds(seconds)} |")
    rows.append(f"| every other request | {_seconds(wire.DEFAULT_DEADLINE)} |")
    return rows


def _result(m: wire.Method) -> str:
    assert m.result is not None
    return f"`{signature(m.result)}`"


def section_table(section: str) -> list[str]:
    """The method | params | result table of one subsection (5.3, 5.4)."""
    rows = ["| method | params | result |", "|---|---|---|"]
    for m in wire.METHODS.values():
        if m.section != section:
            continue
        notes = [m.doc] if m.doc else []
        if m.capability:
            notes.append(f"capability `{m.capability}`")
        result = _result(m) + (f": {'; '.join(notes)}" if notes else "")
        rows.append(f"| `{m.name}` | `{signature(m.params)}` | {result} |")
    return rows


def index_table() -> list[str]:
    """Every method with its full field types and defaults (§5.6)."""
    rows = ["| method | kind | sender | § | params | result | deadline |",
            "|---|---|---|---|---|---|---|"]
    for m in wire.METHODS.values():
        result = f"`{signature(m.result, full=True)}`" if m.result is not None else "—"
        deadline = _seconds(m.default_deadline) if m.default_deadline is not None else "—"
        sender = {wire.KERNEL_TO_PLUGIN: "kernel", wire.PLUGIN_TO_KERNEL: "plugin",
                  wire.EITHER: "either"}[m.direction]
        rows.append(f"| `{m.name}` | {m.kind} | {sender} | {m.section} | "
                    f"`{signature(m.params, full=True)}` | {result} | {deadline} |")
    return rows


def _ts_map(cls: type) -> str:
    fields = []
    for f in fields_of(cls):
        optional = "" if f.required else "?"
        fields.append(f"{f.name}{optional}: {describe(f.type, 'ts')}")
    return "{ " + "; ".join(fields) + " }" if fields else "Record<string, never>"


def ts_block() -> list[str]:
    lines = [
        "/** A challenge map exactly as it travels (PROTOCOL.md §5.2). */",
        f"export interface WireChallenge {_ts_map(Challenge)}",
        "/** A lineage map exactly as it travels (PROTOCOL.md §5.3). */",
        f"export interface WireLineage {_ts_map(LineageInfo)}",
        "/**",
        " * Every protocol method: its params and result maps field for field,",
        " * snake_case as on the wire (PROTOCOL.md §4-§5; `Kernel.call` takes these).",
        " */",
        "export interface WireMethods {",
    ]
    for m in wire.METHODS.values():
        result = _ts_map(m.result) if m.result is not None else "null"
        deadline = m.default_deadline if m.default_deadline is not None else "null"
        lines += [
            f"  '{m.name}': {{",
            f"    kind: '{m.kind}';",
            f"    direction: '{m.direction}';",
            f"    params: {_ts_map(m.params)};",
            f"    result: {result};",
            f"    deadlineSeconds: {deadline if isinstance(deadline, str) else f'{deadline:g}'};",
            "  };",
        ]
    lines.append("}")
    return lines


MD_BLOCKS: dict[str, Callable[[], list[str]]] = {
    "deadlines": deadlines_table,
    "methods-5.3": lambda: section_table("5.3"),
    "methods-5.4": lambda: section_table("5.4"),
    "method-index": index_table,
}
TS_BLOCKS: dict[str, Callable[[], list[str]]] = {"wire-types": ts_block}


def _fill(text: str, blocks: dict[str, Callable[[], list[str]]], begin: str, end: str,
          path: Path) -> str:
    for name, render in blocks.items():
        pattern = re.compile(
            rf"(^{re.escape(begin.format(name))}[^\n]*\n)(.*?)(^{re.escape(end.format(name))})",
            re.M | re.S)
        if not pattern.search(text):
            raise SystemExit(f"{path}: no generated block {name!r} "
                             f"(expected a line starting {begin.format(name)!r})")
        body = "\n".join(render()) + "\n"
        text = pattern.sub(lambda m, b=body: m.group(1) + b + m.group(3), text, count=1)
    return text


def targets() -> Iterable[tuple[Path, str]]:
    """Each generated file with the text it must have."""
    md = PROTOCOL_MD.read_text(encoding="utf-8")
    yield PROTOCOL_MD, _fill(md, MD_BLOCKS, "<!-- BEGIN GENERATED {}", "<!-- END GENERATED {}",
                             PROTOCOL_MD)
    ts = INDEX_D_TS.read_text(encoding="utf-8")
    yield INDEX_D_TS, _fill(ts, TS_BLOCKS, "// BEGIN GENERATED {}", "// END GENERATED {}",
                            INDEX_D_TS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a generated block differs from the registry")
    args = parser.parse_args(argv)
    stale = []
    for path, text in targets():
        if path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale generated blocks in {', '.join(map(str, stale))}: "
              "run python scripts/gen-protocol.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
