"""Running certkernel as a user does, and checking what it left on disk.

Shared by the command test folders (accounts, lineages, certonly): every run
is a real subprocess with ``-n`` (unless a test feeds stdin) and temporary
config/work/logs dirs, against a real Pebble.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from certkernel import crypto
from certkernel.lineages import renewal_conf
from tests.infra.pebble import Pebble

RUN_TIMEOUT = 120


@dataclass(frozen=True)
class Dirs:
    """The three directories one simulated installation uses."""

    config: Path
    work: Path
    logs: Path

    @classmethod
    def under(cls, root: Path) -> Dirs:
        dirs = cls(root / "config", root / "work", root / "logs")
        for d in (dirs.config, dirs.work, dirs.logs):
            d.mkdir(parents=True, exist_ok=True)
        return dirs

    def args(self) -> list[str]:
        return ["--config-dir", str(self.config), "--work-dir", str(self.work),
                "--logs-dir", str(self.logs)]


def ck(dirs: Dirs, *args: str, pebble: Pebble | None = None, stdin: str | None = None,
       interactive: bool = False, env: dict[str, str] | None = None,
       python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``python -m certkernel ARGS`` with the dirs (and the Pebble server, when given)."""
    argv = [sys.executable, *python_flags, "-m", "certkernel", *args, *dirs.args()]
    if pebble is not None:
        argv += ["--server", pebble.directory_url, "--ca-bundle", pebble.ca_bundle]
    if interactive:
        argv.append("--force-interactive")
    else:
        argv.append("-n")
    full_env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    full_env.update(env or {})
    return subprocess.run(argv, input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=full_env)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """The error text of a run that must have failed with exit 1."""
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stderr


def dns_hook(folder: Path, pebble: Pebble) -> Path:
    """A manual auth hook publishing the TXT record through challtestsrv.

    A cleanup hook (``cleanup-hook.py`` beside it) clears the record again:
    challtestsrv only adds values, and a name used by many orders would
    otherwise grow a TXT answer too big for DNS.
    """
    calls = {"dns-auth-hook.py": ("set-txt", ', "value": os.environ["CERTBOT_VALIDATION"]'),
             "cleanup-hook.py": ("clear-txt", "")}
    for file_name, (call, value) in calls.items():
        path = folder / file_name
        path.write_text(textwrap.dedent(f"""\
            #!{sys.executable}
            import json, os, urllib.request
            body = json.dumps({{"host": "_acme-challenge." + os.environ["CERTBOT_DOMAIN"] + "."
                               {value}}}).encode()
            req = urllib.request.Request("{pebble.challtestsrv_url}/{call}", data=body,
                                         method="POST")
            urllib.request.urlopen(req, timeout=10).read()
            """))
        path.chmod(0o755)
    return folder / "dns-auth-hook.py"


def auth_args(hook: Path) -> list[str]:
    return ["--manual", "--manual-auth-hook", str(hook),
            "--manual-cleanup-hook", str(hook.parent / "cleanup-hook.py"),
            "--preferred-challenges", "dns"]


def obtain(dirs: Dirs, pebble: Pebble, hook: Path, *names: str,
           extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``certonly`` for ``names`` with the dns-01 hook, agreeing to everything."""
    domains = [a for n in names for a in ("-d", n)]
    return ck(dirs, "certonly", *auth_args(hook), *domains, "--agree-tos", "-m",
              "admin@example.org", *extra, pebble=pebble)


def check_lineage(config_dir: Path, name: str) -> renewal_conf.RenewalConf:
    """Everything a user relies on about one lineage; returns its renewal conf."""
    live = config_dir / "live" / name
    for kind in ("cert", "chain", "fullchain", "privkey"):
        link = live / f"{kind}.pem"
        assert link.is_symlink(), link
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link} -> {target} is not relative"
        assert (link.parent / target).resolve().parent == (config_dir / "archive" / name).resolve()
    key = (live / "privkey.pem").read_bytes()
    cert = (live / "cert.pem").read_bytes()
    chain = (live / "chain.pem").read_bytes()
    assert crypto.key_matches_cert(key, cert)
    assert (live / "fullchain.pem").read_bytes() == cert + chain
    assert stat.S_IMODE(os.stat(live / "privkey.pem").st_mode) == 0o600
    for kind in ("cert", "chain", "fullchain"):
        assert stat.S_IMODE(os.stat(live / f"{kind}.pem").st_mode) & 0o044 == 0o044
    conf_path = config_dir / "renewal" / f"{name}.conf"
    conf = renewal_conf.read(str(conf_path))
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, f"{name}.conf")
        again = renewal_conf.write(copy, conf.archive_dir,
                                   {k: conf.link(k) for k in ("cert", "privkey", "chain",
                                                              "fullchain")},
                                   conf.params.as_dict(), version="test")
        again = renewal_conf.read(copy)
    assert again.params.as_dict() == conf.params.as_dict()
    assert os.path.samefile(conf.cert, live / "cert.pem")
    return conf


def cert_names(config_dir: Path, name: str) -> list[str]:
    return sorted(crypto.cert_info((config_dir / "live" / name / "cert.pem").read_bytes()).names)


def dns_hooks(folder: Path, pebble: Pebble) -> list[str]:
    """``--manual`` dns-01 flags whose hooks set and clear the TXT record in challtestsrv."""
    auth = dns_hook(folder, pebble)
    return ["-a", "manual", "--manual-auth-hook", str(auth),
            "--manual-cleanup-hook", str(auth.parent / "cleanup-hook.py"),
            "--preferred-challenges", "dns"]
