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

# What an empty file of each format should have held, for the message.
_EXPECTED = {
    ".jsonl": "one JSON object per line",
    ".json": "a JSON array of objects",
    ".csv": "a header line, then one row per example",
    ".tsv": "a header line, then one row per example",
    ".txt": "one text per line",
}

# json's own messages, as a person reads them ("Invalid control character
# at" is the whole of one: the position is given apart).
_JSON_PROBLEMS = {
    "Invalid control character at": "a raw control character (tab, newline) "
    "inside a string; write it escaped as \\t or \\n",
    "Expecting value": "a value was expected here (a missing value, a trailing "
    "comma, or text that is not JSON)",
    "Expecting property name enclosed in double quotes": "a key in double "
    "quotes was expected (a trailing comma, or a key in single quotes)",
    "Expecting ',' delimiter": "a comma was expected between two items",
    "Expecting ':' delimiter": "a colon was expected after a key",
    "Unterminated string starting at": "a string is not closed (a missing "
    "closing double quote)",
    "Extra data": "more text after the first JSON value",
    "Invalid \\escape": "an invalid backslash escape in a string (write a "
    "backslash as \\\\)",
}


def json_error_text(exc: json.JSONDecodeError) -> str:
    """A JSON syntax error in words, with the character found there."""
    problem = next(
        (text for msg, text in _JSON_PROBLEMS.items() if exc.msg.startswith(msg)),
        exc.msg,
    )
    found = exc.doc[exc.pos : exc.pos + 1]
    return f"{problem} (found {found!r})" if found else f"{problem} (end of text)"


def config_key_hint(task: Any, row: Mapping[str, Any]) -> str:
    """For a local-file task whose text or label column is not in `row`: the
    config key that names that column, so the fix is one edit away."""
    from engine.tasks.spec import LocalSource

    source = getattr(task, "source", None)
    if not isinstance(source, LocalSource):
        return ""
    name = getattr(task, "name", "?")
    missing_texts = [f for f in source.text_fields if f not in row]
    if missing_texts:
        return (
            f"; the config key [tasks.{name}] text_fields = "
            f"{json.dumps(list(source.text_fields))} names the text column(s) "
            '(default ["text"], or ["text_a", "text_b"] for pairs)'
        )
    if source.text_fields and source.label_field not in row:
        return (
            f"; the config key [tasks.{name}] label_field = "
            f"{json.dumps(source.label_field)} names the label column "
            '(default "label")'
        )
    return ""


def read_records(
    path: str | Path,
    suffix: str | None = None,
    name: str | None = None,
    what: str = "",
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, record) for each record of a data file. `suffix` gives
    the format when the file's own name has none (a cached download), `name`
    what messages call the file (its URL), `what` what it is read for ("task
    'sent', test split, language 'de'"), for messages about the whole file."""
    path = Path(path)
    shown = name or str(path)
    if not path.is_file():
        raise InputError(
            f"data file '{shown}'" + (f" ({what})" if what else "") + " does not exist"
        )
    suffix = (suffix or path.suffix).lower()
    if suffix in _EXPECTED and _blank(path):
        raise InputError(
            f"{shown}: empty file"
            + (f" ({what})" if what else "")
            + f"; expected {_EXPECTED[suffix]}"
        )
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


def _blank(path: Path) -> bool:
    """Empty or whitespace only (a large file is never read whole here)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    return not head.strip(b" \t\r\n\xef\xbb\xbf") and len(head) < 1 << 16


def _jsonl(path: Path, shown: str):
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{shown}:{line_no}:{exc.colno}: not valid JSON: "
                    f"{json_error_text(exc)}; each line must be one JSON object"
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
        raise InputError(
            f"{shown}:{exc.lineno}:{exc.colno}: not valid JSON: {json_error_text(exc)}"
        ) from None
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
