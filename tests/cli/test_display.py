"""Prompts honour -n/-q/--force-interactive and never loop forever."""

from __future__ import annotations

import io

import pytest

from certkernel.display import MAX_ATTEMPTS, Display
from certkernel.errors import MissingFlag


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_noninteractive_uses_default_or_names_the_flag() -> None:
    d = Display(noninteractive=True, stdin=Tty(""), stdout=io.StringIO())
    assert d.input("Email?", default="a@b.c") == (True, "a@b.c")
    assert d.yesno("Agree?", default=True) is True
    assert d.menu("Pick", ["a", "b"], default=1) == (True, 1)
    assert d.checklist("Names", ["a", "b"], default=["a"]) == (True, ["a"])
    with pytest.raises(MissingFlag) as info:
        d.input("Enter email address (used for urgent renewal notices)", cli_flag="--email")
    assert "--email" in str(info.value) and "Enter email address" in str(info.value)
    with pytest.raises(MissingFlag, match="--agree-tos"):
        d.yesno("Do you agree?", cli_flag="--agree-tos")


def test_not_a_terminal_is_noninteractive_unless_forced() -> None:
    piped = Display(stdin=io.StringIO("yes\n"), stdout=io.StringIO())
    with pytest.raises(MissingFlag, match="-w"):
        piped.directory_select("Webroot for a.test?", cli_flag="-w")
    forced = Display(force_interactive=True, stdin=io.StringIO("y\n"), stdout=io.StringIO())
    assert forced.yesno("Agree?") is True


def test_quiet_implies_noninteractive_and_silence() -> None:
    out = io.StringIO()
    d = Display(quiet=True, stdin=Tty("1\n"), stdout=out)
    d.notification("hello")
    d.notification("summary", force=True)
    assert out.getvalue() == "summary\n"
    with pytest.raises(MissingFlag):
        d.menu("Pick", ["a"], cli_flag="--cert-name")


def test_interactive_menu_retries_then_answers() -> None:
    out = io.StringIO()
    d = Display(stdin=Tty("9\nx\n2\n"), stdout=out)
    assert d.menu("Which?", ["keep", ("renew", "replace it")]) == (True, 1)
    assert out.getvalue().count("Invalid input") == 2
    assert "2: renew - replace it" in out.getvalue()


def test_cancel_eof_and_bounded_loops() -> None:
    assert Display(stdin=Tty("c\n"), stdout=io.StringIO()).menu("m", ["a"]) == (False, -1)
    assert Display(stdin=Tty(""), stdout=io.StringIO()).input("name?") == (False, "")
    garbage = "nope\n" * (MAX_ATTEMPTS + 5)
    assert Display(stdin=Tty(garbage), stdout=io.StringIO()).menu("m", ["a"]) == (False, -1)
    assert Display(stdin=Tty(garbage), stdout=io.StringIO()).yesno("ok?", default=True) is True


def test_checklist_and_directory_select() -> None:
    d = Display(stdin=Tty("2, 3\n\n~/www\n"), stdout=io.StringIO(), env={"HOME": "/nowhere"})
    assert d.checklist("Names", ["a", "b", "c"]) == (True, ["b", "c"])
    assert d.checklist("Names", ["a", "b"]) == (True, ["a", "b"])
    ok, path = d.directory_select("Webroot?")
    assert ok and path.endswith("/www") and not path.startswith("~")


def test_color_rules() -> None:
    assert Display(stdout=Tty(), env={"TERM": "xterm"}).color
    assert not Display(stdout=Tty(), env={"TERM": "xterm", "NO_COLOR": "1"}).color
    assert not Display(stdout=Tty(), env={"TERM": "dumb"}).color
    assert not Display(stdout=io.StringIO(), env={"TERM": "xterm"}).color
