"""The manual plugin as a process, with real hook scripts run by /bin/sh."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from certkernel import errors
from certkernel.sdk.testing import ScriptedDisplay

from .conftest import dns01, http01, manifest

VARS = ("CERTBOT_DOMAIN", "CERTBOT_VALIDATION", "CERTBOT_TOKEN",
        "CERTBOT_REMAINING_CHALLENGES", "CERTBOT_ALL_DOMAINS", "CERTBOT_AUTH_OUTPUT")


def write_hook(path: Path, record: Path, stdout: str = "", extra: str = "") -> str:
    """A shell hook that appends one JSON line with every CERTBOT_* variable (unset: null)."""
    dump = (
        f"import json, os; print(json.dumps({{v: os.environ.get(v) for v in {VARS!r}}}))"
    )
    path.write_text(
        "#!/bin/sh\n"
        f"{shlex.quote(sys.executable)} -c {shlex.quote(dump)} >> {shlex.quote(str(record))}\n"
        f"{stdout}\n{extra}\n"
    )
    path.chmod(0o755)
    return str(path)


def records(path: Path) -> list[dict[str, str | None]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def hooks(tmp_path: Path) -> dict[str, str | Path]:
    auth_log, clean_log = tmp_path / "auth.jsonl", tmp_path / "cleanup.jsonl"
    return {
        "auth-hook": write_hook(tmp_path / "auth.sh", auth_log,
                                stdout='echo "published $CERTBOT_DOMAIN"; echo line2'),
        "cleanup-hook": write_hook(tmp_path / "cleanup.sh", clean_log),
        "auth_log": auth_log,
        "clean_log": clean_log,
    }


def test_manifest_matches_certbot_flags():
    m = manifest("manual")
    assert m.description == "Manual configuration or run your own shell scripts"
    assert m.challenges == ("http-01", "dns-01")
    assert [(o.flag, o.type) for o in m.options] == [
        ("--manual-auth-hook", "str"),
        ("--manual-cleanup-hook", "str"),
        ("--manual-public-ip-logging-ok", "bool"),
    ]


def test_http01_hooks_get_every_variable_and_auth_output(start, hooks):
    auth = start("manual", options={"auth-hook": hooks["auth-hook"],
                                    "cleanup-hook": hooks["cleanup-hook"],
                                    "public-ip-logging-ok": True},
                 settings={"non_interactive": True})
    auth.prepare()
    assert auth.get_chall_pref("a.example") == ["http-01", "dns-01"]
    challs = [http01("a.example", "tA"), http01("b.example", "tB"), http01("c.example", "tC")]
    auth.perform(challs)
    seen = records(hooks["auth_log"])
    assert seen == [
        {"CERTBOT_DOMAIN": c.identifier, "CERTBOT_VALIDATION": c.validation,
         "CERTBOT_TOKEN": c.token, "CERTBOT_REMAINING_CHALLENGES": str(2 - i),
         "CERTBOT_ALL_DOMAINS": "a.example,b.example,c.example", "CERTBOT_AUTH_OUTPUT": None}
        for i, c in enumerate(challs)
    ]
    auth.cleanup(challs)
    cleaned = records(hooks["clean_log"])
    assert [r["CERTBOT_AUTH_OUTPUT"] for r in cleaned] == [
        f"published {c.identifier}\nline2" for c in challs
    ]
    assert [r["CERTBOT_DOMAIN"] for r in cleaned] == ["a.example", "b.example", "c.example"]
    assert [r["CERTBOT_TOKEN"] for r in cleaned] == ["tA", "tB", "tC"]
    # The hooks printed to stdout and the protocol channel still works.
    assert auth.get_chall_pref("x.example") == ["http-01", "dns-01"]


def test_dns01_hooks_have_no_token(start, hooks):
    auth = start("manual", options={"auth-hook": hooks["auth-hook"],
                                    "cleanup-hook": hooks["cleanup-hook"]})
    assert auth.get_chall_pref("*.example.com") == ["dns-01"]
    challs = [dns01("example.com", "t1", wildcard=True), dns01("example.com", "t2"),
              dns01("www.example.com", "t3")]
    auth.perform(challs)
    seen = records(hooks["auth_log"])
    assert [r["CERTBOT_DOMAIN"] for r in seen] == ["example.com", "example.com", "www.example.com"]
    assert [r["CERTBOT_VALIDATION"] for r in seen] == [c.validation for c in challs]
    assert [r["CERTBOT_REMAINING_CHALLENGES"] for r in seen] == ["2", "1", "0"]
    assert {r["CERTBOT_TOKEN"] for r in seen} == {None}
    assert {r["CERTBOT_ALL_DOMAINS"] for r in seen} == {"example.com,example.com,www.example.com"}
    auth.cleanup(challs)
    assert [r["CERTBOT_AUTH_OUTPUT"] for r in records(hooks["clean_log"])] == [
        "published example.com\nline2", "published example.com\nline2",
        "published www.example.com\nline2"]


def test_failing_auth_hook_is_reported_and_the_other_challenges_go_on(start, tmp_path):
    """Certbot logs a failing auth hook and goes on; the CA then rejects that challenge."""
    hook = write_hook(tmp_path / "fail.sh", tmp_path / "log",
                      extra='echo "no API token for $CERTBOT_DOMAIN" >&2; exit 3')
    auth = start("manual", options={"auth-hook": hook})
    auth.perform([http01("a.example", "tA"), http01("b.example", "tB")])
    assert [r["CERTBOT_DOMAIN"] for r in records(tmp_path / "log")] == ["a.example", "b.example"]
    auth.cleanup([http01("a.example", "tA"), http01("b.example", "tB")])


def test_failing_cleanup_hook_does_not_fail_the_run(start, tmp_path, hooks):
    bad = write_hook(tmp_path / "badclean.sh", tmp_path / "clean.jsonl", extra="exit 1")
    auth = start("manual", options={"auth-hook": hooks["auth-hook"], "cleanup-hook": bad})
    challs = [http01("a.example", "tA"), http01("b.example", "tB")]
    auth.perform(challs)
    auth.cleanup(challs)
    assert [r["CERTBOT_DOMAIN"] for r in records(tmp_path / "clean.jsonl")] == [
        "a.example", "b.example"], "every challenge still gets its cleanup"


def test_hook_with_large_stdout_neither_blocks_nor_corrupts(start, tmp_path):
    hook = tmp_path / "big.sh"
    hook.write_text("#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' 'x'\n")
    hook.chmod(0o755)
    auth = start("manual", options={"auth-hook": str(hook)})
    auth.perform([http01("a.example", "tA")])
    assert auth.get_chall_pref("a.example") == ["http-01", "dns-01"]


def test_non_interactive_without_auth_hook_fails_in_prepare(start):
    auth = start("manual", settings={"non_interactive": True})
    with pytest.raises(errors.MissingCommandlineFlag, match="--manual-auth-hook"):
        auth.prepare()


def test_interactive_instructions_pause_for_each_challenge(start):
    term = ScriptedDisplay()
    auth = start("manual", terminal=term)
    auth.prepare()
    h = http01("a.example", "tokH")
    d1, d2 = dns01("example.com", "t1", wildcard=True), dns01("example.com", "t2")
    auth.perform([h, d1, d2])
    assert [pause for _, pause in term.notes] == [True, True, True]
    http_text, dns_text, dns_again = (text for text, _ in term.notes)
    assert http_text == (
        "Create a file containing just this data:\n\n"
        f"{h.validation}\n\n"
        "And make it available on your web server at this URL:\n\n"
        "http://a.example/.well-known/acme-challenge/tokH"
    )
    assert dns_text.startswith(
        "Please deploy a DNS TXT record under the name:\n\n_acme-challenge.example.com.\n\n"
        f"with the following value:\n\n{d1.validation}"
    )
    assert "in addition to the previous challenges" not in http_text
    assert "in addition to the previous challenges" in dns_text
    assert f"\n\n{d2.validation}\n\n" in dns_again
    assert "in addition to the previous challenges" in dns_again
    auth.cleanup([h, d1, d2])
    assert len(term.notes) == 3, "cleanup without a hook shows nothing"


def test_hook_does_not_see_the_plugin_cookie(start, tmp_path):
    out = tmp_path / "env.txt"
    hook = tmp_path / "env.sh"
    hook.write_text(f"#!/bin/sh\nenv > '{out}'\n")
    hook.chmod(0o755)
    auth = start("manual", options={"auth-hook": str(hook)})
    auth.perform([http01("a.example", "tA")])
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["CERTBOT_DOMAIN"] == "a.example"
    assert not [k for k in env if k.startswith("CERTKERNEL_")]
    assert env["PATH"], "hooks find their tools on PATH"
