"""What the registry tests share: where the spec and the Node SDK live, the
kernel-to-plugin and plugin-to-kernel requests, field names."""

from __future__ import annotations

from pathlib import Path

from certkernel.protocol import methods as wire
from certkernel.protocol.wire_codec import fields_of

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "protocol" / "PROTOCOL.md"
INDEX_D_TS = REPO / "sdk" / "node" / "lib" / "index.d.ts"
NODE_LIB = REPO / "sdk" / "node" / "lib"

K2P_REQUESTS = [m for m in wire.METHODS.values()
                if m.kind == "request" and m.direction == wire.KERNEL_TO_PLUGIN]
P2K_REQUESTS = [m for m in wire.METHODS.values()
                if m.kind == "request" and m.direction == wire.PLUGIN_TO_KERNEL]


def names(cls: type | None) -> list[str]:
    return [f.name for f in fields_of(cls)] if cls is not None else []


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def kernel_method(name: str) -> str:
    """The SDK kernel handle's Python method for a plugin → kernel method."""
    special = {"display/notification": "show_message", "$/log": "log", "$/progress": "progress"}
    if name in special:
        return special[name]
    group, _, rest = name.partition("/")
    return rest if group == "display" else f"{group}_{rest}"


P2K_SENT = [m for m in wire.METHODS.values() if m.direction == wire.PLUGIN_TO_KERNEL]
