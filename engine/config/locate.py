"""Where a key is written in a TOML file, for the line number of an error.

tomllib gives values, not positions, so the file's text is scanned for table
headers ([train.intermediate]) and `key = value` lines, dotted keys included.
A key inside an inline table or a multi-line array is found at the line of
the key that holds it. Good enough for a message; never used for values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)


def _parts(dotted: str) -> tuple[str, ...]:
    out = []
    for token in _PART.findall(dotted):
        if token.startswith('"'):
            token = json.loads(token)
        elif token.startswith("'"):
            token = token[1:-1]
        out.append(token)
    return tuple(out)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Each table header and key written in `text`: its full path -> its
    first line (1-based)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    open_string = ""  # inside a multi-line string: its delimiter
    for number, line in enumerate(text.splitlines(), start=1):
        if open_string:
            if line.count(open_string) % 2 == 1:
                open_string = ""
            continue
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            _note(lines, table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            _note(lines, table + _parts(assign.group(1)), number)
            rest = line[assign.end() :]
            for quotes in ('"""', "'''"):
                if rest.count(quotes) % 2 == 1:
                    open_string = quotes
    return lines


def _note(lines: dict, path: tuple[str, ...], number: int) -> None:
    # [tasks.sent.files] also opens [tasks.sent], if nothing did before.
    for end in range(1, len(path) + 1):
        lines.setdefault(path[:end], number)


def line_of(text: str, places: Iterable[tuple]) -> int | None:
    """The line of the first of `places` (key paths) written in `text`, else of
    the nearest key or table that holds one; None when none is written."""
    lines = key_lines(text)
    places = [tuple(str(p) for p in place) for place in places]
    for place in places:
        if place in lines:
            return lines[place]
    for place in places:
        for end in range(len(place) - 1, 0, -1):
            if place[:end] in lines:
                return lines[place[:end]]
    return None
