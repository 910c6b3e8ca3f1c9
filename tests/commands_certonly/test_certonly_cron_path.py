"""certonly behaviours behind issue 13's cron-path bugs 6, 9 and 10, through the CLI.

6: a plugin's ``$/progress`` reaches the user (cleaned of control
characters), and not with ``-q``; 9: a failing ``--manual-auth-hook`` for
one name does not stop the run, so ``--allow-subset-of-names`` drops it;
10: a dry run right after a real issuance still answers a challenge when
the CA reuses authorizations.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from tests.infra.cli_run import (
    Dirs,
    auth_args,
    cert_names,
    ck,
    dns_hook,
    obtain,
    ok,
)
from tests.infra.pebble import Pebble

# -- 6. plugin progress ----------------------------------------------------------

PLUGIN = '''\
import json
import urllib.request

from certkernel.sdk import Authenticator, serve


class ProgressDns(Authenticator):
    """dns-01 through pebble-challtestsrv, telling the user how it goes."""

    name = "progressdns"

    def get_chall_pref(self, domain):
        return ["dns-01"]

    def _post(self, call, body):
        req = urllib.request.Request(self.options["api"] + "/" + call,
                                     data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def perform(self, challenges):
        for chall in challenges:
            self._post("set-txt", {"host": chall.validation_domain_name + ".",
                                   "value": chall.validation})
        self.kernel.progress("Waiting 1 seconds for DNS changes to propagate")
        self.kernel.progress("\\x1b[2Jcleared\\rscreen\\nline", done=1, total=2)

    def cleanup(self, challenges):
        for chall in challenges:
            self._post("clear-txt", {"host": chall.validation_domain_name + "."})


if __name__ == "__main__":
    serve(ProgressDns)
'''

MANIFEST = '''\
name = "progressdns"
description = "Test dns-01 plugin that reports progress"
version = "1.0.0"
roles = ["authenticator"]
challenges = ["dns-01"]
command = ["{{python}}", "{script}"]
protocol_versions = [1]

[[options]]
name = "api"
type = "str"
default = ""
help = "challtestsrv management URL"
'''


def _progress_plugin(root: Path) -> dict[str, str]:
    folder = root / "plugins" / "progressdns"
    folder.mkdir(parents=True)
    script = folder / "plugin.py"
    script.write_text(PLUGIN)
    (folder / "plugin.toml").write_text(MANIFEST.format(script=script))
    return {"CERTKERNEL_PLUGIN_PATH": str(root / "plugins")}


def test_plugin_progress_is_shown_cleaned_and_silenced_by_quiet(
        dirs: Dirs, pebble: Pebble, tmp_path: Path) -> None:
    env = _progress_plugin(tmp_path)
    args = ("certonly", "-a", "progressdns", "--progressdns-api", pebble.challtestsrv_url,
            "--agree-tos", "-m", "progress@example.org")

    shown = ok(ck(dirs, *args, "-d", "progress.example.org", pebble=pebble, env=env))

    assert "Waiting 1 seconds for DNS changes to propagate\n" in shown.stdout
    # The escape sequence goes whole, control characters too (terminal_text.clean).
    assert "clearedscreen line (1/2)\n" in shown.stdout
    assert "\x1b" not in shown.stdout
    assert "\r" not in shown.stdout

    quiet = ok(ck(dirs, *args, "-d", "quiet.example.org", "-q", pebble=pebble, env=env))
    assert quiet.stdout == ""

    # renew (as cron runs it) shows it too; the plugin's options come from the conf.
    renewed = ok(ck(dirs, "renew", "--cert-name", "progress.example.org", "--force-renewal",
                    "--no-random-sleep-on-renew", env=env))
    assert "Waiting 1 seconds for DNS changes to propagate\n" in renewed.stdout


# -- 9. a failing manual auth hook ---------------------------------------------


def _picky_hook(folder: Path, hook: Path, refuse: str, log: Path) -> Path:
    """An auth hook that fails for ``refuse`` and publishes every other name."""
    path = folder / "picky-hook.sh"
    path.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$CERTBOT_DOMAIN" >> {log}
        if [ "$CERTBOT_DOMAIN" = "{refuse}" ]; then
            echo "no API access for $CERTBOT_DOMAIN" >&2
            exit 1
        fi
        exec {hook}
        """))
    path.chmod(0o755)
    return path


def test_failing_auth_hook_for_one_name_is_dropped_with_allow_subset(
        dirs: Dirs, pebble: Pebble, tmp_path: Path) -> None:
    hook = dns_hook(tmp_path, pebble)
    log = tmp_path / "auth.log"
    picky = _picky_hook(tmp_path, hook, "refused.example.org", log)

    result = ck(dirs, "certonly", "--manual", "--manual-auth-hook", str(picky),
                "--manual-cleanup-hook", str(tmp_path / "cleanup-hook.py"),
                "--preferred-challenges", "dns", "-d", "kept.example.org",
                "-d", "refused.example.org", "--allow-subset-of-names",
                "--agree-tos", "-m", "subset@example.org", pebble=pebble)

    ok(result)
    # The hook was asked for both names, and for the refused one once: it was
    # dropped, not retried. (Whether kept.example.org is asked again depends on
    # whether its authorization was already valid when the first order failed.)
    asked = log.read_text().split()
    assert set(asked) == {"kept.example.org", "refused.example.org"}
    assert asked.count("refused.example.org") == 1
    assert cert_names(dirs.config, "kept.example.org") == ["kept.example.org"]
    assert "no API access for refused.example.org" in (dirs.logs / "letsencrypt.log").read_text()


# -- 10. dry run with authorizations the CA reuses -----------------------------------


def _counting_hook(folder: Path, hook: Path, log: Path) -> Path:
    path = folder / "counting-hook.sh"
    path.write_text(f"#!/bin/sh\necho \"$CERTBOT_DOMAIN\" >> {log}\nexec {hook}\n")
    path.chmod(0o755)
    return path


def test_dry_run_after_issuance_answers_a_fresh_challenge(
        pebble_factory: Callable[..., Pebble], tmp_path: Path) -> None:
    reusing = pebble_factory(authz_reuse_percent=100)
    dirs = Dirs.under(tmp_path / "install")
    log = tmp_path / "auth.log"
    hook = _counting_hook(tmp_path, dns_hook(tmp_path, reusing), log)
    ok(obtain(dirs, reusing, hook, "reused.example.org"))
    # This CA reuses authorizations: a real renewal now answers no challenge.
    ok(obtain(dirs, reusing, hook, "reused.example.org", extra=("--force-renewal",)))
    assert log.read_text().split() == ["reused.example.org"]

    dry = ok(ck(dirs, "certonly", *auth_args(hook), "-d", "reused.example.org",
                "--dry-run", "--agree-tos", "-m", "admin@example.org", pebble=reusing))

    assert "The dry run was successful." in dry.stdout
    assert log.read_text().split() == ["reused.example.org", "reused.example.org"]
    assert "Recreating order after authz deactivations" in \
        (dirs.logs / "letsencrypt.log").read_text()
