"""Task heads on a shared encoder.

The encoder is whatever AutoModel loaded; heads are ours, one per task, so an
intermediate stage's heads can be dropped and the encoder kept for the target.
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


class ClassificationHead(nn.Module):
    """Dense + tanh + projection over a pooled sentence vector (as RoBERTa's)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(pooled)))
        return self.out_proj(self.dropout(x))


class TaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, pooling: str):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.heads = nn.ModuleDict()

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    def add_classification_head(self, task: str, num_labels: int) -> None:
        dropout = getattr(self.encoder.config, "hidden_dropout_prob", 0.1)
        self.heads[_key(task)] = ClassificationHead(
            self.hidden_size, num_labels, dropout
        )

    def forward(self, task: str, input_ids, attention_mask, **extra) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra)
        hidden = out.last_hidden_state
        if self.pooling == "first":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.heads[_key(task)](pooled)


def _key(task: str) -> str:
    # ModuleDict keys may not contain '.'.
    return task.replace(".", "_")
