"""Incremental reading of files that other processes append to.

One reader, two flavours: `JsonLinesTail` for a run's events.jsonl and the
workspace's results.jsonl, `TextLinesTail` for engine.log and a launch's
console output. Both keep their byte offset and hand on whole lines only (an
unfinished last line waits for the rest); a file that was rewritten in place
of the old one (shorter, or a new inode) is read again from the start, and
`rewritten` says so, so a cache built from it can be reset. A JSON line that
does not parse (a process killed mid-write) is counted and skipped, never
fatal.

Light module: no torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 20


class LineTail:
    """Whole new lines (bytes, without the newline) of a growing file.

    `history_bytes`: the first read starts that many bytes before the end
    (skipping the line it lands in the middle of); None reads from the start.
    """

    # A file that cannot be opened for these reasons reads as empty (not yet
    # written); anything else is the caller's to report.
    unreadable: tuple[type[OSError], ...] = (FileNotFoundError,)

    def __init__(self, path: str | Path, history_bytes: int | None = None):
        self.path = Path(path)
        self.history_bytes = history_bytes
        self.offset: int | None = None if history_bytes is not None else 0
        self.rewritten = False
        self.line_no = 0  # whole lines handed on so far (counted from the start)
        self._partial = b""
        self._inode: int | None = None
        self._skip_first = False

    def read_lines(self, max_bytes: int | None = None) -> list[bytes]:
        """Lines appended since the last call (at most about max_bytes' worth)."""
        self.rewritten = False
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except self.unreadable:
            return []
        with fh:
            st = os.fstat(fh.fileno())
            if self.offset is None:
                start = max(0, st.st_size - (self.history_bytes or 0))
                self.offset, self._skip_first = start, start > 0
            elif self._inode is not None and (
                st.st_ino != self._inode or st.st_size < self.offset
            ):
                self._reset()
                self.rewritten = True
            self._inode = st.st_ino
            fh.seek(self.offset)
            chunk = fh.read(max_bytes if max_bytes is not None else -1)
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for more
        if self._skip_first and lines:
            lines.pop(0)  # we started in the middle of it
            self._skip_first = False
        return lines

    @property
    def pending_bytes(self) -> int:
        """The size of an unfinished last line read so far (0: none)."""
        return len(self._partial)

    @property
    def at_end(self) -> bool:
        """True when everything in the file up to now has been read."""
        try:
            return self.path.stat().st_size <= (self.offset or 0)
        except OSError:
            return True

    def _reset(self) -> None:
        self.offset = 0
        self.line_no = 0
        self._partial = b""
        self._skip_first = False


class TextLinesTail(LineTail):
    """New whole lines of a growing text file, decoded (bad bytes replaced).
    A log that cannot be read is shown as no lines, not as an error."""

    unreadable = (OSError,)

    def read_new(self, max_bytes: int | None = None) -> list[str]:
        lines = self.read_lines(max_bytes)
        self.line_no += len(lines)
        return [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]


class JsonLinesTail(LineTail):
    """New records (JSON objects, one per line) of a growing file.

    A line that does not parse, is not an object, lacks `required_key`, or
    that `check` finds wrong (it returns what is wrong, or None) is counted in
    `bad_lines` (its 1-based number in `bad_line_numbers`, with the reason in
    `bad_line_reasons`) and skipped.
    """

    def __init__(
        self,
        path: str | Path,
        required_key: str | None = None,
        check: Callable[[dict[str, Any]], str | None] | None = None,
    ):
        super().__init__(path)
        self.required_key = required_key
        self.check = check
        self.bad_lines = 0
        self.bad_line_numbers: list[int] = []
        self.bad_line_reasons: list[tuple[int, str]] = []

    def read_new(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """Records appended since the last call (at most about max_bytes' worth)."""
        lines = self.read_lines(max_bytes)
        out = []
        required = self.required_key
        line_no = self.line_no
        for raw in lines:
            line_no += 1
            if not raw.strip():
                continue
            problem = _problem_of(raw, required, self.check)
            if isinstance(problem, str):
                self.bad_lines += 1
                self.bad_line_numbers.append(line_no)
                self.bad_line_reasons.append((line_no, problem))
                continue
            record = problem
            out.append(record)
        self.line_no = line_no
        return out

    def _reset(self) -> None:
        super()._reset()
        self.bad_lines = 0
        self.bad_line_numbers = []
        self.bad_line_reasons = []


def _problem_of(
    raw: bytes,
    required: str | None,
    check: Callable[[dict[str, Any]], str | None] | None,
) -> dict[str, Any] | str:
    """The line's record, or what is wrong with it."""
    try:
        record = json.loads(raw)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg})"
    if not isinstance(record, dict):
        return "not a JSON object"
    if required is not None and required not in record:
        return f"no '{required}'"
    problem = check(record) if check is not None else None
    return record if problem is None else problem
