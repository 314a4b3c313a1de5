"""Error types that the CLI turns into exit codes.

`InputError` is bad input from the user (config, data files, arguments): the CLI
prints its message and exits 2 without a traceback. `Cancelled` ends a run
that was asked to stop: exit 1, with everything finished kept. `TrainingDiverged`
fails the run (exit 1): its loss is no number any more.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """Bad input: one clear message naming the file, key or line."""


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: the stage fails (exit 1),
    and nothing is scored or stored from the broken model."""


class Cancelled(Exception):
    """A cancel request arrived; the stage stopped at a safe point (between two
    training steps, two languages, two generation batches)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' did you mean 'x'?' for the closest choice, or '' when none is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""
