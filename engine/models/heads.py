"""A shared encoder with one head per task.

The encoder is whatever AutoModel loaded; heads come from the task's kind
(engine.kinds), one per task, so an intermediate stage's heads can be dropped
and the encoder kept for the target, and a multi-task stage trains several
heads on one encoder.
"""

from __future__ import annotations

import torch
from torch import nn


def pooling_for(tokenizer) -> str:
    """'first' when the tokenizer starts every input with a [CLS]/<s> token
    (BERT, XLM-R), else 'mean' (byte-level tokenizers add no such token)."""
    ids = tokenizer("a")["input_ids"]
    starts = {tokenizer.cls_token_id, tokenizer.bos_token_id} - {None}
    return "first" if ids and ids[0] in starts else "mean"


ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class TaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, pooling: str):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.heads = nn.ModuleDict()

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def dropout(self) -> float:
        return getattr(self.encoder.config, "hidden_dropout_prob", 0.1)

    def add_head(self, task, kind) -> None:
        self.heads[_key(task.name)] = kind.make_head(
            self.hidden_size, task, self.dropout, self.pooling
        )

    def forward(self, task: str, batch: dict[str, torch.Tensor]):
        inputs = {k: batch[k] for k in ENCODER_INPUTS if k in batch}
        hidden = self.encoder(**inputs).last_hidden_state
        return self.heads[_key(task)](hidden, batch)


def _key(task: str) -> str:
    # ModuleDict keys may not contain '.'.
    return task.replace(".", "_")
