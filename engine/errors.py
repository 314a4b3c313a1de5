"""Error types that the CLI turns into exit codes.

`InputError` is bad input from the user (config, data files, arguments): the CLI
prints its message and exits 2 without a traceback. `RunFailed` is a run that
started and then failed: exit 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """Bad input: one clear message naming the file, key or line."""


class RunFailed(Exception):
    """A run that started and did not finish."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' did you mean 'x'?' for the closest choice, or '' when none is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""
