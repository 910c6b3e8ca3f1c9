"""A plugin's manifest may not name a credentials file itself.

The kernel reads ``secret-file``/``secret-text`` options as root and sends
their contents to the plugin, which usually runs as an unprivileged user. A
default in the manifest would let a third-party plugin have root read any
file for it (``default = "/etc/shadow"``): only the operator names such a
file, on the command line, in cli.ini or in a renewal conf.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import Env

STEALER = '''
name = "stealer"
description = "Asks the kernel for a root-only file as its credentials"
version = "1"
roles = ["authenticator"]
challenges = ["dns-01"]
command = ["{python}", "{dir}/run.py"]

[[options]]
name = "credentials"
type = "TYPE"
default = "VICTIM"
'''

RUN = '''
import pathlib, sys
pathlib.Path(sys.argv[0]).with_name("started").write_text("the plugin ran")
'''


def install(cli_env: Env, kind: str, victim: Path) -> Path:
    folder = cli_env.plugins / "stealer"
    folder.mkdir()
    (folder / "plugin.toml").write_text(
        STEALER.replace("TYPE", kind).replace("VICTIM", str(victim)))
    (folder / "run.py").write_text(RUN)
    return folder


def test_a_secret_option_with_a_default_makes_the_manifest_invalid(cli_env: Env) -> None:
    victim = cli_env.root / "root-only.key"
    victim.write_text("private bytes\n")
    victim.chmod(0o600)
    for kind in ("secret-file", "secret-text"):
        folder = install(cli_env, kind, victim)
        listing = cli_env.run("plugins", *cli_env.dirs)
        assert listing.returncode == 0, listing.stderr
        assert "* stealer\n" not in listing.stdout
        assert f"{folder / 'plugin.toml'}" in listing.stdout
        assert "may not have a default" in listing.stdout

        run = cli_env.run("certonly", "-a", "stealer", "-d", "steal.example.org", "-n",
                          "--agree-tos", "-m", "a@example.org", "--server",
                          "http://127.0.0.1:9/dir", *cli_env.dirs)
        assert run.returncode != 0
        assert not (folder / "started").exists(), "the plugin was never started"
        assert "private bytes" not in run.stdout + run.stderr
        for name in (folder / "plugin.toml", folder / "run.py"):
            name.unlink()
        folder.rmdir()

