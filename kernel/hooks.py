"""Shell hooks: ``--pre-hook``, ``--post-hook``, ``--deploy-hook``.

Pre hooks run once, just before the first certificate is actually obtained
(never when nothing is due); post hooks run at the end of such a run, even
after failures; deploy hooks run once per successfully saved lineage with
``RENEWED_LINEAGE`` and ``RENEWED_DOMAINS``, never in a dry run. A failing
hook is reported with its stderr and does not stop the run.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from certkernel import errors
from certkernel.config import Config

if TYPE_CHECKING:
    from certkernel.storage import Lineage

logger = logging.getLogger(__name__)
HOOK_TIMEOUT = 600.0


def validate_hook(command: str | None, flag: str) -> None:
    """The program a hook names must exist (Certbot's check)."""
    if not command:
        return
    try:
        program = shlex.split(command)[0]
    except (ValueError, IndexError):
        raise errors.HookCommandNotFound(f"{flag}: cannot parse {command!r}") from None
    if os.path.isabs(program) or os.sep in program:
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise errors.HookCommandNotFound(
                f"{flag}: {program} is not an executable file "
                "(use --disable-hook-validation to skip this check)"
            )
    elif shutil.which(program) is None:
        raise errors.HookCommandNotFound(
            f"Unable to find {flag} command {program} in the PATH "
            "(use --disable-hook-validation to skip this check)"
        )


def run_hook(kind: str, command: str, env: Mapping[str, str] | None = None) -> bool:
    """Run one hook through the shell; False (and its stderr shown) on failure."""
    logger.info("Running %s command: %s", kind, command)
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        result = subprocess.run(  # noqa: S602 - hooks are shell commands by design
            command, shell=True, env=full_env, capture_output=True, text=True,
            timeout=HOOK_TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        sys.stderr.write(f"{kind} command {command!r} ran longer than {HOOK_TIMEOUT:.0f} s\n")
        return False
    if result.stdout:
        logger.info("Output from %s command %s:\n%s", kind, command, result.stdout)
    if result.returncode != 0:
        sys.stderr.write(
            f"Hook '{kind}' for command {command!r} ran with error (exit {result.returncode})"
            + (f":\n{result.stderr.rstrip()}\n" if result.stderr else "\n")
        )
        return False
    if result.stderr:
        sys.stderr.write(f"Hook '{kind}' ran with error output:\n{result.stderr.rstrip()}\n")
    return True


class RunHooks:
    """The hooks of one command run (certonly, run): pre once, post at exit."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pre_ran = False
        self.failed_domains: list[str] = []
        if config.validate_hooks:
            validate_hook(config.pre_hook, "--pre-hook")
            validate_hook(config.post_hook, "--post-hook")
            validate_hook(config.deploy_hook, "--deploy-hook")

    def pre(self) -> None:
        if self.pre_ran:
            return
        self.pre_ran = True
        if self.config.pre_hook:
            run_hook("pre-hook", self.config.pre_hook)

    def deployed(self, lineage: Lineage, names: Sequence[str] | None = None) -> None:
        if self.config.dry_run or not self.config.deploy_hook:
            if self.config.dry_run and self.config.deploy_hook:
                logger.info("Dry run: skipping deploy hook command: %s", self.config.deploy_hook)
            return
        run_hook("deploy-hook", self.config.deploy_hook, {
            "RENEWED_LINEAGE": os.path.dirname(lineage.cert_path),
            "RENEWED_DOMAINS": " ".join(names or lineage.names),
        })

    def __enter__(self) -> RunHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pre_ran and self.config.post_hook:
            run_hook("post-hook", self.config.post_hook,
                     {"FAILED_DOMAINS": " ".join(self.failed_domains)})
