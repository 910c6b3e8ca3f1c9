"""Reading nginx's configuration language one word at a time, losslessly.

The rules follow nginx's own reader (``ngx_conf_read_token``): a word ends at
whitespace, ``;`` or ``{`` (but ``${`` continues a variable), ``}`` is only
special where a word may start, ``#`` starts a comment only where a word may
start, a backslash escapes the next character, and quotes matter only at the
start of a word. Two liberties are taken so that real-world files that
other parsers accept still round-trip: text glued to a closing quote
continues the same word instead of being an error.

``*_by_lua_block`` bodies are Lua, so :meth:`Lexer.raw_block` reads them as a
balanced block that understands Lua strings and comments.
"""

from __future__ import annotations

from certkernel.sdk import MisconfigurationError

from .nodes import Word

SPACE = " \t\r\n"
_UNESCAPE = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


class Lexer:
    """A cursor over one file's text that hands out gaps, words and raw blocks."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.line = 1

    def fail(self, message: str, line: int | None = None) -> MisconfigurationError:
        """An error naming this file and line, for the parser to raise."""
        return MisconfigurationError(f"{self.path}:{line or self.line}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self) -> str:
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def gap(self) -> str:
        """Whitespace and ``#`` comments up to the next word or punctuation."""
        start = self.pos
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in SPACE:
                self.advance()
            elif ch == "#":
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
            else:
                break
        return text[start : self.pos]

    def word(self) -> Word:
        """One word starting here, with its raw text and nginx's value for it."""
        start, line = self.pos, self.line
        text = self.text
        value: list[str] = []
        variable = False
        first = True
        while self.pos < len(text):
            ch = text[self.pos]
            if first and ch in "\"'":
                # Text glued to the closing quote continues this word (nginx
                # refuses it, other tools accept it; it must round-trip).
                self._quoted(ch, value, line)
                first = False
                variable = False
                if self.peek() == ")":
                    break  # nginx ends a quoted word at ')' (``if ($a = "x")``)
                continue
            first = False
            if ch == "\\":
                self._escape(value, line)
                variable = False
                continue
            if ch == "{" and variable:
                value.append(self.advance())
                variable = False
                continue
            if ch in SPACE or ch in ";{":
                break
            variable = ch == "$"
            value.append(self.advance())
        return Word(raw=text[start : self.pos], value="".join(value), line=line)

    def _escape(self, value: list[str], line: int) -> None:
        self.advance()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file after '\\'", line)
        nxt = self.advance()
        if nxt in _UNESCAPE:
            value.append(_UNESCAPE[nxt])
        else:
            value.append("\\" + nxt)

    def _quoted(self, quote: str, value: list[str], line: int) -> None:
        self.advance()
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail(f"unterminated {quote} string starting here", line)
            ch = text[self.pos]
            if ch == "\\":
                self._escape(value, line)
            elif ch == quote:
                self.advance()
                return
            else:
                value.append(self.advance())

    def raw_block(self, line: int) -> str:
        """The Lua body after ``{`` up to its matching ``}`` (consumed, not returned)."""
        start = self.pos
        depth = 1
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "-" and text.startswith("--", self.pos):
                self.pos += 2
                level = self._long_bracket()
                if level >= 0:
                    self._skip_long(level, line)
                else:
                    while self.pos < len(text) and text[self.pos] != "\n":
                        self.pos += 1
            elif ch == "[" and self._long_bracket() >= 0:
                self._skip_long(self._long_bracket(), line)
            elif ch in "\"'":
                self._lua_string(ch, line)
            elif ch == "{":
                depth += 1
                self.advance()
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    body = text[start : self.pos]
                    self.advance()
                    return body
                self.advance()
            else:
                self.advance()
        raise self.fail("unterminated Lua block (no matching '}')", line)

    def _long_bracket(self) -> int:
        """The level of a Lua long bracket ``[==[`` here, or -1 if none."""
        text = self.text
        if self.pos >= len(text) or text[self.pos] != "[":
            return -1
        i = self.pos + 1
        while i < len(text) and text[i] == "=":
            i += 1
        if i < len(text) and text[i] == "[":
            return i - self.pos - 1
        return -1

    def _skip_long(self, level: int, line: int) -> None:
        close = "]" + "=" * level + "]"
        end = self.text.find(close, self.pos + level + 2)
        if end < 0:
            raise self.fail("unterminated Lua long string or comment", line)
        while self.pos < end + len(close):
            self.advance()

    def _lua_string(self, quote: str, line: int) -> None:
        self.advance()
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\":
                self.advance()
                if self.pos < len(text):
                    self.advance()
            elif ch == quote:
                self.advance()
                return
            else:
                self.advance()
        raise self.fail(f"unterminated {quote} string in Lua block", line)
