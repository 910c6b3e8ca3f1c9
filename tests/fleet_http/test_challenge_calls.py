"""``challenge/publish`` and ``challenge/withdraw`` between real plugin processes and the kernel.

The plugins run through the kernel's own launcher (``PluginLauncher``, the
code every verb uses), so the desk, the manifest gate and the recovery
after a crash are the kernel's. The board checked afterwards is the real
one under ``--work-dir``. Each hostile scenario tries to put on the board
something the kernel did not hand the plugin; the kernel must refuse, and
nothing may appear on the board.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from certkernel import errors
from certkernel.cmdline.cli import parse
from certkernel.config import Config
from certkernel.fleet.challenge_board import BOARD_DIR, LocalBoard
from certkernel.plugin_host.discovery import discover_all
from certkernel.plugin_host.manifest import Manifest, load_manifest
from certkernel.protocol.messages import Challenge
from certkernel.runtime.plugin_launcher import PluginLauncher
from tests.infra.board_backends import THUMBPRINT, token

HOSTILE = Path(__file__).with_name("hostile_board_plugin.py")


def http01(n: int, name: str = "a.example") -> Challenge:
    tok = token(n)
    return Challenge(identifier=name, type="http-01", token=tok,
                     key_authorization=f"{tok}.{THUMBPRINT}",
                     validation=f"{tok}.{THUMBPRINT}",
                     uri_path=f"/.well-known/acme-challenge/{tok}")


def hostile_manifest(folder: Path, scenario: str, *, declares: bool = True) -> Manifest:
    folder.mkdir(parents=True)
    needs = "[needs]\nchallenge_board = true\n" if declares else ""
    (folder / "plugin.toml").write_text(
        'name = "hostile-board"\nversion = "0.0.1"\nroles = ["authenticator"]\n'
        'challenges = ["http-01"]\n'
        f'command = ["{{python}}", "{HOSTILE}", "{scenario}"]\n' + needs)
    return load_manifest(folder / "plugin.toml")


def config_for(tmp_path: Path, extra: Manifest | None = None) -> Config:
    manifests = dict(discover_all(env={}).manifests)
    if extra is not None:
        manifests[extra.name] = extra
    config = parse(["certonly", "--config-dir", str(tmp_path / "config"),
                    "--work-dir", str(tmp_path / "work"), "--logs-dir", str(tmp_path / "logs"),
                    "-n"], manifests, {})
    assert isinstance(config, Config)
    return config


def on_board(tmp_path: Path) -> list[str]:
    folder = tmp_path / "work" / BOARD_DIR
    return sorted(os.listdir(folder)) if folder.exists() else []


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[PluginLauncher]:
    with PluginLauncher(config_for(tmp_path)) as running:
        yield running


def test_fleet_http_publishes_what_it_was_handed_and_withdraws_it(
        launcher: PluginLauncher, tmp_path: Path) -> None:
    auth = launcher.authenticator("fleet-http")
    challenges = [http01(1), http01(2, "b.example")]
    assert auth.get_chall_pref("a.example") == ["http-01"]
    auth.perform(challenges)
    board = LocalBoard(str(tmp_path / "work" / BOARD_DIR))
    assert [board.lookup(c.token) for c in challenges] == [c.key_authorization
                                                            for c in challenges]
    auth.cleanup(challenges)
    assert on_board(tmp_path) == []


def test_fleet_http_refuses_a_dns_challenge(launcher: PluginLauncher, tmp_path: Path) -> None:
    dns = Challenge(identifier="a.example", type="dns-01", token=token(3),
                    key_authorization=f"{token(3)}.{THUMBPRINT}", validation="x",
                    validation_domain_name="_acme-challenge.a.example")
    auth = launcher.authenticator("fleet-http")
    with pytest.raises(errors.PluginError, match="only answers http-01 challenges, not dns-01"):
        auth.perform([dns])
    auth.cleanup([dns])
    assert on_board(tmp_path) == []


@pytest.mark.parametrize("scenario,verdict", [
    ("foreign", "InvalidParams: hostile-board: challenge/publish refused: "
                "'Zz9foreignTokenOfSomeOtherHostZz9foreignTok' is not the token of an http-01 "
                "challenge the kernel handed to this plugin in this run"),
    ("traversal", "InvalidParams: hostile-board: challenge/publish refused: "
                  "'../../../etc/cron.d/x' is not the token"),
    ("forged", "InvalidParams: hostile-board: challenge/publish refused: the key authorization "
               "for token"),
])
def test_the_kernel_publishes_only_what_it_handed_to_the_plugin(
        tmp_path: Path, scenario: str, verdict: str) -> None:
    manifest = hostile_manifest(tmp_path / "plugin", scenario)
    with PluginLauncher(config_for(tmp_path, manifest)) as launcher:
        auth = launcher.authenticator("hostile-board")
        with pytest.raises(errors.PluginError) as refused:
            auth.perform([http01(1)])
        assert verdict in str(refused.value)
        assert on_board(tmp_path) == []
        auth.cleanup([http01(1)])
    assert on_board(tmp_path) == []


def test_a_challenge_of_a_finished_order_cannot_be_published_again(tmp_path: Path) -> None:
    manifest = hostile_manifest(tmp_path / "plugin", "replay")
    with PluginLauncher(config_for(tmp_path, manifest)) as launcher:
        auth = launcher.authenticator("hostile-board")
        auth.perform([http01(1)])
        assert on_board(tmp_path) == [token(1)]
        auth.cleanup([http01(1)])
        with pytest.raises(errors.PluginError, match=f"InvalidParams: .*'{token(1)}' is not the "
                                                     "token of an http-01 challenge"):
            auth.perform([http01(2)])
        auth.cleanup([http01(2)])
    assert on_board(tmp_path) == []


@pytest.mark.parametrize("scenario", ["leave", "crash"])
def test_the_kernel_withdraws_what_the_plugin_left_published(tmp_path: Path,
                                                             scenario: str) -> None:
    """A plugin that withdraws nothing, or dies after publishing: the board ends empty."""
    manifest = hostile_manifest(tmp_path / "plugin", scenario)
    challenges = [http01(1), http01(2)]
    with PluginLauncher(config_for(tmp_path, manifest)) as launcher:
        auth = launcher.authenticator("hostile-board")
        if scenario == "crash":
            with pytest.raises(errors.TransportError):
                auth.perform(challenges)
        else:
            auth.perform(challenges)
        assert on_board(tmp_path) == [token(1), token(2)]
        auth.cleanup(challenges)
        assert on_board(tmp_path) == []


def test_a_plugin_that_does_not_declare_the_need_is_refused(tmp_path: Path) -> None:
    manifest = hostile_manifest(tmp_path / "plugin", "honest", declares=False)
    with PluginLauncher(config_for(tmp_path, manifest)) as launcher:
        auth = launcher.authenticator("hostile-board")
        with pytest.raises(errors.PluginError,
                           match=r"NotSupportedError: hostile-board: challenge/publish refused: "
                                 r"the plugin's manifest does not declare \[needs\] "
                                 r"challenge_board = true"):
            auth.perform([http01(1)])
        with pytest.raises(errors.NotSupportedError, match="challenge/withdraw refused"):
            auth.cleanup([http01(1)])
    assert on_board(tmp_path) == []
