"""Resolve a model reference and load its encoder and tokenizer.

A reference is the built-in `xlt-tiny`, a local folder written by
`save_pretrained`, or a hub id. All three load through the Auto classes; only
the encoder is kept (pretraining heads are dropped), and weights come from
safetensors. Remote code is never run unless the caller asks for it.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.models.tiny import TINY_NAME, ensure_tiny_model
from engine.workspace import Workspace


def resolve_model_path(model: str, workspace: Workspace) -> str:
    """The folder or hub id that from_pretrained should read."""
    if model == TINY_NAME:
        return str(ensure_tiny_model(workspace.model_dir(TINY_NAME)))
    return model


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise InputError(f"could not load a tokenizer from '{path}': {exc}") from None


def load_encoder(path: str):
    """The bare encoder (AutoModel) of a checkpoint, without any task head."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(path, use_safetensors=_has_safetensors(path))
    except OSError as exc:
        raise InputError(f"could not load a model from '{path}': {exc}") from None


def _has_safetensors(path: str) -> bool | None:
    # Local folders must hold safetensors; for hub ids let transformers prefer them
    # (it refuses pickled weights unless torch.load's weights_only is available).
    folder = Path(path)
    if folder.is_dir():
        if not any(folder.glob("*.safetensors")):
            raise InputError(
                f"'{path}' has no .safetensors weights; xlt loads only safetensors "
                "(convert with model.save_pretrained(dir, safe_serialization=True))"
            )
        return True
    return None
