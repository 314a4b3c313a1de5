"""The value types of an experiment file, as TOML gives them, and the table
they sit in.

Strict on purpose: TOML already types every value, so `batch_size = 1.0`,
`batch_size = true` or `learning_rate = "1e-3"` are mistakes to name, not to
coerce. Numbers accept integers (`epochs = 3`) and store them as floats.
Bounds are declared on each field (`Field(ge=1)`); engine.config.messages turns
a type and its bounds into the words of an error ("expected an integer >= 1").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

Integer = Annotated[int, Strict()]
"""An integer: 1.0, true and "1" are refused."""
Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite number; an integer is accepted and stored as a float."""
Boolean = Annotated[bool, Strict()]
"""true or false, never 0/1 or "yes"."""
Text = Annotated[str, Strict(), StringConstraints(pattern=r"\S")]
"""A string with something in it besides blanks."""
AnyText = Annotated[str, Strict(), StringConstraints(min_length=1)]
"""A string of at least one character, blanks included ("\\n")."""


@dataclass(frozen=True)
class Means:
    """A value with a meaning of its own, said in the expectation of its field:
    `Annotated[Integer, Means(0, "all")]` reads "expected an integer >= 0
    (0 = all)". Pydantic keeps it in the field's metadata and ignores it."""

    value: Any
    meaning: str


def at_most(limit: int, expected: str, note: str = "") -> AfterValidator:
    """An upper bound checked after the declared ones, so a value below the
    lower bound still reads "expected an integer >= 1"; `expected` names the
    type: at_most(10, "an integer") -> "expected an integer <= 10, got 11"."""
    said = f" ({note})" if note else ""

    def check(value: Any) -> Any:
        if value > limit:
            raise ValueError(f"expected {expected} <= {limit}{said}, got {value!r}")
        return value

    return AfterValidator(check)


def _one_or_many(*types: type) -> BeforeValidator:
    # `targets = "xnli"` means ["xnli"], `seeds = 1` means [1]: a list of one
    # is what the user meant.
    def listed(value: Any) -> Any:
        single = isinstance(value, types) and not isinstance(value, bool)
        return [value] if single else value

    return BeforeValidator(listed)


def _listed_once(values: tuple) -> tuple:
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:
        raise ValueError(f"'{repeated[0]}' is listed twice")
    return values


# A list of strings, or of a Literal's choices, is declared
# `Annotated[tuple[item, ...], STRING_AS_LIST, LISTED_ONCE]`: a bare string
# is a list of one, and nothing is listed twice.
STRING_AS_LIST = _one_or_many(str)
LISTED_ONCE = AfterValidator(_listed_once)

Names = Annotated[tuple[Annotated[str, Strict()], ...], STRING_AS_LIST, LISTED_ONCE]
"""A list of names: tasks, languages, labels."""
SomeNames = Annotated[Names, Field(min_length=1)]
"""Names, at least one."""

# A name that becomes, or may become, part of a path in the workspace (a code
# target writes generations/<language>.jsonl; task and group names name
# stages and exports): the same conservative pattern as run ids
# (engine.control), so "/tmp/x" or "../../x" never leads a write outside.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _file_name(value: str) -> str:
    if not _FILE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} cannot be used as a name: xlt writes files named after it; "
            "use letters, digits, '.', '_' and '-' (at most 100 characters, "
            "starting with a letter or digit, no '/' and no '..')"
        )
    return value


SafeName = Annotated[str, Strict(), AfterValidator(_file_name)]
"""A name that may become part of a file name: languages, custom tasks, groups."""
SafeNames = Annotated[tuple[SafeName, ...], STRING_AS_LIST, LISTED_ONCE]
"""A list of such names."""


def _workspace_folder(value: str) -> str:
    """A folder the run writes, relative to the workspace: every part a safe
    name (so no absolute path, '~' or '..' leads a write outside it)."""
    parts = value.strip("/").split("/") if not value.startswith("/") else [value]
    for part in parts:
        if not _FILE_NAME.match(part) or ".." in part:
            raise ValueError(
                f"expected a folder relative to the workspace, inside it (e.g. "
                f"'runs/tensorboard'), got {value!r}: each part letters, digits, "
                "'.', '_' and '-', no absolute path, '~' or '..'"
            )
    return value


WorkspaceFolder = Annotated[str, Strict(), AfterValidator(_workspace_folder)]
"""A folder inside the workspace, named relative to it."""


def _tracking_uri(value: str) -> str:
    # A server the user names (the run's metrics then leave the machine, as
    # asked), or a folder inside the workspace; never a file: or sqlite: URI,
    # which would write wherever the config points.
    if value.startswith(("http://", "https://", "databricks")):
        return value
    try:
        return _workspace_folder(value)
    except ValueError:
        raise ValueError(
            "expected an http(s):// or databricks tracking server, or a folder "
            f"relative to the workspace, inside it (e.g. 'mlruns'), got {value!r}"
        ) from None


TrackingUri = Annotated[str, Strict(), AfterValidator(_tracking_uri)]
"""An MLflow tracking server, or a folder inside the workspace."""
SomeSafeNames = Annotated[SafeNames, Field(min_length=1)]
"""Such names, at least one."""


def _seeds_once(values: tuple) -> tuple:
    if len(set(values)) != len(values):
        raise ValueError(f"a seed is listed twice in {list(values)}")
    return values


# numpy's generators take seeds >= 0 and its legacy RandomState (used by many
# libraries) takes at most 2**32 - 1; torch.manual_seed takes those too.
Seed = Annotated[Integer, Field(ge=0, le=2**32 - 1)]
Seeds = Annotated[
    tuple[Seed, ...],
    _one_or_many(int),
    Field(min_length=1),
    AfterValidator(_seeds_once),
]
"""Integers, at least one, none twice; a bare integer is a list of one."""


# Models are built at their first validation, not at import: the TUI imports
# the config at start-up and validates only when a config is opened.
TABLE = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Table(BaseModel):
    """A TOML table: unknown keys are refused, values never change after."""

    model_config = TABLE

    @classmethod
    def allowed_keys(cls) -> tuple[str, ...]:
        """The keys the table accepts (an unknown-key message lists them)."""
        return tuple(cls.model_fields)
