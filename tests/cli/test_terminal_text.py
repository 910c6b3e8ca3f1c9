"""What is removed from a plugin's text before a terminal or a log sees it."""

from __future__ import annotations

import pytest

from certkernel.terminal_text import as_log_lines, clean, clean_value


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b]0;title\x07after", "after"),  # OSC window title, BEL-terminated
    ("\x1b]52;c;ZXZpbA==\x1b\\after", "after"),  # OSC 52 clipboard, ST-terminated
    ("\x1b[2J\x1b[Hafter", "after"),  # clear screen, cursor home
    ("\x1b[38;5;196mred", "red"),  # CSI with parameters
    ("\x9b31mred\x9d0;t\x9cafter", "redafter"),  # 8-bit CSI, OSC and ST
    ("\x1bPq#0;2;0;0;0\x1b\\after", "after"),  # DCS (sixel)
    ("\x1b7saved\x1b8", "saved"),  # two-byte ESC sequences
    ("line\rAll good", "lineAll good"),  # carriage return cannot overwrite
    ("bell\x07 del\x7f nul\x00", "bell del nul"),
    ("\u202etxt.exe", "txt.exe"),  # bidi override
    ("tab\there\nnext", "tab\there\nnext"),  # tab and newline kept
    ("unterminated \x1b]0;title", "unterminated "),
])
def test_clean(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_single_line_and_nested_values() -> None:
    assert clean("a\nb", newlines=False) == "ab"
    assert clean_value({"message": "x\x1b[2J", "done": 1, "list": ["\x07y"]}) == \
        {"message": "x", "done": 1, "list": ["y"]}


def test_every_line_of_a_plugin_message_carries_its_name() -> None:
    assert as_log_lines("[p]", "one\nAll good\x1b[2K") == "one\n[p] All good"
