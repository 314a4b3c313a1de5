"""Load a causal language model (code generation) and its tokenizer.

The same rules as engine.models.loading for encoders: a reference is the
built-in `xlt-tiny-causal`, a local folder written by `save_pretrained`, or a
hub id; everything loads through the Auto classes; weights come from
safetensors only (a local folder without them is refused with the conversion
to run); remote code runs only where the experiment sets
`trust_remote_code = true` (engine.models.loading: a model naming code of its
own is refused otherwise, and an architecture transformers does not ship is
refused with a clear message).
"""

from __future__ import annotations

from engine.errors import InputError
from engine.models.loading import (
    _has_safetensors,
    check_loadable,
    load_tokenizer,
    trust_remote_code,
)
from engine.models.tiny_causal import TINY_CAUSAL_NAME, ensure_tiny_causal_model
from engine.workspace import Workspace


def resolve_causal_model_path(model: str, workspace: Workspace) -> str:
    """The folder or hub id that from_pretrained should read."""
    if model == TINY_CAUSAL_NAME:
        return str(ensure_tiny_causal_model(workspace.model_dir(TINY_CAUSAL_NAME)))
    return model


def load_causal_tokenizer(path: str):
    """The model's tokenizer, with a padding token: batched training and
    generation need one, and most causal LMs (GPT-2, Llama) ship none, so
    their end-of-sequence token pads (padding is masked out either way)."""
    tokenizer = load_tokenizer(path)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise InputError(
                f"the tokenizer of '{path}' has neither a padding nor an "
                "end-of-sequence token; a causal LM for code generation needs one"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str, dtype=None):
    """AutoModelForCausalLM from `path` (folder or hub id). `dtype` (a
    torch.dtype) loads the weights in that type, e.g. bf16 for generation
    only; None keeps float32, which training needs (autocast does the rest)."""
    from transformers import AutoModelForCausalLM

    check_loadable(path)
    kwargs = {
        "use_safetensors": _has_safetensors(path),
        "trust_remote_code": trust_remote_code(),
    }
    if dtype is not None:
        kwargs[_dtype_argument()] = dtype
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, KeyError, TypeError) as exc:
        raise InputError(f"could not load a model from '{path}': {exc}") from None
    except ValueError as exc:
        # transformers says ValueError for an architecture it does not know
        # (one that would need remote code) or a config without a causal LM.
        raise InputError(
            f"could not load '{path}' as a causal language model "
            f"(AutoModelForCausalLM, no remote code): {exc}"
        ) from None


def _dtype_argument() -> str:
    # transformers renamed from_pretrained's `torch_dtype` to `dtype` in 4.56.
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
