"""Read JSONL / JSON / CSV / TSV / plain-text data files: (line number,
record) pairs. A .txt file's record is one non-blank line, {"text": line}
(masked-language modelling reads Wikipedia extracts and the like this way).

Errors name the file and line, what was expected and the nearest valid value.
Text is read as UTF-8 with or without a byte-order mark ("utf-8-sig"):
Excel and Windows tools write one at the start of CSV files, and left in, it
would become part of the first column's name.
Light module: the TUI and the config check use it without torch.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError


def read_records(
    path: str | Path, suffix: str | None = None, name: str | None = None
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, record) for each record of a data file. `suffix` gives
    the format when the file's own name has none (a cached download), `name`
    what messages call the file (its URL)."""
    path = Path(path)
    shown = name or str(path)
    if not path.is_file():
        raise InputError(f"data file '{shown}' does not exist")
    suffix = (suffix or path.suffix).lower()
    try:
        if suffix == ".jsonl":
            yield from _jsonl(path, shown)
        elif suffix == ".json":
            yield from _json(path, shown)
        elif suffix in (".csv", ".tsv"):
            yield from _delimited(path, "\t" if suffix == ".tsv" else ",")
        elif suffix == ".txt":
            yield from _lines(path)
        else:
            raise InputError(
                f"{shown}: unknown data format '{suffix}'; expected .jsonl, .json, "
                ".csv, .tsv or .txt"
            )
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: not UTF-8 text ({exc.reason})") from None


def _jsonl(path: Path, shown: str):
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{shown}:{line_no}: not valid JSON ({exc.msg}, column "
                    f"{exc.colno}); each line must be one JSON object"
                ) from None
            if not isinstance(record, dict):
                raise InputError(
                    f"{shown}:{line_no}: expected a JSON object, got "
                    f"{type(record).__name__}"
                )
            yield line_no, record


def _json(path: Path, shown: str):
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{shown}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(f"{shown}: expected a JSON array of objects")
    for i, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise InputError(f"{shown}: item {i}: expected a JSON object")
        yield i, record


def _delimited(path: Path, delimiter: str):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not reader.fieldnames:
            raise InputError(f"{path}: empty file; expected a header line")
        for record in reader:
            # The header is line 1; csv counts physical lines for quoted newlines.
            if None in record:
                raise InputError(
                    f"{path}:{reader.line_num}: more fields than the header's "
                    f"{len(reader.fieldnames)}"
                )
            yield reader.line_num, record


def _lines(path: Path):
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield line_no, {"text": line}
