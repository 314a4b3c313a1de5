"""The workspace's results, held in memory and kept up to date cheaply.

results.jsonl is read whole once, then only the lines appended since (the
engine appends while it runs). Records are bucketed by (run_id, target), so
the heatmap's question, "this run's results for this target", costs the size
of its answer, not of the store. When the file is rewritten rather than
appended to (a run deleted), the index is rebuilt from scratch.

`refresh()` does file I/O and belongs in a worker thread; the read methods are
cheap and safe to call from the UI thread while a refresh runs (a lock guards
the buckets, and readers get copies).

Light module: no torch, no textual.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from engine.jsonl import JsonLinesTail
from engine.store import Store, result_problem

Record = dict[str, Any]
# run_id -> target -> records (a record without a target only counts in
# the run's totals)
Buckets = dict[str, dict[str | None, list[Record]]]


class ResultsIndex:
    def __init__(self, results_path: str | Path):
        self.path = Path(results_path)
        # The store's own test of a record: a line the CLI would skip is
        # skipped here too (and listed in `skipped`), never half-shown.
        self._tail = JsonLinesTail(self.path, check=result_problem)
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time
        # run_id -> target -> records, both levels in first-seen order
        self._buckets: Buckets = {}
        self._count = 0
        self._generation = 0  # bumped on every rebuild
        self.version = 0  # bumped on every change: cheap "anything new?"

    @classmethod
    def for_store(cls, store: Store) -> ResultsIndex:
        return cls(store.results_path)

    # -- writing (worker thread) ---------------------------------------------
    def refresh(self) -> bool:
        """Read what was appended since the last refresh (everything, the first
        time or after a rewrite). True when the index changed."""
        with self._refreshing:
            records = self._tail.read_new()
            if self._tail.rewritten:
                self._rebuild(records)
                return True
            if not records:
                return False
            with self._lock:
                for rec in records:
                    self._add(self._buckets, rec)
                self._count += len(records)
                self.version += 1
            return True

    def _rebuild(self, records: list[Record]) -> None:
        buckets: Buckets = {}
        for rec in records:
            self._add(buckets, rec)
        with self._lock:
            self._buckets = buckets
            self._count = len(records)
            self._generation += 1
            self.version += 1

    @staticmethod
    def _add(buckets: Buckets, rec: Record) -> None:
        by_target = buckets.get(rec["run_id"])
        if by_target is None:
            by_target = buckets[rec["run_id"]] = {}
        bucket = by_target.get(rec.get("target"))
        if bucket is None:
            bucket = by_target[rec.get("target")] = []
        bucket.append(rec)

    # -- reading (any thread) ------------------------------------------------
    def __len__(self) -> int:
        return self._count

    @property
    def bad_lines(self) -> int:
        """Lines of results.jsonl that are not results (skipped)."""
        return self._tail.bad_lines

    @property
    def skipped(self) -> list[tuple[int, str]]:
        """(line number, what is wrong) of every line skipped so far."""
        return list(self._tail.bad_line_reasons)

    def run_ids(self) -> list[str]:
        """Runs that have results, in the order their first result appeared."""
        with self._lock:
            return list(self._buckets)

    def targets(self, run_id: str) -> list[str]:
        with self._lock:
            by_target = self._buckets.get(run_id, {})
            return [target for target in by_target if target is not None]

    def count(self, run_id: str, target: str | None = None) -> int:
        with self._lock:
            return self._count_locked(run_id, target)

    def _count_locked(self, run_id: str, target: str | None) -> int:
        by_target = self._buckets.get(run_id, {})
        if target is not None:
            return len(by_target.get(target, ()))
        return sum(map(len, by_target.values()))

    def records(self, run_id: str, target: str | None = None) -> list[Record]:
        """The run's records (for one target, or all of them)."""
        with self._lock:
            by_target = self._buckets.get(run_id, {})
            if target is not None:
                return list(by_target.get(target, ()))
            return [rec for bucket in by_target.values() for rec in bucket]

    def stamp(self, run_id: str, target: str | None = None) -> tuple[int, int]:
        """Changes whenever the answer of `records(run_id, target)` does: the
        store only grows between rebuilds, so (rebuild, length) is enough."""
        with self._lock:
            return (self._generation, self._count_locked(run_id, target))
