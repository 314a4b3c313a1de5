"""Experiment config: a TOML file -> validated, typed objects.

The file's schema is declared once, with pydantic: each key's type, default,
bounds and meaning.

    schema.py      the file and its tables (tasks, data, groups)
    hparams.py     [train]: StageHparams, the object training runs with
    generation.py  [generation]: GenerationSettings, the object code
                   generation runs with
    values.py      the strict value types and the table they are written in

A file is then read in steps (loading.py: load_config, parse_config):

    references.py  names checked against the task registry and the disk
    experiment.py  ExperimentConfig, the resolved experiment (and back to TOML)
    messages.py    a validation error -> one InputError in the user's words
    locate.py      the line of a key in the file's text

Every error names the file, the key, what was expected and, where there is
one, the nearest valid value. Relative paths (custom task files, a local model
directory) are resolved against the folder of the config file, so a config
means the same thing whichever directory it is run from.

Light package: no torch, no transformers (the TUI validates configs too).
"""

from engine.config.experiment import ExperimentConfig, TaskGroup
from engine.config.generation import GenerationSettings
from engine.config.hparams import HPARAM_NAMES, StageHparams
from engine.config.loading import load_config, parse_config
from engine.config.references import DATA_SUFFIXES
from engine.config.schema import (
    BASELINE,
    BUILTIN_MODELS,
    DEVICES,
    PRECISIONS,
    SAMPLINGS,
)

__all__ = [
    "BASELINE",
    "BUILTIN_MODELS",
    "DATA_SUFFIXES",
    "DEVICES",
    "HPARAM_NAMES",
    "PRECISIONS",
    "SAMPLINGS",
    "ExperimentConfig",
    "GenerationSettings",
    "StageHparams",
    "TaskGroup",
    "load_config",
    "parse_config",
]
