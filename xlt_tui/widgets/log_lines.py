"""Pure text logic behind the Monitor's log: folding long lines into rows of
a given width, and finding a search query in lines. No widgets here, so the
rules can be tested without an app."""

from __future__ import annotations

import re

from rich.cells import cell_len, chop_cells

_CONTROL = re.compile("[\u0000-\u0008\u000b-\u001f\u007f]")


def clean_line(line: str) -> str:
    """A line as the log stores and shows it: tabs expanded (8 columns, as a
    terminal does), other control characters shown as "�" so an escape
    sequence in the engine's output cannot move the cursor or recolour the
    screen (the same rule as Textual's own Log)."""
    return _CONTROL.sub("�", line.expandtabs())


def fold(line: str, width: int) -> list[int]:
    """Where each row of `line` starts, folded at `width` cells.

    Folding cuts at the cell, not at a word, as `less` and terminals do, so a
    row never reflows when a word grows and wide (CJK) characters never split.
    An empty line is one row."""
    if width < 1 or not line:
        return [0]
    if line.isascii():  # one cell a character: the common, fast case
        return list(range(0, len(line), width))
    starts, offset = [], 0
    for piece in chop_cells(line, width):
        starts.append(offset)
        offset += len(piece)
    return starts or [0]


def line_width(line: str) -> int:
    return len(line) if line.isascii() else cell_len(line)


def search_pattern(query: str) -> re.Pattern[str] | None:
    """The query as a literal pattern, "smart case" as `less -i` and vim's
    'smartcase' do: case ignored unless the query has a capital letter.
    None for an empty query."""
    if not query:
        return None
    flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
    return re.compile(re.escape(query), flags)


def find_all(pattern: re.Pattern[str], line: str) -> list[tuple[int, int]]:
    """(start, end) of each match of `pattern` in `line`."""
    return [m.span() for m in pattern.finditer(line)]
