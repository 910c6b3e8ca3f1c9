"""Terminal prompts and notices: the only place certkernel talks to a human.

Plugins never prompt themselves; they ask the kernel, which ends up here.
Rules, as Certbot's: with ``-n`` (or ``-q``, or no terminal on stdin unless
``--force-interactive``) a prompt returns its default, and without a default
it raises :class:`MissingFlag` naming the flag that answers it.
``-q`` silences notices.  Colour only on a terminal, never with ``NO_COLOR``
or ``TERM=dumb``.  Every re-prompt loop is bounded.

Every text shown here may come from a plugin (``display/*`` callbacks), so
each one is cleaned of escape sequences and control characters first
(:mod:`certkernel.terminal_text`): a plugin cannot set the window title,
clear the screen, overwrite a line or write the clipboard through a prompt.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING

from certkernel.errors import MissingFlag
from certkernel.terminal_text import clean

if TYPE_CHECKING:
    from certkernel.config import Config

MAX_ATTEMPTS = 10
_BOLD = "\033[1m"
_RESET = "\033[0m"


class Display:
    """Prompts and notifications honouring -n, --force-interactive and -q."""

    def __init__(
        self,
        noninteractive: bool = False,
        force_interactive: bool = False,
        quiet: bool = False,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.quiet = quiet
        self.force_interactive = force_interactive
        self.noninteractive = noninteractive or quiet
        env = os.environ if env is None else env
        self.color = (
            _isatty(self.stdout) and "NO_COLOR" not in env and env.get("TERM", "") != "dumb"
        )

    @classmethod
    def from_config(
        cls, config: Config, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Display:
        return cls(config.noninteractive_mode, config.force_interactive, config.quiet, stdin, stdout, env)

    @property
    def interactive(self) -> bool:
        """Whether a human can answer: not -n/-q, and a terminal (or forced)."""
        if self.noninteractive:
            return False
        return self.force_interactive or _isatty(self.stdin)

    # -- output ---------------------------------------------------------------
    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _bold(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.color else text

    def notification(self, message: str, pause: bool = False, wrap: bool = True, force: bool = False) -> None:
        """Show a notice; silenced by -q unless ``force`` (for errors and summaries)."""
        if self.quiet and not force:
            return
        message = clean(message)
        text = _wrap(message) if wrap else message
        self._write(text + "\n")
        if pause and self.interactive:
            self._write("Press Enter to Continue")
            self.stdin.readline()
            self._write("\n")

    # -- prompts --------------------------------------------------------------
    def _unanswerable(self, message: str, default: object, cli_flag: str | None) -> None:
        if default is None:
            first = message.strip().splitlines()[0] if message.strip() else "a value is needed"
            hint = f"use {clean(cli_flag, newlines=False)}" if cli_flag else "no flag answers it; run interactively"
            raise MissingFlag(
                f"Missing command line flag or config entry for this setting: {first} ({hint})",
                flag=cli_flag,
            )

    def _read(self, prompt: str) -> str | None:
        self._write(prompt)
        line = self.stdin.readline()
        if not line:  # EOF: the user cannot answer, treat as cancel
            self._write("\n")
            return None
        return line.rstrip("\r\n")

    def input(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> tuple[bool, str]:
        """Free text as ``(ok, text)``; ok is False when cancelled ('c' or EOF)."""
        message = clean(message)
        if not self.interactive:
            self._unanswerable(message, default, cli_flag)
            return True, default or ""
        answer = self._read(self._bold(_wrap(message)) + " (Enter 'c' to cancel): ")
        if answer is None or answer.strip().lower() == "c":
            return False, ""
        return True, answer

    def yesno(
        self, message: str, yes_label: str = "Yes", no_label: str = "No",
        default: bool | None = None, cli_flag: str | None = None,
    ) -> bool:
        message = clean(message)
        yes_label, no_label = clean(yes_label, newlines=False), clean(no_label, newlines=False)
        if not self.interactive:
            self._unanswerable(message, default, cli_flag)
            assert default is not None
            return default
        suffix = f" ({yes_label}/{no_label})"
        for _ in range(MAX_ATTEMPTS):
            answer = self._read(self._bold(_wrap(message)) + suffix + ": ")
            if answer is None:
                break
            low = answer.strip().lower()
            if low and (low in ("y", "yes") or yes_label.lower().startswith(low)):
                return True
            if low and (low in ("n", "no") or no_label.lower().startswith(low)):
                return False
            if not low and default is not None:
                return default
        if default is not None:
            return default
        return False

    def menu(
        self, message: str, choices: Sequence[str | tuple[str, str]], default: int | None = None,
        cli_flag: str | None = None,
    ) -> tuple[bool, int]:
        """``(ok, index)`` of the chosen entry; ok is False when cancelled."""
        message = clean(message)
        if not self.interactive:
            self._unanswerable(message, default, cli_flag)
            assert default is not None
            return True, default
        labels = [c if isinstance(c, str) else f"{c[0]} - {c[1]}" for c in choices]
        self._numbered(message, labels)
        for _ in range(MAX_ATTEMPTS):
            answer = self._read(
                f"Select the appropriate number [1-{len(labels)}] then [enter] (press 'c' to cancel): "
            )
            if answer is None or answer.strip().lower() == "c":
                return False, -1
            if answer.strip().isdigit() and 1 <= int(answer) <= len(labels):
                return True, int(answer) - 1
            self._write(f"** Invalid input: enter a number between 1 and {len(labels)} **\n")
        return False, -1

    def _numbered(self, message: str, labels: Sequence[str]) -> None:
        """The message and its 1-based numbered list between dashes (menu and checklist)."""
        lines = [_wrap(clean(message)), "-" * 40,
                 *(f"{i}: {clean(label, newlines=False)}" for i, label in enumerate(labels, 1)),
                 "-" * 40]
        self._write("\n".join(lines) + "\n")

    def checklist(
        self, message: str, tags: Sequence[str], default: Sequence[str] | None = None,
        cli_flag: str | None = None,
    ) -> tuple[bool, list[str]]:
        """``(ok, tags)`` chosen (blank answer = all); ok is False when cancelled."""
        message = clean(message)
        if not self.interactive:
            self._unanswerable(message, default, cli_flag)
            return True, list(default or [])
        self._numbered(message, tags)
        for _ in range(MAX_ATTEMPTS):
            answer = self._read(
                "Select the appropriate numbers separated by commas and/or spaces, or leave "
                "input blank to select all options shown (Enter 'c' to cancel): "
            )
            if answer is None or answer.strip().lower() == "c":
                return False, []
            parts = answer.replace(",", " ").split()
            if not parts:
                return True, list(tags)
            if all(p.isdigit() and 1 <= int(p) <= len(tags) for p in parts):
                picked = sorted({int(p) - 1 for p in parts})
                return True, [tags[i] for i in picked]
            self._write("** Invalid input: use the numbers shown **\n")
        return False, []

    def directory_select(
        self, message: str, default: str | None = None, cli_flag: str | None = None
    ) -> tuple[bool, str]:
        """``(ok, path)`` typed by the user (``~`` expanded); ok is False when cancelled."""
        for _ in range(MAX_ATTEMPTS):
            ok, answer = self.input(message, default, cli_flag)
            if not ok:
                return False, ""
            path = os.path.expanduser(answer.strip())
            if path or not self.interactive:
                return bool(path), path
        return False, ""


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def on_terminal() -> bool:
    """stdout is a terminal: show progress lines, and no unattended delay before a renew."""
    return _isatty(sys.stdout)


def _wrap(message: str) -> str:
    return "\n".join(
        textwrap.fill(p, 80, break_long_words=False, break_on_hyphens=False) if p.strip() else p
        for p in message.splitlines()
    )


def say(config: Config, text: str) -> None:
    """A result line for the user on stdout (not the log), silent with ``-q``.

    What a command reports as its outcome ("Successfully received
    certificate.") goes here; questions and notices go through :class:`Display`.
    """
    if not config.quiet:
        sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()
