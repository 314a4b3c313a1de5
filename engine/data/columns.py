"""Reading one column of a row, with the error a user can act on.

Shared by the row adapters (engine.data.adapters, engine.data.code_adapters):
a RowError names the column and what was expected; the reader adds the file
and line (or dataset and row) it came from.
"""

from __future__ import annotations

from typing import Any

from engine.data.rows import Row, RowError
from engine.errors import did_you_mean


def field(row: Row, name: str) -> Any:
    if name not in row:
        raise RowError(
            f"missing column '{name}'{did_you_mean(name, row)} "
            f"(columns present: {', '.join(row) or 'none'})"
        )
    return row[name]


def text(row: Row, name: str, allow_empty: bool = False) -> str:
    """A text column; None reads as "" when `allow_empty`."""
    value = field(row, name)
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str):
        raise RowError(f"column '{name}' must be text, got {value!r}")
    return value


def text_list(row: Row, name: str) -> list[str]:
    value = field(row, name)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RowError(f"column '{name}' must be a list of texts, got {value!r}")
    return value
