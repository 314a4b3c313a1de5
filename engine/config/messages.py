"""Validation errors in the user's words: file, line, key, what was expected.

pydantic reports every problem with a location (a key path) and a type
("int_type", "greater_than_equal", "extra_forbidden", ...). One problem, the
first worth fixing, becomes one line:

    exp.toml:12: train.intermediate.batch_size: expected an integer >= 1, got 0
    exp.toml:7: unknown key 'learning_rat' in [train]; did you mean
        'learning_rate'? (allowed: ...)
    exp.toml: missing required key 'model'

Every problem, ranked the same way (`all_problems`), is there for a reader
that shows them all at once: the TUI's form marks each field it names.

The words of an expectation come from the field's declared type and bounds
(`expectation`), so the schema is the only place they are written.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union

import annotated_types
from pydantic import BaseModel, StringConstraints, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from engine.config.hparams import shared_origin
from engine.config.locate import line_of
from engine.config.schema import ExperimentFile
from engine.config.values import Means, Table
from engine.errors import InputError, did_you_mean

_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_MISSING = ("missing", "missing_argument", "missing_keyword_only_argument")
_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


@dataclass(frozen=True)
class Problem:
    """One problem at a place in the file. `loc` is the key path (what the line
    is looked up by); `shown` the path printed before the message, if any."""

    loc: tuple
    message: str
    shown: str = ""


class PlacedProblem(NamedTuple):
    """A problem as a reader shows it: the key path, the file's line (None
    without the file's text) and the message with its key, without the file:
    'train.intermediate.batch_size: expected an integer >= 1, got 0'."""

    loc: tuple
    line: int | None
    message: str

    def in_file(self, file: Path | str) -> str:
        """file[:line]: [key.path: ]message, the CLI's one line."""
        where = f"{file}:{self.line}" if self.line is not None else str(file)
        return f"{where}: {self.message}"


def placed(problem: Problem, text: str | None) -> PlacedProblem:
    """The problem with its line in `text` (the file as written), if found."""
    origin = shared_origin(problem.loc)
    places = [problem.loc, *([origin] if origin else [])]
    line = line_of(text, places) if text and problem.loc else None
    shown = f"{problem.shown}: " if problem.shown else ""
    return PlacedProblem(problem.loc, line, f"{shown}{problem.message}")


def input_error(problem: Problem, file: Path, text: str | None) -> InputError:
    """The one-line InputError for a problem: file[:line]: [key.path: ]message."""
    return InputError(placed(problem, text).in_file(file))


def not_one_of(value: Any, choices: tuple) -> str:
    """'x' is not one of a, b; did you mean 'a'? (or: expected one of a, b, got 3)"""
    listed = ", ".join(map(str, choices))
    if not isinstance(value, str):
        return f"expected one of {listed}, got {_shown(value)}"
    return f"'{value}' is not one of {listed}{did_you_mean(value, map(str, choices))}"


def all_problems(exc: ValidationError, raw: Mapping) -> list[Problem]:
    """Every problem, in the order to report them: an unknown key (often the
    cause of a missing one), then a missing key, then a wrong value (a stable
    sort, so the schema's order within a rank). Each is said once: pydantic
    reports a list with two bad items, or a value every member of a union
    refused, as several errors that read as one problem here."""
    errors = exc.errors(include_url=False)
    rank = {t: 0 for t in _UNKNOWN} | {t: 1 for t in _MISSING}
    problems: list[Problem] = []
    for error in sorted(errors, key=lambda e: rank.get(e["type"], 2)):
        problem = _one_problem(error, raw)
        if problem not in problems:
            problems.append(problem)
    return problems


def _one_problem(error: ErrorDetails, raw: Mapping) -> Problem:
    try:
        return _problem(error, raw)
    except Exception:  # an error shape not foreseen here: still one line
        loc = tuple(error["loc"])
        return Problem(
            loc, f"{error['msg']}, got {_shown(error['input'])}", _dotted(loc)
        )


# -- one error -----------------------------------------------------------------


def _problem(error: ErrorDetails, raw: Mapping) -> Problem:
    where = tuple(error["loc"])
    if where and where[-1] == "[key]":  # a table's key itself: named as the key
        where = where[:-1]
    loc, declared = _walk(ExperimentFile, where)
    kind = error["type"]
    if kind in _UNKNOWN:
        parent, key = loc[:-1], loc[-1]
        allowed = _keys(_walk(ExperimentFile, parent)[1].type)
        place = f"in [{_dotted(parent)}]" if parent else "at the top level"
        return Problem(
            loc,
            f"unknown key '{key}' {place}{did_you_mean(str(key), allowed)} "
            f"(allowed: {', '.join(allowed)})",
        )
    if kind in _MISSING:
        parent = loc[:-1]
        return Problem(parent, f"missing required key '{loc[-1]}'", _dotted(parent))
    if loc and isinstance(loc[-1], int):
        # An item of a list: the list is named, and shown whole.
        item, loc = declared, loc[:-1]
        declared = _walk(ExperimentFile, loc)[1]
        value = _value_at(raw, loc, error["input"])
        if kind == "literal_error":
            return Problem(loc, not_one_of(error["input"], item.choices), _dotted(loc))
        if kind == "value_error":
            return Problem(loc, str(error["ctx"]["error"]), _dotted(loc))
        # An item out of bounds: its bounds are said too ("each an integer
        # in [0, 9]"); an item of the wrong type reads as the list's type.
        bounds = _bounds(item.metadata) if kind in _BOUNDS else ""
        each = f", each {_noun(item)}{bounds}" if bounds else ""
        return Problem(
            loc, f"{expectation(declared)}{each}, got {_shown(value)}", _dotted(loc)
        )
    value = error["input"]
    if kind == "value_error":
        message = str(error["ctx"]["error"])
    elif kind == "literal_error":
        message = not_one_of(value, declared.choices)
    elif kind == "too_short":
        n = error["ctx"]["min_length"]
        got = "an empty list" if not value else _shown(value)
        entries = f"{_COUNT.get(n, n)} entr{'y' if n == 1 else 'ies'}"
        message = f"expected at least {entries}, got {got}"
    else:
        message = f"{expectation(declared)}, got {_shown(value)}"
    return Problem(loc, message, _dotted(loc))


_COUNT = {1: "one", 2: "two", 3: "three"}


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _value_at(raw: Any, loc: tuple, default: Any) -> Any:
    for part in loc:
        if not isinstance(raw, Mapping) or part not in raw:
            return default
        raw = raw[part]
    return raw


def _keys(cls: Any) -> tuple[str, ...]:
    if isinstance(cls, type) and issubclass(cls, Table):
        return cls.allowed_keys()
    return tuple(getattr(cls, "__pydantic_fields__", ()))


# -- the declared type at a place ------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """A type as declared: the bare type and its constraints (bounds, Means)."""

    type: Any
    metadata: tuple = ()

    @property
    def choices(self) -> tuple:
        return typing.get_args(self.type)


def _unwrap(tp: Any, metadata: tuple = ()) -> Declared:
    """Annotated layers and Optional dropped, their constraints kept."""
    while True:
        if typing.get_origin(tp) is Annotated:
            args = typing.get_args(tp)
            extra = []
            for meta in args[1:]:
                extra.extend(meta.metadata if isinstance(meta, FieldInfo) else [meta])
            tp, metadata = args[0], (*metadata, *extra)
        elif _is_union(tp) and type(None) in typing.get_args(tp):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = functools.reduce(operator.or_, rest)
        else:
            return Declared(tp, metadata)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _fields(tp: Any) -> dict[str, FieldInfo]:
    return getattr(tp, "__pydantic_fields__", None) or {}


def _walk(root: Any, loc: tuple) -> tuple[tuple, Declared]:
    """The key path of `loc` (pydantic's union tags left out) and the type
    declared there; Declared(None) past what the schema declares."""
    declared, path = Declared(root), []
    for part in loc:
        tp = declared.type
        if _is_union(tp):
            # A tagged union: the tag names the member, not a key of the file.
            member = _tagged(tp, part)
            if member is not None:
                declared = _unwrap(member)
                continue
        path.append(part)
        origin = typing.get_origin(tp)
        if part in _fields(tp):
            info = _fields(tp)[part]
            declared = _unwrap(info.annotation, tuple(info.metadata))
        elif origin is dict:
            declared = _unwrap(typing.get_args(tp)[1])
        elif origin in (tuple, list) and isinstance(part, int):
            declared = _unwrap(typing.get_args(tp)[0])
        else:
            declared = Declared(None)
    return tuple(path), declared


def _tagged(union: Any, tag: Any) -> Any:
    for member in typing.get_args(union):
        if typing.get_origin(member) is Annotated:
            if any(isinstance(m, Tag) and m.tag == tag for m in member.__metadata__):
                return member
    return None


# -- what a type expects, in words ----------------------------------------------


def expectation(declared: Declared) -> str:
    """'expected an integer >= 1', 'expected a number in [0, 1)',
    'expected an integer >= 0 (0 = all)': from the type and its bounds."""
    text = f"expected {_noun(declared)}{_bounds(declared.metadata)}"
    meanings = [
        f"{_number(m.value)} = {m.meaning}"
        for m in declared.metadata
        if isinstance(m, Means)
    ]
    return text + (f" ({', '.join(meanings)})" if meanings else "")


def _noun(declared: Declared, plural: bool = False) -> str:
    tp = declared.type
    origin = typing.get_origin(tp)
    if tp is bool:
        return "true or false values" if plural else "true or false"
    if tp is int:
        return "integers" if plural else "an integer"
    if tp is float:
        return "numbers" if plural else "a number"
    if tp is str:
        blank = any(
            isinstance(m, StringConstraints) and (m.pattern or m.min_length)
            for m in declared.metadata
        )
        word = "non-empty string" if blank else "string"
        return f"{word}s" if plural else f"a {word}"
    if origin is Literal:
        return f"one of {', '.join(map(str, typing.get_args(tp)))}"
    if origin in (tuple, list):
        return f"a list of {_noun(_unwrap(typing.get_args(tp)[0]), plural=True)}"
    if _is_union(tp):
        return " or ".join(_noun(_unwrap(a), plural) for a in typing.get_args(tp))
    if (
        origin is dict
        or _fields(tp)
        or (isinstance(tp, type) and issubclass(tp, BaseModel))
    ):
        return "tables" if plural else "a table"
    return "values" if plural else "a value"


def _bounds(metadata: tuple) -> str:
    # (bracket, sign, bound) of the lower and the upper bound
    low: tuple[str, str, object] | None = None
    high: tuple[str, str, object] | None = None
    for m in metadata:
        if isinstance(m, annotated_types.Gt):
            low = ("(", ">", m.gt)
        elif isinstance(m, annotated_types.Ge):
            low = ("[", ">=", m.ge)
        elif isinstance(m, annotated_types.Lt):
            high = (")", "<", m.lt)
        elif isinstance(m, annotated_types.Le):
            high = ("]", "<=", m.le)
    if low and high:
        return f" in {low[0]}{_number(low[2])}, {_number(high[2])}{high[0]}"
    one = low or high
    if one:
        _, sign, value = one
        return f" {sign} {_number(value)}"
    return ""


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
