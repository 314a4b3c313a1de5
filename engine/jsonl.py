"""Incremental reading of JSON-lines files that other processes append to.

Used for a run's events.jsonl and the workspace's results.jsonl. The reader
keeps its byte offset and hands on whole lines only; a line that does not parse
(a process killed mid-write) is counted and skipped, never fatal. A file that
was rewritten in place of the old one (shorter, or a new inode) is read again
from the start, and `rewritten` says so, so a cache built from it can be reset.

Light module: no torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 20


@dataclass
class JsonLinesTail:
    path: Path
    required_key: str | None = None
    offset: int = 0
    bad_lines: int = 0
    bad_line_numbers: list[int] = field(default_factory=list)
    rewritten: bool = False
    _line_no: int = 0
    _partial: bytes = b""
    _inode: int | None = None

    def read_new(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """Records appended since the last call (at most about max_bytes' worth)."""
        self.rewritten = False
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return []
        with fh:
            st = os.fstat(fh.fileno())
            if self._inode is not None and (
                st.st_ino != self._inode or st.st_size < self.offset
            ):
                self._reset()
                self.rewritten = True
            self._inode = st.st_ino
            fh.seek(self.offset)
            chunk = fh.read(max_bytes if max_bytes is not None else -1)
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for more
        out = []
        for raw in lines:
            self._line_no += 1
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict) or (
                self.required_key is not None and self.required_key not in record
            ):
                self.bad_lines += 1
                self.bad_line_numbers.append(self._line_no)
                continue
            out.append(record)
        return out

    @property
    def at_end(self) -> bool:
        """True when everything in the file up to now has been read."""
        try:
            return self.path.stat().st_size <= self.offset
        except FileNotFoundError:
            return True

    def _reset(self) -> None:
        self.offset = 0
        self._line_no = 0
        self._partial = b""
        self.bad_lines = 0
        self.bad_line_numbers = []
