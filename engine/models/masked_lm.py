"""An encoder with its masked-language-modelling head, for the `mlm` kind.

`AutoModelForMaskedLM` loads the checkpoint whole: the encoder, and the LM
head where the checkpoint has one (XLM-R's `lm_head`, BERT's `cls` from the
*ForMaskedLM weights the hub publishes). Where it has none (the built-in
`xlt-tiny`, an intermediate checkpoint, which xlt saves as the encoder alone)
transformers builds a fresh head whose output layer is tied to the input
embeddings (`tie_word_embeddings`, the BERT/XLM-R default), so only its
transform (dense + norm) and bias start at random. jiant does the same
(jiant/proj/main/modeling/model_setup.py, "from_transformers_with_mlm": the
pretrained head's weights, decoder tied to the word embeddings).

The encoder the family trains is the LM's own base model, so the head and
the encoder share the embedding matrix and a checkpoint saved from it is a
plain encoder (AutoModel reads it back for the target stage).

Heavy module (torch, transformers): imported when a run builds a model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from torch import nn

from engine.errors import InputError
from engine.models.loading import _has_safetensors, check_loadable, trust_remote_code

log = logging.getLogger("xlt.engine")


@dataclass
class MaskedLM:
    encoder: Any  # the LM's base model (PreTrainedModel)
    lm_head: nn.Module
    pretrained_head: bool
    """Whether the checkpoint held the head's weights (else a fresh one)."""


def load_masked_lm(path: str) -> MaskedLM:
    """The encoder at `path` and its masked-LM head (pretrained or fresh)."""
    from transformers import AutoModelForMaskedLM

    check_loadable(path)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(
            path,
            use_safetensors=_has_safetensors(path),
            trust_remote_code=trust_remote_code(),
            output_loading_info=True,
        )
    except (OSError, ValueError) as exc:
        raise InputError(
            f"could not load a masked-LM model from '{path}' for an mlm task: {exc}"
        ) from None
    prefix = model.base_model_prefix
    heads = [m for name, m in model.named_children() if name != prefix]
    if len(heads) != 1:
        names = [name for name, _ in model.named_children()]
        raise InputError(
            f"'{path}': expected an encoder and one LM head in "
            f"{type(model).__name__}, found modules {names}"
        )
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(prefix)]
    pretrained = not missing
    if not pretrained:
        log.info(
            "'%s' has no masked-LM head weights (%s); the mlm task starts a "
            "fresh LM head, its output layer tied to the input embeddings",
            path,
            ", ".join(sorted(missing)[:3]),
        )
    return MaskedLM(model.base_model, heads[0], pretrained)
