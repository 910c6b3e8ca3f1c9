"""The ``certkernel`` entry point: parse, log, dispatch, turn errors into exit codes.

Command modules are imported only when chosen, so ``--help`` and
``certkernel plugins`` never pay for the ACME stack.  Errors the user can act
on (the ``certkernel.errors`` tree) are one line on stderr and exit 1; the
traceback goes to the log, or to the terminal with ``--debug``.  Anything
unexpected points the user to the log file.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from certkernel.ca.acme_problems import validation_failure_note
from certkernel.cmdline.cli import HelpRequest, UsageError, parse
from certkernel.cmdline.verbs import REGISTRY, Verb
from certkernel.errors import AuthorizationError, ConfigurationError, Error
from certkernel.fsutil import make_dirs
from certkernel.log import LogSetup, setup_logging
from certkernel.names import normalize_names, split_domain_args
from certkernel.plugin_host.discovery import Discovery, discover_all, report
from certkernel.terminal_text import clean

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.plugin_host.manifest import Manifest

logger = logging.getLogger("certkernel.main")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _verb(config: Config) -> Verb:
    """The registry entry of the run's verb (the parser accepts no other)."""
    return REGISTRY[config.verb]


def make_hook_dirs(config_dir: str) -> None:
    """``renewal-hooks/{pre,deploy,post}`` exist from the first run, as with Certbot.

    Admins (and packaging scripts) drop executables there without having to
    know the layout, so the folders must be there before any renewal.
    """
    for kind in ("pre", "deploy", "post"):
        folder = os.path.join(config_dir, "renewal-hooks", kind)
        try:
            make_dirs(folder, 0o755)
        except OSError as exc:
            raise ConfigurationError(f"cannot create {folder}: {exc.strerror or exc}") from None


def _print_error(message: str) -> None:
    sys.stderr.write(clean(message).rstrip() + "\n")
    sys.stderr.flush()


def _redacted(log_setup: LogSetup | None, text: str) -> str:
    """``text`` without registered secrets: errors are printed past the log
    handlers, and a plugin's error text may quote a credential it was given."""
    return log_setup.secret_filter.redact(text) if log_setup is not None else text


def _with_log(exc: Error, log_path: str | None) -> str:
    """The error's one line, naming the log when it holds more (not for bad input)."""
    message = str(exc) or type(exc).__name__
    if log_path and not isinstance(exc, ConfigurationError):
        message = f"{message.rstrip()} (details in {log_path})"
    return message


def _open_log(config: Config) -> LogSetup:
    """The run's log; verbs that work without one fall back to stderr only."""
    try:
        return setup_logging(config)
    except Error:
        if _verb(config).needs_log:
            raise
        return setup_logging(config, log_to_file=False)


def _before_command(config: Config, found: Discovery | None) -> None:
    """Checks and folders every command needs before it starts."""
    if _verb(config).uses_config_dir:
        if config.domains:
            # Certbot refuses a bad -d while parsing, before it makes any folder.
            normalize_names(split_domain_args(config.domains))
        make_hook_dirs(config.config_dir)
    if found is not None and _verb(config).reports_discovery:
        report(found)


def _error_message(config: Config, exc: Error, log_setup: LogSetup | None) -> str:
    """The one line (plus a validation note) shown for a certkernel error."""
    log_path = log_setup.path if log_setup else None
    message = _with_log(exc, log_path)
    if isinstance(exc, AuthorizationError):
        note = validation_failure_note(
            config.http01_port, config.http01_address, str(exc), log_path)
        message = f"{str(exc) or type(exc).__name__}\n{note}" if note else message
    return _redacted(log_setup, message)


def _unexpected_message(exc: Exception, log_setup: LogSetup | None) -> str:
    where = log_setup.path if log_setup and log_setup.path else "the log"
    text = _redacted(log_setup, str(exc))
    return (f"An unexpected error occurred: {type(exc).__name__}: {text}\n"
            f"Ask for help or search for solutions at https://community.letsencrypt.org. "
            f"See the logfile {where} for more details.")


def run_config(
    config: Config, found: Discovery | None = None, argv: Sequence[str] = ()
) -> int:
    """Run one command with logging set up; map every outcome to an exit code."""
    log_setup = None
    try:
        log_setup = _open_log(config)
        logger.debug("Arguments: %r", list(argv))
        _before_command(config, found)
        result = _verb(config).load()(config)
        return int(result or 0)
    except KeyboardInterrupt:
        logger.debug("interrupted", exc_info=True)
        _print_error("Exiting due to user request.")
        return EXIT_INTERRUPTED
    except Error as exc:
        logger.debug("error: %s", exc, exc_info=True)
        if config.debug:
            _print_error(_redacted(log_setup, traceback.format_exc()))
        _print_error(_error_message(config, exc, log_setup))
        return EXIT_ERROR
    except Exception as exc:
        logger.debug("unexpected error", exc_info=True)
        if config.debug:
            _print_error(_redacted(log_setup, traceback.format_exc()))
        _print_error(_unexpected_message(exc, log_setup))
        return EXIT_ERROR
    finally:
        if log_setup is not None:
            log_setup.close()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run certkernel with ``argv`` (without the program name); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    env = os.environ if env is None else env
    try:
        found = discover_all(env=env)
        manifests: Mapping[str, Manifest] = found.manifests
        for verb in REGISTRY.values():
            if verb.name in argv:
                manifests = verb.manifests_for(argv, manifests)
        parsed = parse(argv, manifests, env)
    except UsageError as exc:
        _print_error(f"certkernel: error: {exc}")
        return EXIT_USAGE
    except Error as exc:
        if "--debug" in argv:
            traceback.print_exc()
        _print_error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _print_error("Exiting due to user request.")
        return EXIT_INTERRUPTED
    if isinstance(parsed, HelpRequest):
        sys.stdout.write(parsed.text.rstrip("\n") + "\n")
        return EXIT_OK
    parsed = dataclasses.replace(parsed, plugin_problems=tuple(m for _p, m in found.problems))
    return run_config(parsed, found, argv)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
