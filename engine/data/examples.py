"""The unit every loader produces: texts and a label index."""

from __future__ import annotations

from typing import NamedTuple


class Example(NamedTuple):
    texts: tuple[str, ...]
    label: int
