"""Read JSONL / JSON / CSV / TSV data files into Examples.

Errors name the file and line, what was expected and the nearest valid value.
Light module: the TUI and the config check use it without torch.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.data.examples import Example
from engine.errors import InputError, did_you_mean


def read_records(path: str | Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, record) for each record of a data file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file '{path}' does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            yield from _jsonl(path)
        elif suffix == ".json":
            yield from _json(path)
        elif suffix in (".csv", ".tsv"):
            yield from _delimited(path, "\t" if suffix == ".tsv" else ",")
        else:
            raise InputError(
                f"{path}: unknown data format '{suffix}'; expected .jsonl, .json, "
                ".csv or .tsv"
            )
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{line_no}: not valid JSON ({exc.msg}, column "
                    f"{exc.colno}); each line must be one JSON object"
                ) from None
            if not isinstance(record, dict):
                raise InputError(
                    f"{path}:{line_no}: expected a JSON object, got "
                    f"{type(record).__name__}"
                )
            yield line_no, record


def _json(path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON array of objects")
    for i, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise InputError(f"{path}: item {i}: expected a JSON object")
        yield i, record


def _delimited(path: Path, delimiter: str):
    with open(path, encoding="utf-8", newline="") as fh:
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


def load_examples(
    path: str | Path,
    text_fields: Sequence[str],
    label_field: str,
    labels: Sequence[str],
) -> list[Example]:
    """Examples of a labelled file; labels may be names or 0-based indices."""
    index = {name: i for i, name in enumerate(labels)}
    out = []
    for line_no, record in read_records(path):
        where = f"{path}:{line_no}"
        texts = []
        for name in text_fields:
            if name not in record:
                raise InputError(
                    f"{where}: missing field '{name}'{did_you_mean(name, record)} "
                    f"(fields present: {', '.join(record) or 'none'})"
                )
            value = record[name]
            if not isinstance(value, str):
                raise InputError(f"{where}: field '{name}' must be text, got {value!r}")
            texts.append(value)
        if label_field not in record:
            raise InputError(
                f"{where}: missing field '{label_field}'"
                f"{did_you_mean(label_field, record)} "
                f"(fields present: {', '.join(record) or 'none'})"
            )
        out.append(
            Example(tuple(texts), _label_index(record[label_field], index, where))
        )
    if not out:
        raise InputError(f"{path}: no examples")
    return out


def _label_index(value: Any, index: Mapping[str, int], where: str) -> int:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        if value.strip() not in index:
            value = int(value)
    if isinstance(value, int):
        if 0 <= value < len(index):
            return value
        raise InputError(
            f"{where}: label {value} is out of range; expected 0..{len(index) - 1} "
            f"or one of {', '.join(index)}"
        )
    if isinstance(value, str) and value in index:
        return index[value]
    raise InputError(
        f"{where}: label {value!r} is not one of {', '.join(index)}"
        f"{did_you_mean(str(value), index)}"
    )
