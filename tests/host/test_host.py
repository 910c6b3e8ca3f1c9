"""The plugin host against a real plugin subprocess, behaving and misbehaving."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from certkernel import errors
from certkernel.plugin_host.proxies import RemoteAuthenticator, RemoteInstaller
from certkernel.protocol.messages import Challenge, LineageInfo
from tests.infra.processes import wait_gone

from .conftest import HERE, MemoryStorage, ScriptedDisplay

CHALLENGE = Challenge(
    identifier="a.example",
    type="http-01",
    token="tok",
    key_authorization="tok.thumb",
    validation="tok.thumb",
    uri_path="/.well-known/acme-challenge/tok",
)


def _children_of_test() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_every_method_round_trips(scenario):
    display = ScriptedDisplay(["/var/www"])
    storage = MemoryStorage()
    proc = scenario("good", display=display, storage=storage)
    assert proc.info["name"] == "scenario"
    assert proc.info["version"] == "9.9.9"
    assert proc.info["protocol_version"] == 1
    auth = RemoteAuthenticator(proc)
    inst = RemoteInstaller(proc)
    auth.prepare()  # prints to stdout and runs a child that does: channel must survive
    assert auth.get_chall_pref("a.example") == ["http-01", "dns-01"]
    auth.perform([CHALLENGE])
    # The plugin asked the kernel in the middle of perform (a nested call).
    assert display.asked == [("input", "Where do files for a.example go?", "--scenario-where")]
    assert storage.data[("scenario", "last")] == {"answer": "/var/www", "count": 1}
    auth.cleanup([CHALLENGE])
    assert auth.more_info() == "Scenario plugin for host tests."
    assert inst.get_all_names() == ["a.example", "b.example"]
    inst.deploy_cert("a.example", "/c", "/k", "/ch", "/fc")
    assert inst.supported_enhancements() == ["redirect"]
    inst.enhance("a.example", "redirect")
    inst.config_test()
    inst.restart()
    inst.recovery_routine()
    inst.renew_deploy(LineageInfo("a.example", "/c", "/k", "/ch", "/fc", ["a.example"]))
    assert "renew_deploy" in auth.capabilities
    auth.ping()
    pid = proc.pid
    proc.close()
    assert proc.popen.returncode == 0, "plugin must exit 0 after shutdown/exit"
    assert wait_gone([pid])


def test_maps_off_the_registry_fail_naming_method_and_field(scenario):
    """A result or a request whose shape is not the registry's (protocol/methods.py) is refused
    in one line naming the method and the field, in both directions."""
    proc = scenario("off_registry", display=ScriptedDisplay(["0"]))
    auth = RemoteAuthenticator(proc)
    with pytest.raises(errors.ProtocolError, match=(
            r"^plugin scenario: get_chall_pref result: field 'challenges' must be "
            r"a list of strings, not a string$")):
        auth.get_chall_pref("a.example")
    with pytest.raises(errors.PluginError, match=(
            r"kernel refused: scenario: display/menu: field 'choices' must be "
            r"a list of strings, not a string")):
        auth.perform([CHALLENGE])
    auth.ping()  # neither broke the connection


def test_unknown_method_is_method_not_found(scenario):
    proc = scenario("good")
    with pytest.raises(errors.MethodNotFound, match="no_such_method"):
        proc.call("no_such_method", {"x": 1})
    # The conversation goes on after an error.
    assert RemoteAuthenticator(proc).get_chall_pref("x.example") == ["http-01", "dns-01"]


@pytest.mark.parametrize("type_name", sorted(errors.PLUGIN_ERROR_TYPES))
def test_each_plugin_error_arrives_as_its_type(scenario, type_name):
    proc = scenario("good")
    inst = RemoteInstaller(proc)
    with pytest.raises(errors.PLUGIN_ERROR_TYPES[type_name]) as info:
        inst.deploy_cert(f"{type_name.lower()}.example", "/c", "/k", "/ch", "/fc")
    assert type(info.value) is errors.PLUGIN_ERROR_TYPES[type_name]
    assert str(info.value) == f"scenario: deploy refused for {type_name.lower()}.example"


def test_unexpected_exception_is_internal_error_with_traceback(scenario):
    proc = scenario("good")
    with pytest.raises(errors.RemoteInternalError, match="ValueError: an unexpected bug") as info:
        RemoteInstaller(proc).deploy_cert("boom.example", "/c", "/k", "/ch", "/fc")
    assert "Traceback" in info.value.data["traceback"]


def test_prepare_misconfiguration_is_typed(scenario):
    proc = scenario("misconfigured")
    with pytest.raises(errors.MisconfigurationError, match="broken in a test way"):
        RemoteAuthenticator(proc).prepare()


def test_kernel_display_refusal_reaches_the_plugin_as_the_protocol_error(scenario):
    """The kernel's own non-interactive display raises the kernel-only MissingFlag; a
    plugin that asked must hear the protocol's MissingCommandlineFlag, flag in data."""
    import io

    from certkernel.display import Display

    display = Display(noninteractive=True, stdin=io.StringIO(), stdout=io.StringIO())
    proc = scenario("good", display=display, storage=MemoryStorage())
    with pytest.raises(errors.MissingCommandlineFlag, match="--scenario-where") as info:
        RemoteAuthenticator(proc).perform([CHALLENGE])
    assert not isinstance(info.value, errors.MissingFlag)
    assert info.value.data == {"flag": "--scenario-where"}


def test_prompt_in_noninteractive_run_names_the_flag(scenario):
    proc = scenario("good", display=ScriptedDisplay(interactive=False), storage=MemoryStorage())
    # The kernel's error travels into the plugin, which lets it propagate back.
    with pytest.raises(errors.MissingCommandlineFlag, match="--scenario-where"):
        RemoteAuthenticator(proc).perform([CHALLENGE])


def _assert_clean_failure(exc: errors.CallError, *fragments: str) -> None:
    text = str(exc)
    assert "scenario" in text, text
    for fragment in fragments:
        assert fragment in text, text


def test_crash_mid_call(scenario):
    proc = scenario("crash")
    with pytest.raises(errors.PluginCrashed) as info:
        RemoteAuthenticator(proc).get_chall_pref("a.example")
    _assert_clean_failure(info.value, "exited with status 13", "about to crash")
    assert wait_gone([proc.pid])


def test_hang_past_deadline_is_cancelled_then_killed(scenario):
    proc = scenario("hang", timeouts="get_chall_pref = 0.3")
    proc.endpoint.cancel_grace = 0.3
    started = time.monotonic()
    with pytest.raises(errors.PluginTimeout) as info:
        RemoteAuthenticator(proc).get_chall_pref("a.example")
    assert time.monotonic() - started < 5
    _assert_clean_failure(info.value, "did not answer get_chall_pref", "hanging")
    assert wait_gone([proc.pid])


def test_garbage_on_stdout_quotes_the_bytes(scenario):
    proc = scenario("garbage")
    with pytest.raises(errors.ProtocolError) as info:
        RemoteAuthenticator(proc).get_chall_pref("a.example")
    _assert_clean_failure(info.value, "broke the protocol", "c1676172626167")
    # §3.1: the rule broken, in words (msgpack's own message is empty: it printed "()")
    assert "invalid MessagePack: a byte that starts no MessagePack value" in str(info.value)
    assert "()" not in str(info.value)
    assert wait_gone([proc.pid])


@pytest.mark.parametrize(
    ("name", "rule", "quoted"),
    [
        ("unknown_id", "response to unknown request id 999", "9401cd03e7c080"),
        ("truncated_exit", "stream ended inside a message (4 bytes pending)", "9401cd03"),
        ("ext_value", "extension type 5 is not allowed",
         "9302a5242f6c6f679182a56c6576656ca4696e666fa76d657373616765d40501"),
    ],
)
def test_violation_quotes_the_offending_message(scenario, name, rule, quoted):
    """§3.1: the whole offending message is quoted, not one byte or none."""
    proc = scenario(name)
    with pytest.raises(errors.ProtocolError) as info:
        RemoteAuthenticator(proc).get_chall_pref("a.example")
    _assert_clean_failure(info.value, "broke the protocol", f"{rule} (bytes: {quoted})")
    assert wait_gone([proc.pid])


def test_garbage_before_handshake(scenario):
    with pytest.raises(errors.ProtocolError) as info:
        scenario("garbage_before_handshake")
    assert "48656c6c6f" in str(info.value)  # "Hello" quoted in hex


def test_stderr_flood_does_not_block(scenario):
    proc = scenario("flood")
    assert RemoteAuthenticator(proc).get_chall_pref("a.example") == ["http-01", "dns-01"]
    deadline = time.monotonic() + 5
    while proc._drain.total_bytes < 1200 * 1024 and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.02)
    assert proc._drain.total_bytes >= 1200 * 1024  # noqa: SLF001 - more than 1 MiB drained


def test_exit_before_handshake(scenario):
    with pytest.raises(errors.PluginCrashed) as info:
        scenario("exit_early")
    _assert_clean_failure(info.value, "exited with status 7", "before the handshake", "giving up")


def test_unsupported_protocol_version(scenario):
    with pytest.raises(errors.ProtocolError) as info:
        scenario("bad_version")
    _assert_clean_failure(info.value, "[99]", "[1]")


def test_ignored_shutdown_is_forced_and_group_reaped(scenario):
    proc = scenario("ignore_shutdown", timeouts="shutdown = 0.5")
    pid = proc.pid
    proc.close()
    assert wait_gone([pid])


def test_children_of_the_plugin_are_reaped(scenario):
    before = _children_of_test()
    proc = scenario("spawn_child")
    RemoteAuthenticator(proc).get_chall_pref("a.example")
    spawned = _children_of_test() - before
    assert len(spawned) >= 2, "the plugin and its sleep child"
    proc.close()
    assert wait_gone(sorted(spawned))


def test_run_by_hand_without_cookie():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTKERNEL_")}
    result = subprocess.run(
        [sys.executable, str(HERE / "scenario_plugin.py"), "good"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "This is a certkernel plugin" in result.stderr
    assert "certkernel plugins" in result.stderr
    assert result.stdout == ""


def test_kernel_stays_healthy_after_failures(scenario):
    for name in ("crash", "garbage"):
        proc = scenario(name)
        with pytest.raises(errors.TransportError):
            RemoteAuthenticator(proc).get_chall_pref("a.example")
    proc = scenario("good")
    assert RemoteAuthenticator(proc).get_chall_pref("a.example") == ["http-01", "dns-01"]


def test_plugin_request_before_its_handshake_is_refused_but_ping_answered(scenario):
    """§4: until initialize is answered the kernel answers only $/ping."""
    proc = scenario("early_request", storage=MemoryStorage())
    assert proc.info["version"] == "InvalidRequest; ping: result {}"


def test_kernel_display_refusal_carries_the_flag_in_data(scenario):
    """§6: the kernel's own non-interactive display/input error has data.flag."""
    import io

    from certkernel.display import Display

    display = Display(noninteractive=True, stdin=io.StringIO(), stdout=io.StringIO())
    proc = scenario("good", display=display, storage=MemoryStorage())
    with pytest.raises(errors.MissingCommandlineFlag) as info:
        RemoteAuthenticator(proc).perform([CHALLENGE])
    assert info.value.data == {"flag": "--scenario-where"}
    assert "use --scenario-where" in str(info.value)


def test_no_display_refusal_carries_the_flag_in_data(scenario):
    proc = scenario("good", display=None, storage=MemoryStorage())
    with pytest.raises(errors.MissingCommandlineFlag) as info:
        RemoteAuthenticator(proc).perform([CHALLENGE])
    assert info.value.data == {"flag": "--scenario-where"}


def test_manifest_timeouts_replace_defaults_higher_or_lower(scenario):
    """§8 [timeouts]: each listed value replaces the default, up or down (the
    hang test above shows a lowered deadline really cancels the call)."""
    proc = scenario("good", timeouts="perform = 900\nget_chall_pref = 5")
    assert proc.timeout_for("perform") == 900  # default 300
    assert proc.timeout_for("get_chall_pref") == 5  # default 60
    assert proc.timeout_for("cleanup") == 300  # not listed: the default
