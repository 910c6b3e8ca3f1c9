"""Attack 5 of issue 12: a plugin floods the log and the terminal, or drives the terminal.

The victims are the disk (``letsencrypt.log`` must stay under the per-run
cap, with one line saying how much was dropped) and root's terminal and
log reader (no escape sequence, control character or fake kernel line from
a plugin reaches them raw). Both attacks run as a real plugin process under
the sandbox user, through ``$/log``, stderr, ``$/progress`` and
``display/notification``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from certkernel.plugin_host.process import LOG_CAP
from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import Kernel
from tests.infra.sandbox_run import common
from tests.sandbox import attack_env

FLOOD_MIB = 24
MIB = 1024 * 1024
# What the plugin sends: FLOOD_MIB messages of 1 MiB, and per MiB 256 stderr
# lines of 4000 characters (plus newline), 1 MiB of distinct $/progress lines
# and 1 MiB of display/notification text.
SENT = FLOOD_MIB * MIB + FLOOD_MIB * 256 * 4000 + 2 * FLOOD_MIB * MIB


@pytest.fixture(scope="module")
def attack(kernel: Kernel, sandbox_user: str) -> dict[str, str]:
    return attack_env.install(kernel.root, "xdg-attack-output",
                              attack_env.manifest("attack", sandbox_user))


def log_of(dirs: list[str]) -> Path:
    return Path(dirs[5]) / "letsencrypt.log"


def test_log_flood_is_capped_per_run_with_one_line_saying_how_much_was_dropped(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, attack: dict[str, str]) -> None:
    dirs = kernel.dirs("attack-flood")
    result = kernel.run("certonly", "-a", "attack", "--attack-mode", "flood",
                        "--attack-flood-mib", str(FLOOD_MIB), "-d", "flood.example.org",
                        "--http-01-port", str(attack_env.free_port()),
                        "--http-01-address", "127.0.0.1", *dirs, *common(pebble),
                        timeout=600, **attack)
    assert result.returncode == 1
    assert "attack: flood finished" in result.stderr
    size = log_of(dirs).stat().st_size
    assert size < LOG_CAP + MIB, f"letsencrypt.log grew to {size} bytes"
    assert len(result.stderr) < LOG_CAP + MIB
    assert len(result.stdout) < LOG_CAP + MIB, "progress and notices count against the cap too"
    text = log_of(dirs).read_text()
    lines = re.findall(r"plugin attack: dropped (\d+) bytes of its log output", text)
    assert len(lines) == 1, lines
    dropped = int(lines[0])
    assert SENT - LOG_CAP - MIB <= dropped <= SENT - LOG_CAP


RAW = ["\x1b", "\x9b", "\x9d", "\x9c", "\x07", "\r"]
PAYLOADS = ["pwned-title", "cHduZWQtY2xpcGJvYXJk", "c1-title"]


def test_escape_sequences_and_fake_lines_never_reach_terminal_or_log_raw(
        kernel: Kernel, sandbox_user: str, pebble: Pebble, attack: dict[str, str]) -> None:
    dirs = kernel.dirs("attack-escapes")
    result = kernel.run("certonly", "-a", "attack", "--attack-mode", "escapes",
                        "-d", "escapes.example.org", "--http-01-port",
                        str(attack_env.free_port()), "--http-01-address", "127.0.0.1",
                        *dirs, *common(pebble), **attack)
    assert result.returncode == 1
    assert "attack: escapes finished" in result.stderr
    log = log_of(dirs).read_text()
    # The plugin's words still arrive, cleaned: the attack was delivered.
    assert "noticeAll good: certificate issued" in result.stdout
    assert "[attack] logAll good: certificate issued" in result.stderr
    assert "[attack] stderrAll good: certificate issued" in log
    assert "[attack] All good: nothing to see" in log
    for where, text in (("terminal stdout", result.stdout), ("terminal stderr", result.stderr),
                        ("letsencrypt.log", log)):
        for raw in RAW:
            assert raw not in text, f"{raw!r} reached the {where}"
        for payload in PAYLOADS:
            assert payload not in text, f"{payload!r} reached the {where}"
    for where, text in (("terminal stderr", result.stderr), ("letsencrypt.log", log)):
        fakes = [line for line in text.splitlines() if line.startswith("All good")]
        assert fakes == [], f"a plugin line posed as the kernel's in the {where}"
