"""With no privilege flag, as root: each plugin gets the least privilege its
manifest declares, and ``certkernel plugins`` says what and why.

What an operator checks: the live plugin process (``/proc/<pid>/status``)
runs as certkernel's account ``_certkernel`` for standalone, dns-rfc2136
and a third-party authenticator, as the web root's owner for webroot, as
root only where the manifest says why; and the certificate is issued.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.bind import Bind
from tests.infra.cli_run import cert_names
from tests.infra.httpd import static_site
from tests.infra.pebble import Pebble
from tests.infra.sandbox_env import REPO, Kernel, world_dir
from tests.infra.sandbox_run import assert_sandboxed, common, install_plugin, run_watched

THIRD_PARTY = f'''
name = "thirdparty"
description = "A third-party authenticator that asks for no privilege"
version = "0.1.0"
roles = ["authenticator"]
challenges = ["http-01"]
command = ["{{python}}", "{REPO / "tests" / "privilege" / "thirdparty_plugin.py"}"]

[[options]]
name = "dir"
type = "path"
default = ""
'''


def runs_as(output: str) -> dict[str, str]:
    """``certkernel plugins`` output to {plugin: the text after "Runs as: "}."""
    found: dict[str, str] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("* "):
            current = line[2:]
        elif line.startswith("Runs as: ") and current:
            found[current] = line[len("Runs as: "):]
    return found


def test_standalone_runs_as_the_account_without_any_flag(
        kernel: Kernel, account: str, pebble: Pebble) -> None:
    dirs = kernel.dirs("standalone")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.standalone", "certonly", "--standalone",
        "--http-01-port", str(pebble.http01_port), "--http-01-address", "127.0.0.1",
        "-d", "default.example.org", *dirs, *common(pebble))
    assert code == 0, err
    assert_sandboxed(status, account)
    assert cert_names(Path(dirs[1]), "default.example.org") == ["default.example.org"]
    log = (Path(dirs[5]) / "letsencrypt.log").read_text()
    assert f"Plugin standalone runs as {account}:{account} (needs no root" in log


def test_rfc2136_runs_as_the_account_without_any_flag(
        kernel: Kernel, account: str, privilege_bind: Bind, pebble_factory: object) -> None:
    pebble = pebble_factory(dns_server=f"127.0.0.1:{privilege_bind.port}")  # type: ignore[operator]
    creds = privilege_bind.write_credentials(world_dir(kernel.root, "creds") / "rfc2136.ini")
    dirs = kernel.dirs("rfc2136")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.dns", "certonly", "--dns-rfc2136",
        "--dns-rfc2136-credentials", str(creds), "--dns-rfc2136-propagation-seconds", "20",
        "-d", "*.example.com", "-d", "example.com", *dirs, *common(pebble))
    assert code == 0, err
    assert_sandboxed(status, account)
    assert cert_names(Path(dirs[1]), "example.com") == ["*.example.com", "example.com"]
    assert privilege_bind.txt("_acme-challenge.example.com") == []


@pytest.fixture()
def account_site(kernel: Kernel, account: str, pebble: Pebble) -> Iterator[Path]:
    """A folder the account owns, served on Pebble's http-01 port."""
    root = world_dir(kernel.root, "thirdparty-site")
    pw = pwd.getpwnam(account)
    os.chown(root, pw.pw_uid, pw.pw_gid)
    with static_site(root, pebble.http01_port):
        yield root


def test_third_party_authenticator_runs_as_the_account_without_any_flag(
        kernel: Kernel, account: str, pebble: Pebble, account_site: Path) -> None:
    env = install_plugin(kernel.root, "xdg-thirdparty", "thirdparty", THIRD_PARTY)
    dirs = kernel.dirs("thirdparty")
    proc = kernel.start("certonly", "-a", "thirdparty", "--thirdparty-dir", str(account_site),
                        "-d", "third.example.org", *dirs, *common(pebble), **env)
    from tests.infra.sandbox_env import Watcher

    watcher = Watcher(proc.pid, "thirdparty_plugin.py").start()
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        watcher.stop()
    assert proc.returncode == 0, err
    assert_sandboxed(watcher.found, account)
    assert cert_names(Path(dirs[1]), "third.example.org") == ["third.example.org"]
    listing = kernel.run("plugins", *dirs, **env)
    assert runs_as(listing.stdout)["thirdparty"] == (
        f"{account}:{account} (needs no root, so it runs as certkernel's unprivileged account)")


@pytest.fixture()
def www_data_site(kernel: Kernel, pebble: Pebble) -> Iterator[Path]:
    """A web root owned by www-data (the usual Debian owner), served for Pebble."""
    root = world_dir(kernel.root, "www-data-site")
    pw = pwd.getpwnam("www-data")
    os.chown(root, pw.pw_uid, pw.pw_gid)
    with static_site(root, pebble.http01_port):
        yield root


def test_webroot_runs_as_the_web_roots_owner(
        kernel: Kernel, pebble: Pebble, www_data_site: Path) -> None:
    dirs = kernel.dirs("webroot-owner")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.webroot", "certonly", "--webroot", "-w", str(www_data_site),
        "-d", "owner.example.org", *dirs, *common(pebble))
    assert code == 0, err
    pw = pwd.getpwnam("www-data")
    assert status["Uid"].split() == [str(pw.pw_uid)] * 4
    assert status["NoNewPrivs"] == "1"
    assert cert_names(Path(dirs[1]), "owner.example.org") == ["owner.example.org"]
    listing = kernel.run("plugins", "-w", str(www_data_site), *dirs)
    assert runs_as(listing.stdout)["webroot"] == f"www-data:www-data (owner of {www_data_site})"


@pytest.fixture()
def root_site(kernel: Kernel, pebble: Pebble) -> Iterator[Path]:
    root = world_dir(kernel.root, "root-site")
    with static_site(root, pebble.http01_port):
        yield root


def test_webroot_on_a_root_owned_web_root_runs_as_root_confined(
        kernel: Kernel, pebble: Pebble, root_site: Path) -> None:
    dirs = kernel.dirs("webroot-root")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.webroot", "certonly", "--webroot", "-w", str(root_site),
        "-d", "rootsite.example.org", *dirs, *common(pebble))
    assert code == 0, err
    assert status["Uid"].split() == ["0"] * 4
    assert status["NoNewPrivs"] == "1"  # set for Landlock's restrict_self
    assert cert_names(Path(dirs[1]), "rootsite.example.org") == ["rootsite.example.org"]
    listing = kernel.run("plugins", "-w", str(root_site), *dirs)
    assert runs_as(listing.stdout)["webroot"].startswith(
        "root (its roots are owned by root; writes challenge files into web roots that root "
        "may own); confined by Landlock (ABI ")


def test_plugins_command_says_who_each_plugin_runs_as_and_why(
        kernel: Kernel, account: str) -> None:
    result = kernel.run("plugins", *kernel.dirs("listing"))
    assert result.returncode == 0, result.stderr
    found = runs_as(result.stdout)
    needs_no_root = f"{account}:{account} (needs no root, so it runs as certkernel's " \
        "unprivileged account)"
    assert found["standalone"] == needs_no_root
    assert found["dns-rfc2136"] == needs_no_root
    assert found["null"] == needs_no_root
    assert found["nginx"].startswith(
        "root (edits the root-owned nginx configuration and reloads nginx); confined by "
        "Landlock (ABI ")
    assert found["nginx"].endswith("TCP: not restricted")
    assert found["apache"].endswith("TCP: may connect, never bind")
    assert found["manual"] == (
        "root (runs the operator's own --manual-auth-hook and --manual-cleanup-hook scripts "
        "as root, as Certbot does); not confined: its manifest declares no [confine]")


def test_plugin_user_root_is_the_explicit_opt_out(
        kernel: Kernel, pebble: Pebble) -> None:
    dirs = kernel.dirs("opt-out")
    code, err, status = run_watched(
        kernel, "certkernel.plugins.standalone", "certonly", "--standalone",
        "--plugin-user", "root", "--http-01-port", str(pebble.http01_port),
        "--http-01-address", "127.0.0.1", "-d", "optout.example.org", *dirs, *common(pebble))
    assert code == 0, err
    assert status["Uid"].split() == ["0"] * 4
    listing = kernel.run("plugins", "--plugin-user", "root", *dirs)
    assert runs_as(listing.stdout)["standalone"] == (
        "root (--plugin-user root: least privilege switched off, not confined)")


def test_root_without_a_reason_is_a_manifest_error(kernel: Kernel) -> None:
    manifest = THIRD_PARTY.replace('name = "thirdparty"', 'name = "greedy"') + \
        '\n[sandbox]\nprivilege = "root"\n'
    env = install_plugin(kernel.root, "xdg-greedy", "greedy", manifest)
    result = kernel.run("plugins", *kernel.dirs("greedy"), **env)
    assert result.returncode == 0, result.stderr
    assert "greedy" not in runs_as(result.stdout)
    assert ('[sandbox] privilege = "root" needs reason = "..." saying why this plugin cannot '
            "run as an unprivileged user") in result.stdout + result.stderr


def test_root_with_a_reason_runs_as_root(kernel: Kernel) -> None:
    manifest = THIRD_PARTY.replace('name = "thirdparty"', 'name = "needy"') + \
        '\n[sandbox]\nprivilege = "root"\nreason = "talks to a root-only device"\n'
    env = install_plugin(kernel.root, "xdg-needy", "needy", manifest)
    result = kernel.run("plugins", *kernel.dirs("needy"), **env)
    assert runs_as(result.stdout)["needy"] == (
        "root (talks to a root-only device); not confined: its manifest declares no [confine]")


RACE = """
import sys
from certkernel.plugin_host.sandbox_users import ensure_account
user = ensure_account(sys.argv[1])
print(user.uid)
"""


def test_the_account_is_created_once_when_two_runs_race(account: str) -> None:
    name = f"ck-race-{os.getpid()}"
    procs = [subprocess.Popen([sys.executable, "-c", RACE, name],  # noqa: S603
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    try:
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, results
        uids = {out.strip() for out, _err in results}
        assert len(uids) == 1
        entry = pwd.getpwnam(name)
        assert str(entry.pw_uid) == uids.pop()
        assert entry.pw_shell == "/usr/sbin/nologin"
        assert not os.path.exists(entry.pw_dir)
        assert entry.pw_uid < 1000  # a system account
        lines = [ln for ln in Path("/etc/passwd").read_text().splitlines()
                 if ln.startswith(name + ":")]
        assert len(lines) == 1
    finally:
        subprocess.run(["userdel", name], check=False, timeout=60)
