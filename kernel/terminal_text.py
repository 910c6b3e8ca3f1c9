"""Text from a plugin made safe for a terminal and a log file.

Why: a plugin's messages end up on root's terminal and in
``letsencrypt.log``, which root later reads with ``less`` or ``cat``. Raw
escape sequences there can set the window title, clear the screen, move the
cursor to overwrite what certkernel printed, or write the clipboard (OSC
52). So every string a plugin sends is passed through :func:`clean` before
it is shown or logged: escape sequences (CSI, OSC, DCS, SOS, PM, APC and
two-byte ESC sequences, 7-bit and 8-bit forms) are removed whole, other C0
and C1 controls and DEL are removed, and the Unicode bidirectional overrides
that reorder what is displayed are removed too. Newlines are kept only where
a caller allows them (a prompt may have several lines; a log line may not
fake another one).
"""

from __future__ import annotations

import re

# ESC [ ... final byte; CSI as 8-bit (U+009B) too.
_CSI = r"(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?"
# OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \\ or U+009C), or to the end.
_STRING = r"(?:\x1b[\]P^_X]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
# Any other ESC sequence: intermediates then one final byte.
_ESC = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCE = re.compile(f"{_STRING}|{_CSI}|{_ESC}")
# C0 except tab and newline, DEL, C1, bidi embeddings/overrides/isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_NO_NL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, newlines: bool = True) -> str:
    """``text`` without escape sequences or control characters (tab kept).

    With ``newlines=False`` line breaks are removed as well, for text that
    must stay on one line (a single log record, a menu label).
    """
    text = _SEQUENCE.sub("", text)
    return (_CONTROLS if newlines else _CONTROLS_NO_NL).sub("", text)


def clean_value(value: object) -> object:
    """:func:`clean` applied to every string inside lists and dicts (for $/progress)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean(str(k)): clean_value(v) for k, v in value.items()}
    return value


def as_log_lines(prefix: str, text: str) -> str:
    """``text`` cleaned, every line starting with ``prefix`` so none can pose as the kernel's."""
    lines = clean(text).split("\n")
    return f"\n{prefix} ".join(lines)
