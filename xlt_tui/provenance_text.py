"""A run's provenance (the run record's `provenance`: xlt version and git
commit, library versions, device, precision, data fingerprints) as short lines
for the detail panels of the Runs and Results screens.

Read defensively: runs recorded before provenance existed have none, and the
engine may add keys; unknown keys are shown as they are, nested tables as
`name value` pairs, long values (hashes) shortened.

Light module: no torch, no textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NONE = "provenance: not recorded (a run from before xlt recorded it)"
SHORT = 12  # characters of a hash or other long value shown


def _short(value: Any) -> str:
    """A hash or other long word cut to SHORT characters; text with spaces
    (a device's name) is kept whole."""
    text = str(value)
    if len(text) <= SHORT + 4 or any(c.isspace() for c in text):
        return text
    return text[:SHORT] + "…"


def _pairs(table: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {_short(v)}" for k, v in table.items())


def provenance_lines(provenance: Any, width: int = 100) -> list[str]:
    """Lines describing `provenance` (a mapping, or anything else: not recorded)."""
    if not isinstance(provenance, Mapping) or not provenance:
        return [NONE]
    flat = []
    nested = []
    for key, value in provenance.items():
        if isinstance(value, Mapping):
            if value:
                nested.append(f"{key}: {_pairs(value)}")
        elif isinstance(value, list | tuple):
            nested.append(f"{key}: {', '.join(_short(v) for v in value)}")
        elif value not in (None, ""):
            flat.append(f"{key} {_short(value)}")
    lines = ["provenance: " + " · ".join(flat)] if flat else ["provenance:"]
    for line in nested:
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines
