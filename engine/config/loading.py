"""Reading an experiment file: TOML -> schema (types, bounds) -> references
(names against the registry and the disk) -> ExperimentConfig.

Every problem ends as one InputError naming the file, the line where the file
is at hand, the key, what was expected and the nearest valid value. A file
that breaks the schema in several places raises ConfigProblems: its message
is the first problem's line, and it carries them all.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.config.experiment import ExperimentConfig
from engine.config.messages import (
    PlacedProblem,
    Problem,
    all_problems,
    placed,
)
from engine.config.references import ConfigProblem, resolve
from engine.config.schema import ExperimentFile
from engine.errors import InputError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ConfigProblems(InputError):
    """Bad values in a config: `str()` is the first problem's one line (the
    CLI's contract); `problems` holds every one, the first first, each with
    its key path, its line (None without the file's text) and its message
    without the file, so a form can mark each field it names."""

    def __init__(self, file: Path, problems: list[PlacedProblem]):
        if not problems:
            raise ValueError("ConfigProblems needs at least one problem")
        super().__init__(problems[0].in_file(file))
        self.file = file
        self.problems = problems

    def further_lines(self) -> list[str]:
        """The problems after the first, each as the CLI's one line."""
        return [p.in_file(self.file) for p in self.problems[1:]]


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
        problems = [placed(p, text) for p in all_problems(exc, raw)]
        raise ConfigProblems(source, problems) from None
    try:
        return resolve(file, source)
    except ConfigProblem as exc:
        # The cross-checks stop at their first problem: one, with its key.
        problem = Problem(exc.loc, exc.message, ".".join(map(str, exc.loc)))
        raise ConfigProblems(source, [placed(problem, text)]) from None
