"""The two trainable model shapes, with one call signature:
`model(task_name, batch) -> outputs`, so engine.train.train_stage runs both.

TaskModel: a shared encoder with one head per task. The encoder is whatever
AutoModel loaded; heads come from the task's kind (engine.kinds), one per
task, so an intermediate stage's heads can be dropped and the encoder kept for
the target, and a multi-task stage trains several heads on one encoder.

CausalLMModel: a whole causal LM (code generation); every code task shares the
LM's own output layer, so there are no heads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def pooling_for(tokenizer) -> str:
    """'first' when the tokenizer starts every input with a [CLS]/<s> token
    (BERT, XLM-R), else 'mean' (byte-level tokenizers add no such token)."""
    ids = tokenizer("a")["input_ids"]
    starts = {tokenizer.cls_token_id, tokenizer.bos_token_id} - {None}
    return "first" if ids and ids[0] in starts else "mean"


ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class TaskModel(nn.Module):
    def __init__(self, encoder: PreTrainedModel, pooling: str):
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

    def set_head(self, task: str, head: nn.Module) -> None:
        """A head built elsewhere: the mlm kind's wraps the checkpoint's own
        LM head (engine.models.masked_lm), which shares the encoder's
        embeddings, so it cannot be made from the hidden size alone."""
        self.heads[_key(task)] = head

    def forward(self, task: str, batch: dict[str, torch.Tensor]):
        inputs = {k: batch[k] for k in ENCODER_INPUTS if k in batch}
        hidden = self.encoder(**inputs).last_hidden_state
        return self.heads[_key(task)](hidden, batch)


def _key(task: str) -> str:
    # ModuleDict keys may not contain '.'.
    return task.replace(".", "_")


class CausalLMModel(nn.Module):
    """A whole causal LM, called like TaskModel:
    `model(task_name, batch) -> logits` (batch, positions, vocabulary). Every
    code task shares the LM's own output layer, so there are no heads."""

    def __init__(self, lm: PreTrainedModel):
        super().__init__()
        self.lm = lm

    @property
    def config(self):
        return self.lm.config

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.lm(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            use_cache=False,
        ).logits

    def save_pretrained(self, folder) -> None:
        """The whole LM (config, generation config, safetensors weights)."""
        self.lm.save_pretrained(folder)
