"""Every command block of the user guide runs, so the docs cannot rot.

A block fenced as ```` ```sh runnable ```` runs with ``bash -euo pipefail``;
the blocks of one page run in order in one fresh folder (a page is a
session), against the session's Pebble.  A per-user cli.ini points certkernel
at Pebble and at temporary config/work/logs folders, so the commands in the
docs are the ones a user types.  ``CERTKERNEL_SCHEDULE_ROOT`` keeps
``certkernel schedule`` off this machine.  Every other ``sh`` block must say
``no-run: why``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# Pages of other rooms (design notes, the plugin tutorial) are not part of the user guide.
NOT_GUIDE = {"internals.md", "security.md", "write-a-plugin.md"}
FENCE = re.compile(r"^```sh(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
BLOCK_TIMEOUT = 300


def guide_pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.name not in NOT_GUIDE)


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group("info").strip(), m.group("body")) for m in FENCE.finditer(page.read_text())]


def test_every_sh_block_is_runnable_or_says_why_not() -> None:
    pages = guide_pages()
    assert len(pages) >= 10
    for page in pages:
        for info, _body in blocks(page):
            assert info == "runnable" or re.fullmatch(r"no-run: \S.*", info), \
                f"{page.name}: ```sh {info}"
        if page.name != "README.md":
            assert any(info == "runnable" for info, _ in blocks(page)), \
                f"{page.name} has no runnable block"


def _environment(tmp: Path, pebble) -> dict[str, str]:
    config, work, logs = tmp / "le" / "config", tmp / "le" / "work", tmp / "le" / "logs"
    ini = tmp / "xdg" / "letsencrypt" / "cli.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text("\n".join([
        f"server = {pebble.directory_url}", f"ca-bundle = {pebble.ca_bundle}",
        f"config-dir = {config}", f"work-dir = {work}", f"logs-dir = {logs}",
        f"http-01-port = {pebble.http01_port}", "http-01-address = 127.0.0.1",
        "agree-tos = true", "email = docs@example.org", "non-interactive = true",
        "no-random-sleep-on-renew = true", ""]))
    root = tmp / "host"
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "etc/cron.d").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CERTKERNEL_PLUGIN_PATH")}
    env.update(XDG_CONFIG_HOME=str(tmp / "xdg"), HOME=str(tmp / "home"),
               CERTKERNEL_SCHEDULE_ROOT=str(root), HTTP01_PORT=str(pebble.http01_port),
               LOGS_DIR=str(logs), PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    (tmp / "home").mkdir()
    return env


@pytest.mark.parametrize("page", [p.name for p in guide_pages()
                                  if any(i == "runnable" for i, _ in blocks(p))])
def test_page_commands_run(page: str, pebble, tmp_path: Path) -> None:
    env = _environment(tmp_path, pebble)
    cwd = tmp_path / "work"
    cwd.mkdir()
    for number, (info, body) in enumerate(blocks(DOCS / page), 1):
        if info != "runnable":
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
        assert proc.returncode == 0, (f"{page} block {number} exit {proc.returncode}:\n{body}\n"
                                      f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
