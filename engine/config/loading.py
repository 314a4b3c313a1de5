"""Reading an experiment file: TOML -> schema (types, bounds) -> references
(names against the registry and the disk) -> ExperimentConfig.

Every problem ends as one InputError naming the file, the line where the file
is at hand, the key, what was expected and the nearest valid value.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.config.experiment import ExperimentConfig
from engine.config.messages import Problem, first_problem, input_error
from engine.config.references import ConfigProblem, resolve
from engine.config.schema import ExperimentFile
from engine.errors import InputError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file; InputError on any problem."""
    path = Path(path)
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.toml"))[:5]
        raise InputError(
            f"config file '{path}' is a directory; expected a TOML experiment file"
            + (f" (it holds {', '.join(inside)})" if inside else "")
        )
    if path.exists() and not path.is_file():
        # /dev/zero, a FIFO, a socket: reading it could block or never end.
        raise InputError(
            f"config file '{path}' is not a regular file (a device, pipe or "
            "socket); expected a TOML experiment file"
        )
    if not path.is_file():
        hint = ""
        if path.parent.is_dir():
            hint = did_you_mean(path.name, [p.name for p in path.parent.glob("*.toml")])
        raise InputError(f"config file '{path}' does not exist{hint}")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return parse_config(raw, source=path, text=text)


def parse_config(
    raw: Mapping[str, Any], source: str | Path, text: str | None = None
) -> ExperimentConfig:
    """Validate a TOML table as read from `source` (relative paths are read
    from its folder). `text`, the file's text, adds line numbers to errors;
    a table that is not the file as written (the TUI's form) goes without."""
    source = Path(source)
    try:
        file = ExperimentFile.model_validate(raw)
    except ValidationError as exc:
        raise input_error(first_problem(exc, raw), source, text) from None
    try:
        return resolve(file, source)
    except ConfigProblem as exc:
        problem = Problem(exc.loc, exc.message, ".".join(map(str, exc.loc)))
        raise input_error(problem, source, text) from None
