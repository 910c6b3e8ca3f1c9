#!/usr/bin/env python3
"""Generate the man page and the bash/zsh completions from the argument parser.

    python scripts/gen-manual.py            # rewrite share/man and the completions in share/
    python scripts/gen-manual.py --check    # exit 1 if the committed files are stale

The man page is rendered by argparse-manpage and the completions by shtab,
both from :func:`certkernel.cmdline.cli_manual.manual_parser` (every option of the
real parser, with the flag table's help, for the built-in plugins only).
They are committed so a wheel build needs neither tool; setup.py installs
them under share/man/man1, share/bash-completion/completions and
share/zsh/site-functions.  Run this after changing a flag or a manifest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# share/ mirrors where setup.py installs them (under the environment's prefix).
MAN = ROOT / "share" / "man" / "man1" / "certkernel.1"
BASH = ROOT / "share" / "bash-completion" / "completions" / "certkernel"
ZSH = ROOT / "share" / "zsh" / "site-functions" / "_certkernel"

EXTRA_SECTIONS = r"""
.SH FILES
.TP
.I /etc/letsencrypt
Configuration: live/, archive/, renewal/<name>.conf, accounts/, renewal-hooks/ (\-\-config\-dir).
.TP
.I /etc/letsencrypt/cli.ini
Default options, one "flag = value" per line.
.TP
.I /var/log/letsencrypt/letsencrypt.log
The log of the last run; older runs are letsencrypt.log.1, .2 ... (\-\-logs\-dir, \-\-max\-log\-backups).
.TP
.I /var/lib/letsencrypt
Working files, checkpoints, and certkernel.prom, the Prometheus textfile (\-\-work\-dir, \-\-metrics\-file).
.TP
.I /etc/systemd/system/certkernel.timer, /etc/cron.d/certkernel
Automatic renewal, written by "certkernel schedule install".
.SH EXIT STATUS
0 on success, 1 on an error (one line on stderr; details in the log), 2 on a malformed command line, 130 when interrupted.
.SH SEE ALSO
.BR certbot (1),
.BR systemd.timer (5),
.BR cron (8).
The user guide: docs/README.md in the source tree.
"""


def render() -> dict[Path, str]:
    import shtab
    from argparse_manpage.manpage import Manpage

    from certkernel.cmdline.cli_manual import manual_parser
    from certkernel.plugin_host.discovery import candidate_files
    from certkernel.plugin_host.manifest import load_manifest
    from certkernel.version import __version__ as version

    manifests = {}
    for path, origin in candidate_files(env={}):
        if origin == "builtin":
            manifest = load_manifest(path, origin)
            manifests[manifest.name] = manifest
    manifests = dict(sorted(manifests.items()))
    parser = manual_parser(manifests)
    page = Manpage(parser, _data={"project_name": "certkernel", "version": version,
                                  "manual_title": "certkernel manual", "date": version})
    page.description = "an ACME client with a small kernel and out-of-process plugins"
    man = str(page).rstrip("\n") + "\n" + EXTRA_SECTIONS.lstrip("\n")
    return {MAN: man, BASH: shtab.complete(parser, shell="bash"),
            ZSH: shtab.complete(parser, shell="zsh")}


def main(argv: list[str] | None = None) -> int:
    opts = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    opts.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = opts.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        verb = "stale" if args.check else "wrote"
        print(f"{verb}: {path.relative_to(ROOT)}", file=sys.stderr if args.check else sys.stdout)
    if args.check and stale:
        print("run: python scripts/gen-manual.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
