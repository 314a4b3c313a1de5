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


class StageLost(RuntimeError):
    """The stage stopped for a reason outside it: a helper rank of its DDP
    group died (killed, out of memory). Like a stage whose worker died, it is
    run again (`retries`)."""


def stage_failure(exc: Exception) -> tuple[str, str, str]:
    """How a stage that raised `exc` ended, as a worker reports it to its
    driver: (why, message, traceback), why one of cancelled, input (the
    user's to fix: no traceback), lost (run it again), error."""
    import traceback

    if isinstance(exc, Cancelled):
        return "cancelled", str(exc), ""
    if isinstance(exc, InputError):
        return "input", str(exc), ""
    why = "lost" if isinstance(exc, StageLost) else "error"
    return why, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' did you mean 'x'?' for the closest choice, or '' when none is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""
