"""The ``certkernel`` entry point: parse, log, dispatch, turn errors into exit codes.

Command modules are imported only when chosen, so ``--help`` and
``certkernel plugins`` never pay for the ACME stack.  Errors the user can act
on (the ``certkernel.errors`` tree) are one line on stderr and exit 1; the
traceback goes to the log, or to the terminal with ``--debug``.  Anything
unexpected points the user to the log file.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from certkernel.errors import Error

if TYPE_CHECKING:
    from certkernel.config import Config
    from certkernel.plugin_host.discovery import Discovery

logger = logging.getLogger("certkernel.main")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Commands that must work without a writable --logs-dir (read-only listings).
_OPTIONAL_LOG_VERBS = frozenset({"plugins"})


def _module_name(verb: str) -> str:
    return "certkernel.commands." + verb.replace("-", "_")


def _load_command(verb: str):  # type: ignore[no-untyped-def]
    name = _module_name(verb)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise
    return getattr(module, "run", None)


def _print_error(message: str) -> None:
    sys.stderr.write(message.rstrip() + "\n")
    sys.stderr.flush()


def _with_log(exc: Error, log_path: str | None) -> str:
    """The error's one line, naming the log when it holds more (not for bad input)."""
    from certkernel.errors import ConfigurationError

    message = str(exc) or type(exc).__name__
    if log_path and not isinstance(exc, ConfigurationError):
        message = f"{message.rstrip()} (details in {log_path})"
    return message


def run_config(
    config: Config, found: Discovery | None = None, argv: Sequence[str] = ()
) -> int:
    """Run one command with logging set up; map every outcome to an exit code."""
    from certkernel.log import setup_logging

    log_setup = None
    try:
        try:
            log_setup = setup_logging(config)
        except Error:
            if config.verb not in _OPTIONAL_LOG_VERBS:
                raise
            log_setup = setup_logging(config, log_to_file=False)
        logger.debug("Arguments: %r", list(argv))
        if found is not None and config.verb != "plugins":
            from certkernel.plugin_host.discovery import report

            report(found)
        command = _load_command(config.verb)
        if command is None:
            _print_error(f"The {config.verb!r} subcommand is not implemented yet in certkernel.")
            return EXIT_ERROR
        result = command(config)
        return int(result or 0)
    except KeyboardInterrupt:
        logger.debug("interrupted", exc_info=True)
        _print_error("Exiting due to user request.")
        return EXIT_INTERRUPTED
    except Error as exc:
        logger.debug("error: %s", exc, exc_info=True)
        if config.debug:
            traceback.print_exc()
        _print_error(_with_log(exc, log_setup.path if log_setup else None))
        return EXIT_ERROR
    except Exception as exc:
        logger.debug("unexpected error", exc_info=True)
        if config.debug:
            traceback.print_exc()
        where = log_setup.path if log_setup and log_setup.path else "the log"
        _print_error(
            f"An unexpected error occurred: {type(exc).__name__}: {exc}\n"
            f"Ask for help or search for solutions at https://community.letsencrypt.org. "
            f"See the logfile {where} for more details."
        )
        return EXIT_ERROR
    finally:
        if log_setup is not None:
            log_setup.close()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run certkernel with ``argv`` (without the program name); return the exit code."""
    from certkernel.cli import HelpRequest, UsageError, parse
    from certkernel.plugin_host.discovery import discover_all

    argv = sys.argv[1:] if argv is None else list(argv)
    env = os.environ if env is None else env
    try:
        found = discover_all(env=env)
        parsed = parse(argv, found.manifests, env)
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
