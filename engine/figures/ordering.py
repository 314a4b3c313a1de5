"""A user's ordering of languages: a file mapping language -> number
(distance from English, pretraining data size, ...), as TOML, JSON or CSV.

TOML / JSON: a flat table `{ "de" = 0.3, "ru" = 0.6 }`. CSV: two columns,
language and value, an optional header row. Languages are drawn in
increasing order of their value.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from engine.errors import InputError

ORDER_SUFFIXES = (".toml", ".json", ".csv")


def read_ordering(path: str | Path) -> dict[str, float]:
    path = Path(path)
    if path.suffix not in ORDER_SUFFIXES:
        raise InputError(
            f"{path}: an ordering file is {', '.join(ORDER_SUFFIXES)}; "
            f"got '{path.suffix or 'no suffix'}'"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the ordering file ({exc})") from None
    if path.suffix == ".csv":
        return _from_csv(path, text)
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = _toml_loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError both are
        raise InputError(f"{path}: not valid {path.suffix[1:]}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(
            f'{path}: expected a table of language -> number, like {{"de": 0.3}}'
        )
    return {str(k): _number(path, str(k), v) for k, v in data.items()}


def _from_csv(path: Path, text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip():
            continue
        if len(row) < 2:
            raise InputError(
                f"{path}, line {line}: expected 'language,value'; got {row!r}"
            )
        lang, value = row[0].strip(), row[1].strip()
        try:
            out[lang] = float(value)
        except ValueError:
            if line == 1:
                continue  # a header row
            raise InputError(
                f"{path}, line {line}: '{value}' for '{lang}' is no number"
            ) from None
    if not out:
        raise InputError(f"{path}: no 'language,value' rows")
    return out


def _toml_loads(text: str) -> object:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def _number(path: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{path}: key '{key}': expected a number; got {value!r}")
    return float(value)


def ordered_languages(
    languages: list[str], ordering: dict[str, float] | None
) -> tuple[list[str], list[str]]:
    """The languages in the ordering's increasing order, then those it lacks
    (in their given order); and the list of those it lacks."""
    if not ordering:
        return list(languages), []
    known = sorted((lg for lg in languages if lg in ordering), key=ordering.__getitem__)
    missing = [lg for lg in languages if lg not in ordering]
    return known + missing, missing
