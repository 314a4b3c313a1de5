"""The Runs list's rules, apart from the screen: which runs a filter keeps,
the order a sort gives, and how the columns fit the terminal's width.

Pure logic (no textual), so each rule is tested on plain records.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.control import ENDED_STATUSES, LIVE_STATUSES, RUN_STATUSES
from engine.display import run_duration
from xlt_tui.run_progress import RunProgress


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    short_label: str  # used when the full labels do not fit the width
    descending_first: bool  # a first sort on it puts the largest on top


# Column order is relied on: run, name, status, stages first (tests and
# scripts read rows by position).
COLUMNS = (
    Column("run", "run", "run", False),
    Column("name", "name", "name", False),
    Column("status", "status", "status", False),
    Column("stages", "stages", "stages", True),
    Column("progress", "progress", "done", True),
    Column("eta", "ETA", "ETA", False),
    Column("started", "started", "started", True),
    Column("duration", "duration", "took", True),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
DEFAULT_SORT = ("started", True)  # newest first, as before sorting existed

# Status words a filter understands besides the statuses themselves.
STATUS_GROUPS = {"live": LIVE_STATUSES, "ended": ENDED_STATUSES}


# --------------------------------------------------------------------------
# Filter


@dataclass(frozen=True)
class RunFilter:
    """`status:WORD` keeps runs whose status starts with WORD (`status:run`,
    `status:failed`; `live` and `ended` name the groups; several status words
    keep any of them); `name:WORD` looks in the name only; any other word must
    occur in the run's id or name. Case does not matter; all words must hold."""

    statuses: frozenset[str] = frozenset()
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    problem: str | None = None
    """Why a status word matched no status (shown instead of an empty list)."""

    @classmethod
    def parse(cls, text: str) -> RunFilter:
        statuses: set[str] = set()
        names: list[str] = []
        words: list[str] = []
        problems: list[str] = []
        for token in text.lower().split():
            key, sep, value = token.partition(":")
            if sep and key in ("status", "s") and value:
                found = _statuses_for(value)
                if found:
                    statuses.update(found)
                else:
                    problems.append(_unknown_status(value))
            elif sep and key == "name" and value:
                names.append(value)
            elif token not in ("status:", "s:", "name:"):  # half-typed: ignore
                words.append(token)
        return cls(
            frozenset(statuses), tuple(names), tuple(words), "; ".join(problems) or None
        )

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.names or self.words or self.problem)

    def keeps(self, record: dict[str, Any]) -> bool:
        if self.problem:
            return False
        if self.statuses and record.get("status") not in self.statuses:
            return False
        name = str(record.get("name") or "").lower()
        if not all(n in name for n in self.names):
            return False
        haystack = f"{str(record.get('id', '')).lower()} {name}"
        return all(w in haystack for w in self.words)


def _statuses_for(word: str) -> tuple[str, ...]:
    if word in STATUS_GROUPS:
        return STATUS_GROUPS[word]
    return tuple(s for s in RUN_STATUSES if s.startswith(word))


def _unknown_status(word: str) -> str:
    choices = [*RUN_STATUSES, *STATUS_GROUPS]
    near = difflib.get_close_matches(word, choices, n=1)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return f"no status '{word}' (statuses: {', '.join(choices)}){hint}"


# --------------------------------------------------------------------------
# Sort


def sort_records(
    records: Sequence[dict[str, Any]],
    progress: dict[str, RunProgress],
    column: str,
    descending: bool,
    now: float,
) -> list[dict[str, Any]]:
    """Records ordered by `column`; runs without a value go last either way,
    ties newest first."""
    value = _SORT_VALUES[column]

    def known_first(r: dict[str, Any]) -> tuple[bool, Any]:
        v = value(r, progress.get(r["id"]), now)
        return (v is None) != descending, v if v is not None else 0

    by_start = sorted(records, key=lambda r: r.get("started_at") or 0, reverse=True)
    return sorted(by_start, key=known_first, reverse=descending)


def _fraction(r: dict[str, Any]) -> float | None:
    done, total = r.get("stages_done"), r.get("stages_total")
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return done / total
    return None


_SortValue = Callable[[dict[str, Any], RunProgress | None, float], Any]
_SORT_VALUES: dict[str, _SortValue] = {
    "run": lambda r, p, now: str(r["id"]).lower(),
    "name": lambda r, p, now: str(r.get("name") or "").lower() or None,
    "status": lambda r, p, now: (
        RUN_STATUSES.index(r["status"]) if r.get("status") in RUN_STATUSES else None
    ),
    "stages": lambda r, p, now: _fraction(r),
    "progress": lambda r, p, now: p.fraction if p else None,
    "eta": lambda r, p, now: p.eta_s if p else None,
    "started": lambda r, p, now: r.get("started_at"),
    "duration": lambda r, p, now: run_duration(r, now),
}


def next_sort(column: str, descending: bool, clicked: str | None) -> tuple[str, bool]:
    """The sort after a header click on `clicked` (the same column flips its
    direction), or after the sort key (`clicked` None: the next column)."""
    if clicked == column:
        return column, not descending
    if clicked is None:
        clicked = COLUMN_KEYS[(COLUMN_KEYS.index(column) + 1) % len(COLUMN_KEYS)]
    return clicked, next(c.descending_first for c in COLUMNS if c.key == clicked)


# --------------------------------------------------------------------------
# Fitting the width

PADDING = 2  # the DataTable's cell padding, one cell each side
MIN_NAME = 6
MIN_RUN = 10


def fit_rows(
    labels: Sequence[str],
    short_labels: Sequence[str],
    rows: list[list[str]],
    width: int,
) -> tuple[list[str], list[list[str]]]:
    """Labels and rows (plain text) that fit `width` cells: first the short
    labels, then the name cut at its end, then the run id cut at its start
    (its head is the start date and time, which the started column shows;
    the detail line below the table shows the whole id)."""
    if _total(labels, rows) <= width:
        return list(labels), rows
    labels = list(short_labels)
    run, name = COLUMN_KEYS.index("run"), COLUMN_KEYS.index("name")
    for index, min_width, cut in (
        (name, MIN_NAME, _cut_end),
        (run, MIN_RUN, _cut_start),
    ):
        excess = _total(labels, rows) - width
        if excess <= 0:
            break
        current = _width(labels, rows, index)
        target = max(min_width, len(labels[index]), current - excess)
        if target < current:
            rows = [[*r[:index], cut(r[index], target), *r[index + 1 :]] for r in rows]
    return labels, rows


def _width(labels: Sequence[str], rows: list[list[str]], index: int) -> int:
    return max([len(labels[index]), *(len(r[index]) for r in rows)])


def _total(labels: Sequence[str], rows: list[list[str]]) -> int:
    return sum(_width(labels, rows, i) + PADDING for i in range(len(labels)))


def _cut_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cut_start(text: str, width: int) -> str:
    """ "…092000-demo-e5f6": cut at a '-' when one falls in the last `width`
    characters, so what is left reads as whole parts of the id."""
    if len(text) <= width:
        return text
    start = len(text) - (width - 1)
    tail = text[start:]
    dash = tail.find("-")
    if text[start - 1] != "-" and 0 <= dash < len(tail) - 1:
        tail = tail[dash + 1 :]  # not at a part's start: go to the next one
    return "…" + tail
