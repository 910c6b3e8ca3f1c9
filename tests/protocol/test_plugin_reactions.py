"""What a real plugin process does with each invalid vector (PROTOCOL.md §1, §3.1, §4).

Both SDKs are run as the kernel runs them — the built-in ``null`` plugin
(Python SDK) and the JavaScript example (Node SDK) — and fed, after a
handshake, the bytes of every invalid vector. The vector's ``reaction`` says
what must happen: an ``InvalidRequest`` answer and a connection that goes
on, or one line on stderr and exit status 3 (at once, or once the stream
ends). Also: ``$/ping`` before ``initialize``, other requests before it, and
EOF at a message boundary versus inside a message.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from certkernel.conformance.wire import RawPlugin, SpawnOptions
from certkernel.plugin_host.manifest import Manifest, load_manifest

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "protocol" / "vectors" / "vectors.json").read_text())["vectors"]
INVALID = [v for v in VECTORS if not v["valid"]]
EXIT_WAIT = 10.0

PLUGINS = ["null", "js-webroot"]


def _manifest(which: str) -> Manifest:
    if which == "null":
        return load_manifest(str(REPO / "plugins" / "null" / "plugin.toml"))
    if shutil.which("node") is None:
        pytest.fail("node is not installed; the Node SDK cannot be checked")
    return load_manifest(str(REPO / "examples" / "js-webroot" / "plugin.toml"))


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    started: list[RawPlugin] = []

    def spawn(which: str) -> RawPlugin:
        home = tempfile.mkdtemp(dir=tmp_path)
        plugin = RawPlugin(_manifest(which), SpawnOptions(cwd=home))
        started.append(plugin)
        return plugin

    yield spawn
    for plugin in started:
        plugin.kill()


def _initialize(plugin: RawPlugin, tmp: str) -> None:
    reply = plugin.call("initialize", {
        "protocol_versions": [1], "kernel_version": "test", "name": plugin.manifest.name,
        "options": {}, "secrets": {}, "settings": {}, "state_dir": tmp, "fds": {}})
    assert reply.error is None, reply.error
    assert reply.result["protocol_version"] == 1


def _offending(data: bytes) -> bytes:
    """What §3.1 says is quoted: up to 64 bytes of the first offending message."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, ext_hook=msgpack.ExtType)
    unpacker.feed(data)
    try:
        unpacker.unpack()
    except Exception:  # noqa: BLE001 - invalid or unfinished: the bytes as they are
        return data[:64]
    return data[: min(64, unpacker.tell())]


def _new_stderr(plugin: RawPlugin, before: int) -> list[str]:
    plugin._stderr_thread.join(2.0)  # noqa: SLF001 - the drain ends with the process
    return [line for line in plugin.stderr_lines[before:] if line.strip()]


@pytest.mark.parametrize("which", PLUGINS)
@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_plugin_reacts_to_invalid_vector(start, tmp_path, which, vector):
    plugin = start(which)
    _initialize(plugin, str(tmp_path))
    before = len(plugin.stderr_lines)
    data = bytes.fromhex(vector["hex"])
    plugin.send_bytes(data)
    if vector["reaction"] == "invalid-request":
        reply = plugin.wait_reply(1, 10.0)
        assert reply.error["type"] == "InvalidRequest"
        assert reply.error["code"] == -32600
        ping = plugin.call("$/ping", {})
        assert (ping.error, ping.result) == (None, {})
        return
    if vector["reaction"] == "violation-at-eof":
        # Nothing can be said until the stream ends: then it is truncation.
        assert plugin.wait_exit(0.5) is None
        plugin.close_stdin()
    assert plugin.wait_exit(EXIT_WAIT) == 3
    plugin.drain_rest()
    lines = _new_stderr(plugin, before)
    assert len(lines) == 1, lines
    assert "protocol" in lines[0].lower()
    # Up to 64 bytes from the offending message's first byte on (§3.1).
    quoted = re.search(r"\(bytes: ([0-9a-f]+)\)", lines[0])
    assert quoted is not None, lines[0]
    assert quoted.group(1).startswith(_offending(data).hex())
    assert data.hex().startswith(quoted.group(1))
    assert not [s for s in plugin.seen if s.kind == 1 and s.obj[1] == 1 and s.obj[2]]


@pytest.mark.parametrize("which", PLUGINS)
def test_ping_is_answered_before_initialize_and_other_requests_refused(start, tmp_path, which):
    plugin = start(which)
    ping = plugin.call("$/ping", {})
    assert (ping.error, ping.result) == (None, {})
    early = plugin.call("prepare", {})
    assert early.error["type"] == "InvalidRequest"
    assert "before initialize" in early.error["message"]
    _initialize(plugin, str(tmp_path))
    again = plugin.call("initialize", {"protocol_versions": [1]})
    assert again.error["type"] == "InvalidRequest"


@pytest.mark.parametrize("which", PLUGINS)
def test_eof_at_a_message_boundary_exits_0(start, tmp_path, which):
    plugin = start(which)
    _initialize(plugin, str(tmp_path))
    plugin.close_stdin()
    assert plugin.wait_exit(EXIT_WAIT) == 0


@pytest.mark.parametrize("which", PLUGINS)
def test_eof_inside_a_message_exits_3_with_one_line(start, tmp_path, which):
    plugin = start(which)
    _initialize(plugin, str(tmp_path))
    before = len(plugin.stderr_lines)
    whole = msgpack.packb([0, 2, "$/ping", []])
    plugin.send_bytes(whole[:-2])
    plugin.close_stdin()
    assert plugin.wait_exit(EXIT_WAIT) == 3
    lines = _new_stderr(plugin, before)
    assert len(lines) == 1, lines
    assert whole[:-2].hex() in lines[0]
