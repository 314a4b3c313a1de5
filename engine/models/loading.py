"""Resolve a model reference and load its encoder and tokenizer.

A reference is the built-in `xlt-tiny`, a local folder written by
`save_pretrained`, or a hub id. All three load through the Auto classes; only
the encoder is kept (pretraining heads are dropped), and weights come from
safetensors, in a local folder and in the hub cache alike.

Remote code is never run unless the experiment asks for it
(`trust_remote_code = true`): every from_pretrained gets
`trust_remote_code` explicitly, so transformers never prompts, and a model
whose config.json or tokenizer_config.json names code of its own (`auto_map`)
is refused before transformers reads it. The choice is the run's, set once by
`allow_remote_code` where a run's (or a worker's) stage environment is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.config.model_files import (
    check_max_seq_length,
    model_json,
    remote_code_message,
    weights_problem,
)
from engine.errors import InputError
from engine.models.tiny import TINY_NAME, ensure_tiny_model
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.config import ExperimentConfig

_remote_code = {"allowed": False}


def allow_remote_code(allowed: bool) -> None:
    """Whether models may run their own code in this process (the run's
    `trust_remote_code`)."""
    _remote_code["allowed"] = bool(allowed)


def trust_remote_code() -> bool:
    """The value every from_pretrained of this process is given."""
    return _remote_code["allowed"]


def resolve_model_path(model: str, workspace: Workspace) -> str:
    """The folder or hub id that from_pretrained should read."""
    if model == TINY_NAME:
        return str(ensure_tiny_model(workspace.model_dir(TINY_NAME)))
    return model


def check_loadable(path: str, weights: bool = True) -> None:
    """InputError unless `path` may be loaded as it is: its JSON files parse,
    its weights (unless `weights` is False: a tokenizer alone) are
    safetensors, and it runs no code of its own unless allowed. Called before
    every load."""
    for filename in ("config.json", "tokenizer_config.json"):
        model_json(path, filename)
    if weights:
        _has_safetensors(path)
    if not trust_remote_code():
        message = remote_code_message(path)
        if message:
            raise InputError(message)


def check_start_model(config: ExperimentConfig, path: str) -> None:
    """Everything about the run's pretrained model (`path`, resolved) that
    can be checked without loading its weights: called before the run is
    registered, so a bad model folder writes no run."""
    check_loadable(path)
    check_max_seq_length(config, path)


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    check_loadable(path, weights=False)
    try:
        return AutoTokenizer.from_pretrained(
            path, trust_remote_code=trust_remote_code()
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # ValueError also for a tokenizer class transformers does not know;
        # KeyError/TypeError for a config whose keys are not what they should be.
        raise InputError(f"could not load a tokenizer from '{path}': {exc}") from None


def load_encoder(path: str):
    """The bare encoder (AutoModel) of a checkpoint, without any task head."""
    from transformers import AutoModel

    check_loadable(path)
    try:
        return AutoModel.from_pretrained(
            path,
            use_safetensors=_has_safetensors(path),
            trust_remote_code=trust_remote_code(),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"could not load a model from '{path}': {exc}") from None


def _has_safetensors(path: str) -> bool:
    """True, or InputError: xlt loads safetensors only (no pickled weights,
    which can run code when read), from a local folder and from the hub
    cache alike. A hub model not in the cache is fetched with
    use_safetensors=True: safetensors, or a clear failure."""
    problem = weights_problem(path)
    if problem:
        raise InputError(problem)
    return True
