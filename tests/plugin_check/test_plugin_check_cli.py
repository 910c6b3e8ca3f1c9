"""``certkernel plugin-check`` as a user runs it: a real subprocess per plugin.

Built-in plugins must conform (exit 0); each deliberately broken plugin in
``broken/`` must fail with a report naming the check and saying what was
sent and what came back.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).resolve().parent / "broken"


def plugin_check(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "certkernel", "plugin-check", *args, "-n",
            "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
            "--logs-dir", str(tmp_path / "l")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          check=False)


def lines(out: str) -> dict[str, tuple[str, str]]:
    """check name -> (status, detail) from the report."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"^(PASS|FAIL|SKIP)  (\S+)\s+(.*)$", line)
        if match:
            found[match.group(2)] = (match.group(1), match.group(3))
    return found


COMMON = ["no-cookie", "version-negotiation", "handshake", "ping", "unknown-fields",
          "unknown-method", "invalid-request", "cancel", "more-info", "shutdown",
          "stdout-hygiene", "exit-on-eof", "violation-exit", "truncation-exit", "error-shape"]


def _builtin_names() -> list[str]:
    import tomllib

    names = []
    for manifest in sorted(glob.glob(str(REPO / "plugins" / "**" / "plugin.toml"), recursive=True)):
        with open(manifest, "rb") as fh:
            names.append(tomllib.load(fh)["name"])
    return names


BUILTIN = _builtin_names()


@pytest.mark.parametrize(
    ("plugin", "must_pass"),
    [
        ("null", ["prepare", "get-all-names", "supported-enhancements", "deploy-save-rollback"]),
        ("webroot", ["prepare", "get-chall-pref", "perform-cleanup"]),
        ("standalone", ["prepare", "get-chall-pref", "perform-cleanup"]),
        ("manual", ["get-chall-pref", "perform-cleanup"]),
        ("nginx", ["get-chall-pref", "supported-enhancements"]),
        ("apache", ["get-chall-pref", "supported-enhancements"]),
        ("dns-rfc2136", ["get-chall-pref"]),
        ("fleet-http", ["prepare", "get-chall-pref", "perform-cleanup"]),
    ],
)
def test_builtin_plugins_conform(tmp_path: Path, plugin: str, must_pass: list[str]) -> None:
    proc = plugin_check(tmp_path, plugin)
    report = lines(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"plugin {plugin} conforms" in proc.stdout
    for name in COMMON + must_pass:
        assert report.get(name, ("missing", ""))[0] == "PASS", f"{name}: {report.get(name)}\n{proc.stdout}"
    assert not [n for n, (s, _) in report.items() if s == "FAIL"]


@pytest.mark.parametrize("plugin", [n for n in BUILTIN if n.startswith("dns-")])
def test_every_dns_plugin_conforms(tmp_path: Path, plugin: str) -> None:
    """The built-ins not named above: every DNS plugin passes every check it can run."""
    proc = plugin_check(tmp_path, plugin)
    report = lines(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"plugin {plugin} conforms" in proc.stdout
    for name in COMMON + ["get-chall-pref"]:
        assert report.get(name, ("missing", ""))[0] == "PASS", f"{name}: {report.get(name)}\n{proc.stdout}"


def test_the_builtin_list_is_complete() -> None:
    named = {"null", "webroot", "standalone", "manual", "nginx", "apache", "fleet-http"}
    assert set(BUILTIN) == named | {n for n in BUILTIN if n.startswith("dns-")}
    assert len(BUILTIN) > 10


def test_plugin_needing_configuration_is_skipped_with_the_reason(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, "dns-rfc2136")
    status, detail = lines(proc.stdout)["prepare"]
    assert status == "SKIP"
    assert "needs configuration" in detail and "credentials" in detail
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "SKIP" and "dns-01" in detail


def test_a_board_plugin_that_leaves_its_answer_published_fails(tmp_path: Path) -> None:
    """fleet-http's kind of plugin publishes through the kernel (challenge/publish); the
    check reads the board the kernel gave it, after perform and after cleanup."""
    proc = plugin_check(tmp_path, str(REPO / "tests" / "plugin_check" / "broken" / "keeps-published"))
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "FAIL", proc.stdout
    assert "after cleanup the challenge board still serves the key authorization" in detail
    assert proc.returncode == 1


def test_path_of_manifest_and_folder_both_work(tmp_path: Path) -> None:
    for target in (REPO / "plugins" / "null", REPO / "plugins" / "null" / "plugin.toml"):
        proc = plugin_check(tmp_path, str(target))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "plugin null conforms" in proc.stdout


def test_webroot_perform_leaves_nothing_behind(tmp_path: Path) -> None:
    before = set(glob.glob("/tmp/certkernel-plugin-check-*"))
    proc = plugin_check(tmp_path, "webroot")
    assert "http-01 published and removed with scratch webroot" in lines(proc.stdout)["perform-cleanup"][1]
    assert set(glob.glob("/tmp/certkernel-plugin-check-*")) <= before


def test_wrong_version(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, str(BROKEN / "wrong-version"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert report["handshake"] == ("FAIL", "sent initialize offering [1]: offered [1] but protocol_version "
                                   "is 2 [PROTOCOL.md §4]")
    assert report["version-negotiation"][0] == "FAIL"
    assert "answered with a result choosing 2" in report["version-negotiation"][1]
    assert report["ping"] == ("SKIP", "not run: the handshake failed")
    assert "plugin wrong-version does NOT conform" in proc.stdout


def test_prints_to_stdout(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, str(BROKEN / "prints-to-stdout"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    status, detail = report["stdout-hygiene"]
    assert status == "FAIL"
    assert "b'hello from a stray print\\n" in detail
    assert "a message must be an array, got int: 104" in detail
    failed = [n for n, (s, _) in report.items() if s == "FAIL"]
    assert failed == ["stdout-hygiene"]


def test_ignores_shutdown(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, str(BROKEN / "ignores-shutdown"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert report["shutdown"][0] == "FAIL"
    assert "answered shutdown, got exit and EOF, but was still running 2 s later" in report["shutdown"][1]
    assert report["exit-on-eof"][0] == "FAIL"
    assert "still running 2 s later" in report["exit-on-eof"][1]
    # plugin-check reaped what it started: no process of this plugin is left
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(BROKEN / "ignores-shutdown") not in ps


@pytest.mark.parametrize(
    ("plugin", "shape"),
    [
        ("error-string", "the error is a str ('error-string speaks [1]; offered [99]'), not a map"),
        ("error-no-code", "no integer 'code'"),
    ],
)
def test_bad_error_shape(tmp_path: Path, plugin: str, shape: str) -> None:
    proc = plugin_check(tmp_path, str(BROKEN / plugin))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert report["error-shape"][0] == "FAIL"
    assert f"error answer to initialize: {shape}" in report["error-shape"][1]
    assert report["unknown-method"][0] == "FAIL"
    assert "sent conformance/no_such_method" in report["unknown-method"][1]
    assert report["invalid-request"][0] == "FAIL"
    assert "sent vector method-not-string" in report["invalid-request"][1]
    assert report["ping"][0] == "PASS"


def test_unknown_target_is_one_clear_line(tmp_path: Path) -> None:
    proc = plugin_check(tmp_path, "no-such-plugin")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0
    assert "'no-such-plugin' is neither an installed plugin" in proc.stderr


def test_missing_target(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "certkernel", "plugin-check", "-n",
            "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
            "--logs-dir", str(tmp_path / "l")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "plugin-check needs exactly one plugin" in proc.stderr


JS_EXAMPLES = sorted(
    p for pattern in ("sdk/node/examples/*/plugin.toml", "examples/*/plugin.toml")
    for p in glob.glob(str(REPO / pattern))
)


@pytest.mark.parametrize("manifest", JS_EXAMPLES)
def test_javascript_example_conforms(tmp_path: Path, manifest: str) -> None:
    proc = plugin_check(tmp_path, os.path.dirname(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "conforms" in proc.stdout


def test_credentials_file_is_read_and_never_shown(tmp_path: Path) -> None:
    secret = "c2VjcmV0LXBsdWdpbi1jaGVjay1zZWNyZXQ="
    creds = tmp_path / "rfc2136.ini"
    creds.write_text("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_name = keyname.\n"
                     f"dns_rfc2136_secret = {secret}\ndns_rfc2136_algorithm = HMAC-SHA256\n")
    creds.chmod(0o600)
    proc = plugin_check(tmp_path, "dns-rfc2136", "--dns-rfc2136-credentials", str(creds))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc.stdout)["prepare"] == ("PASS", "prepare -> {}")
    logs = "".join(p.read_text() for p in (tmp_path / "l").iterdir())
    assert secret not in proc.stdout + proc.stderr + logs


# -- spec gaps of issue 14: each broken plugin fails exactly where it is wrong --------------


def _failed(report: dict[str, tuple[str, str]]) -> list[str]:
    return [n for n, (s, _) in report.items() if s == "FAIL"]


def test_string_id_is_reported_as_a_string_id(tmp_path: Path) -> None:
    """Gap 2/12: not "no answer within 15 s" plus a stray-print guess."""
    proc = plugin_check(tmp_path, str(BROKEN / "string-id"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    status, detail = report["handshake"]
    assert status == "FAIL"
    assert "answered with a response whose id is '1' (a str) instead of the integer 1" in detail
    assert "send it back as the integer it arrived as" in detail
    assert "no answer within" not in proc.stdout
    assert "stray print" not in proc.stdout
    assert report["stdout-hygiene"][0] == "PASS"
    assert _failed(report) == ["version-negotiation", "handshake"]


def test_lenient_decoder_fails_violation_and_truncation(tmp_path: Path) -> None:
    """Gap 1/10: a violation without an id, and EOF inside a message, mean exit 3."""
    proc = plugin_check(tmp_path, str(BROKEN / "lenient-decoder"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert _failed(report) == ["violation-exit", "truncation-exit"]
    assert "sent vector request-too-short (930001a470696e67); still running" in report["violation-exit"][1]
    assert ("sent vector truncated (940001a470696e) and closed stdin; it exited 0, not 3"
            in report["truncation-exit"][1])


def test_answering_a_non_string_key_request_is_a_failure(tmp_path: Path) -> None:
    """Gap 1: encoding faults come first; such a message carries no id to answer."""
    proc = plugin_check(tmp_path, str(BROKEN / "answers-bad-keys"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert _failed(report) == ["violation-exit"]
    detail = report["violation-exit"][1]
    assert "sent vector non-string-key (940001a470696e6791810100); it answered [1, 1, {'code': -32600" in detail


def test_bad_more_info_fails_and_missing_more_info_passes(tmp_path: Path) -> None:
    """Gap 3: more_info is optional; when answered it must be {text: str}."""
    bad = plugin_check(tmp_path, str(BROKEN / "bad-more-info"))
    report = lines(bad.stdout)
    assert bad.returncode == 1
    assert _failed(report) == ["more-info"]
    assert "more_info returned {'txt': 'the field is called text'}; expected {text: str}" in report["more-info"][1]
    missing = plugin_check(tmp_path, str(BROKEN / "no-more-info"))
    assert missing.returncode == 0, missing.stdout
    assert lines(missing.stdout)["more-info"][0] == "PASS"
    assert "not implemented (optional)" in lines(missing.stdout)["more-info"][1]


def test_initialize_failing_for_perform_is_a_failure_not_a_skip(tmp_path: Path) -> None:
    """Gap 12: perform-cleanup's own initialize failed; the plugin does not conform."""
    proc = plugin_check(tmp_path, str(BROKEN / "refuses-path"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    assert _failed(report) == ["perform-cleanup"]
    assert "answered with an error: PluginError (-32000): refuses-path cannot start with a path" in (
        report["perform-cleanup"][1])
    assert "plugin refuses-path does NOT conform" in proc.stdout


def test_http01_port_is_honoured(tmp_path: Path) -> None:
    """Gap 12: --http-01-port is where a socket-taking plugin is tested."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = plugin_check(tmp_path, "standalone", "--http-01-port", str(port))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "PASS"
    assert f"an http-01 socket on 127.0.0.1:{port} (--http-01-port)" in detail


def test_http01_port_in_use_is_a_clear_skip(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = plugin_check(tmp_path, "standalone", "--http-01-port", str(port))
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "SKIP"
    assert f"cannot listen on 127.0.0.1:{port} for http-01" in detail


def test_plugin_by_path_accepts_its_own_options(tmp_path: Path) -> None:
    """Gap 12: `plugin-check ./dir --opt`, the plugin not being installed."""
    webroot = tmp_path / "site"
    webroot.mkdir()
    proc = plugin_check(tmp_path, str(REPO / "examples" / "js-webroot"), "--js-webroot-path", str(webroot))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status, detail = lines(proc.stdout)["perform-cleanup"]
    assert status == "PASS"
    assert f"webroot {webroot} (--js-webroot-path)" in detail
    assert not [p for p in webroot.rglob("*") if p.is_file()]  # the challenge file was removed


def test_invalid_bytes_on_stdout_are_named_and_quoted_where_they_start(tmp_path: Path) -> None:
    """Gap 11: the fault in words and the bytes from the bad one on (msgpack says "()")."""
    proc = plugin_check(tmp_path, str(BROKEN / "invalid-bytes"))
    report = lines(proc.stdout)
    assert proc.returncode == 1
    status, detail = report["stdout-hygiene"]
    assert status == "FAIL"
    assert "stdout is not valid MessagePack (a byte that starts no MessagePack value" in detail
    # quoted from the first bad byte on (what followed may be quoted after it)
    assert re.search(r"\) at byte \d+: c1c1[0-9a-f]*; only MessagePack-RPC", detail), detail
    assert "()" not in detail
    assert report["handshake"][0] == "PASS"  # the answer before the bad bytes still counted
