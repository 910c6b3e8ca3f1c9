"""certkernel.sdk.testing: a plugin unit-tested with no kernel, through the real SDK server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certkernel.sdk import (
    Authenticator,
    Challenge,
    Installer,
    MisconfigurationError,
    MissingCommandlineFlag,
)
from certkernel.sdk.testing import CANCEL, MemoryStorage, PluginHarness, ScriptedDisplay


class Token(Authenticator):
    """Asks for a token once, keeps it in the kernel's storage, writes a file per challenge."""

    name = "token-demo"
    version = "1.2.3"

    def prepare(self) -> None:
        if self.options.get("broken"):
            raise MisconfigurationError("token-demo: the zone file is broken")
        if self.kernel.storage_get("token") is None:
            token = self.kernel.input("API token?", cli_flag="--token-demo-token")
            if token is None:
                raise MisconfigurationError("token-demo: no token given")
            self.kernel.storage_put("token", token)
        self.kernel.log("info", "token-demo ready")

    def get_chall_pref(self, domain: str) -> list[str]:
        return ["dns-01"]

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            Path(self.state_dir, chall.identifier).write_text(chall.validation)

    def cleanup(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            Path(self.state_dir, chall.identifier).unlink(missing_ok=True)


class Editor(Installer):
    name = "editor-demo"

    def get_all_names(self) -> list[str]:
        return ["b.example", "a.example", "a.example"]

    def deploy_cert(self, domain: str, cert_path: str, key_path: str, chain_path: str,
                    fullchain_path: str) -> None:
        conf = os.path.join(self.options["root"], "site.conf")
        self.kernel.checkpoint_add([conf])
        Path(conf).write_text(f"ssl_certificate {fullchain_path};\n")

    def save(self, title: str | None = None, temporary: bool = False) -> None:
        if title:
            self.kernel.checkpoint_finalize(title)


CHALL = Challenge(identifier="a.example", type="dns-01", token="t", key_authorization="t.k",
                  validation="v4lue", validation_domain_name="_acme-challenge.a.example")


def test_prompt_storage_log_and_files_through_the_real_server() -> None:
    display = ScriptedDisplay(["s3cret"])
    storage = MemoryStorage()
    with PluginHarness(Token, display=display, storage=storage) as plugin:
        assert plugin.info["version"] == "1.2.3"
        plugin.prepare()
        assert plugin.get_chall_pref("a.example") == ["dns-01"]
        plugin.perform([CHALL])
        assert Path(plugin.state_dir, "a.example").read_text() == "v4lue"
        plugin.cleanup([CHALL])
        assert not Path(plugin.state_dir, "a.example").exists()
        logs = plugin.peer.logs
    assert display.asked == [("input", "API token?", "--token-demo-token")]
    assert storage.data == {("token-demo", "token"): "s3cret"}
    assert logs == [("info", "token-demo ready")]


def test_stored_value_means_no_question() -> None:
    storage = MemoryStorage()
    storage.put("token-demo", "token", "kept")
    display = ScriptedDisplay()
    with PluginHarness(Token, display=display, storage=storage) as plugin:
        plugin.prepare()
    assert display.asked == []


def test_plugin_errors_arrive_typed_as_the_kernel_sees_them() -> None:
    with PluginHarness(Token, options={"broken": True}) as plugin, \
            pytest.raises(MisconfigurationError, match="zone file is broken"):
        plugin.prepare()
    with PluginHarness(Token, display=ScriptedDisplay([CANCEL])) as plugin, \
            pytest.raises(MisconfigurationError, match="no token given"):
        plugin.prepare()


def test_non_interactive_prompt_fails_naming_the_flag() -> None:
    for display in (ScriptedDisplay(interactive=False), None):
        with PluginHarness(Token, display=display) as plugin, \
                pytest.raises(MissingCommandlineFlag, match="--token-demo-token"):
            plugin.prepare()


def test_installer_checkpoints_are_recorded(tmp_path: Path) -> None:
    with PluginHarness(Editor, options={"root": str(tmp_path)}) as plugin:
        assert plugin.get_all_names() == ["a.example", "b.example"]
        plugin.deploy_cert("a.example", "/c", "/k", "/ch", "/fc")
        plugin.save("deployed a.example")
        recorded = plugin.peer.checkpoints
    assert recorded == [("checkpoint/add", {"files": [str(tmp_path / "site.conf")],
                                            "temporary": False}),
                        ("checkpoint/finalize", {"title": "deployed a.example"})]
    assert (tmp_path / "site.conf").read_text() == "ssl_certificate /fc;\n"


def test_the_harness_state_dir_is_removed_afterwards() -> None:
    with PluginHarness(Token, storage=MemoryStorage()) as plugin:
        state = plugin.state_dir
        assert os.path.isdir(state)
    assert not os.path.exists(state)
