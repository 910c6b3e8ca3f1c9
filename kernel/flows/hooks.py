"""Shell hooks: ``--pre-hook``, ``--post-hook``, ``--deploy-hook``.

Pre hooks run once, just before the first certificate is actually obtained
(never when nothing is due); post hooks run at the end of such a run, even
after failures; deploy hooks run once per successfully saved lineage with
``RENEWED_LINEAGE`` and ``RENEWED_DOMAINS``, never in a dry run. A failing
hook is reported with its stderr and does not stop the run.

Every verb runs them the same way: :class:`ShellHookEvents` registers
:class:`ShellHooks` on the run's event bus (:mod:`certkernel.flows.lifecycle`),
so an installed ``certkernel.events`` extension sees exactly the moments the
shell hooks do.
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
from certkernel.events import hookimpl

if TYPE_CHECKING:
    from certkernel.lineages.storage import Lineage

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


# -- directory hooks (renew only) and the hooks of one run ---------------------

HOOK_KINDS = ("pre", "deploy", "post")


def directory_hooks(config_dir: str, kind: str) -> list[str]:
    """Executables in ``<config-dir>/renewal-hooks/<kind>/``, in byte order.

    Certbot runs them for ``renew`` only; files that are not executable are
    skipped with a warning (a common mistake is forgetting ``chmod +x``).
    """
    folder = os.path.join(config_dir, "renewal-hooks", kind)
    try:
        names = sorted(os.listdir(folder), key=os.fsencode)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        logger.warning("Cannot list %s: %s", folder, exc.strerror)
        return []
    found: list[str] = []
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(".") or name.endswith("~") or not os.path.isfile(path):
            continue
        if not os.access(path, os.X_OK):
            logger.warning("Skipping %s hook %s: it is not executable", kind, path)
            continue
        found.append(path)
    return found


def validate_hooks(config: Config) -> None:
    """Every hook command given on the command line names a program that exists."""
    if config.validate_hooks:
        validate_hook(config.pre_hook, "--pre-hook")
        validate_hook(config.post_hook, "--post-hook")
        validate_hook(config.deploy_hook, "--deploy-hook")


def deploy_env(lineage: Lineage, names: Sequence[str] | None = None) -> dict[str, str]:
    """What a deploy hook is told: the lineage's live folder and its names."""
    return {
        "RENEWED_LINEAGE": os.path.dirname(lineage.cert_path),
        "RENEWED_DOMAINS": " ".join(names or lineage.names),
    }


def post_env(renewed: Sequence[str], failed: Sequence[str]) -> dict[str, str]:
    """What a post hook is told: the names renewed and those that failed in the run."""
    return {"RENEWED_DOMAINS": " ".join(renewed), "FAILED_DOMAINS": " ".join(failed)}


class ShellHooks:
    """The shell hooks of one run across all its lineages (thread-safe).

    One implementation for every verb: ``certonly``, ``run`` and ``--csr``
    see one lineage whose hooks are the command line's; ``renew`` sees many,
    each with its own. Directory hooks (``renewal-hooks/``) are read only
    when ``directories`` is true, which only ``renew`` asks for (Certbot).
    Each lineage brings its own ``pre_hook``/``post_hook``/``deploy_hook``
    (from its renewal conf, or the command line). Directory hooks run first,
    then the lineage's command unless it is the path of a directory hook.
    Pre hooks run once per distinct command, just before the first lineage
    that needs them is obtained; post hooks run once per distinct command at
    the end, even after failures, with ``RENEWED_DOMAINS`` (the names of the
    lineages renewed, simulated ones in a dry run) and ``FAILED_DOMAINS``,
    as Certbot 5 sets them; deploy hooks run per successful lineage and
    never in a dry run.
    """

    def __init__(self, config: Config, directories: bool = False) -> None:
        import threading

        self.config = config
        self.dry_run = config.dry_run
        self._lock = threading.Lock()
        self._dir: dict[str, list[str]] = {
            kind: directory_hooks(config.config_dir, kind)
            if directories and config.directory_hooks else []
            for kind in HOOK_KINDS
        }
        self._dir_paths = {p for paths in self._dir.values() for p in paths}
        self._pre_done: set[str] = set()
        self._dir_pre_done = False
        self._post: list[str] = []
        self.failed_domains: list[str] = []
        self._renewed: dict[str, list[str]] = {}  # lineage name -> its names
        self.attempted = False
        validate_hooks(config)

    def _is_dir_hook(self, command: str) -> bool:
        return command.strip() in self._dir_paths

    def pre(self, lineage_config: Config) -> None:
        """Before obtaining one lineage: dir pre hooks once, its pre hook once per command."""
        with self._lock:
            self.attempted = True
            if not self._dir_pre_done:
                self._dir_pre_done = True
                for path in self._dir["pre"]:
                    run_hook("pre-hook", path)
            command = lineage_config.pre_hook
            if command and command not in self._pre_done and not self._is_dir_hook(command):
                self._pre_done.add(command)
                run_hook("pre-hook", command)
            post = lineage_config.post_hook
            if post and post not in self._post and not self._is_dir_hook(post):
                self._post.append(post)

    def deployed(self, lineage_config: Config, lineage: Lineage,
                 names: Sequence[str] | None = None) -> None:
        """After one lineage was saved: dir deploy hooks, then its deploy hook."""
        commands = list(self._dir["deploy"])
        command = lineage_config.deploy_hook
        if command and not self._is_dir_hook(command):
            commands.append(command)
        if self.dry_run and not self.config.run_deploy_hooks:  # --run-deploy-hooks: Certbot 2.x
            for cmd in commands:
                logger.info("Dry run: skipping deploy hook command: %s", cmd)
            return
        env = deploy_env(lineage, names)
        for cmd in commands:
            run_hook("deploy-hook", cmd, env)

    def renewed(self, lineage_name: str, names: Sequence[str]) -> None:
        """A lineage got its new certificate (or simulated one)."""
        with self._lock:
            self._renewed[lineage_name] = list(names)

    def failed(self, names: Sequence[str], lineage_name: str = "") -> None:
        """A lineage failed (also after it was renewed: its deployment failed)."""
        with self._lock:
            self._renewed.pop(lineage_name, None)
            self.failed_domains.extend(names)

    @property
    def renewed_domains(self) -> list[str]:
        return [name for names in self._renewed.values() for name in names]

    def post(self) -> None:
        """At the end of the run, when something was attempted: dir then saved post hooks."""
        with self._lock:
            if not self.attempted:
                return
            env = post_env(self.renewed_domains, self.failed_domains)
            for path in self._dir["post"]:
                run_hook("post-hook", path, env)
            for command in self._post:
                run_hook("post-hook", command, env)
            self.attempted = False


class ShellHookEvents:
    """The shell hooks as an implementation of :mod:`certkernel.events`."""

    def __init__(self, hooks: ShellHooks) -> None:
        self.hooks = hooks

    def register_on(self, manager: object) -> None:
        """Register on a pluggy manager (hookimpls bound lazily to avoid importing pluggy)."""
        hooks = self.hooks

        class _Impl:
            @hookimpl
            def before_obtain(self, config: Config) -> None:
                hooks.pre(config)

            @hookimpl
            def lineage_obtained(self, lineage: Lineage | None, names: Sequence[str]) -> None:
                hooks.renewed(lineage.name if lineage is not None else " ".join(names), names)

            @hookimpl
            def lineage_renewed(self, lineage: Lineage | None, names: Sequence[str]) -> None:
                hooks.renewed(lineage.name if lineage is not None else " ".join(names), names)

            @hookimpl
            def renewal_failed(self, lineage_name: str, names: Sequence[str]) -> None:
                hooks.failed(names, lineage_name)

            @hookimpl
            def lineage_deployed(self, config: Config, lineage: Lineage,
                                 names: Sequence[str]) -> None:
                hooks.deployed(config, lineage, names)

            @hookimpl
            def run_finished(self) -> None:
                hooks.post()

        manager.register(_Impl(), name="certkernel.shell-hooks")  # type: ignore[attr-defined]
