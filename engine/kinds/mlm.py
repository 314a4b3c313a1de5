"""Masked-language modelling on plain text in any languages: the paper's
"continue multilingual MLM during intermediate training" variant (Phang et
al. 2020, the section on MLM and translated data), alone as an intermediate
choice or as a member of a multi-task group beside an intermediate task.

Records are {"text": str}: one line of a .txt file (or the `text` column of a
JSONL/CSV row) is one record, a document or a sentence, as the user's files
have it (jiant's mlm_simple task reads one example per line the same way).
A record longer than max_seq_length is cut into consecutive windows, each a
unit of its own, so no text is dropped; windows do not cross records.

Masking follows BERT (Devlin et al. 2019, section 3.1 "Task #1: Masked LM")
as XLM-R kept it (Conneau et al. 2020, section 3, "the same MLM objective"):
15% of the non-special tokens are chosen; of those 80% become the mask token,
10% a random token of the vocabulary, 10% stay as they are; the loss is on
the chosen tokens only. It is drawn in `collate`, afresh every time a batch
is built (RoBERTa's dynamic masking, Liu et al. 2019, section 4.1), from a
generator seeded by the stage's seed: engine.train.train_stage seeds torch's
generator with it, and each training batch draws its masking seed from
there, so the same seed gives the same masks and another seed other ones.
Evaluation masks (no gradient: engine.train.predict) are fixed per unit,
whatever the seed or the batch, so validation scores compare across steps,
seeds and intermediate choices. xlt's choice beyond BERT: a unit whose draw
chose no token gets one (a batch with nothing to predict has no loss).

The metric is masked-token accuracy (primary: higher is better, as every
metric the training loop selects on), with perplexity, exp of the mean
cross-entropy over the masked tokens, beside it.

The head is the checkpoint's own LM head (engine.models.masked_lm), or a
fresh one tied to the input embeddings where it has none (xlt-tiny); it
scores only the masked positions, so the vocabulary-sized output (250k for
XLM-R) is never computed for every token.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from engine.data.features import Features, ragged
from engine.errors import InputError
from engine.kinds.base import Kind, pad_rows
from engine.kinds.targets import TrainThenEvaluate
from engine.predictions import PredictionTable, example_ids

# BERT section 3.1 / appendix A.1; jiant's mlm_mask_tokens and transformers'
# DataCollatorForLanguageModeling use the same numbers.
MASK_PROBABILITY = 0.15
REPLACE_WITH_MASK = 0.8
REPLACE_WITH_RANDOM = 0.1  # the remaining 0.1 keeps the token
IGNORE = -100  # positions the loss skips (torch's cross_entropy default)
_EVAL_MASK_SEED = 20200526  # fixed evaluation masks (arXiv 2005.13013's date)
_CHUNK = 1000


def mask_token_id(tokenizer) -> int:
    """The token that replaces a masked one: the tokenizer's mask token, else
    (byte-level ByT5, as xlt-tiny has) its first sentinel, `<extra_id_0>`,
    the token T5 puts in place of masked text."""
    if tokenizer.mask_token_id is not None:
        return int(tokenizer.mask_token_id)
    sentinel = tokenizer.convert_tokens_to_ids("<extra_id_0>")
    if isinstance(sentinel, int) and sentinel != tokenizer.unk_token_id:
        return sentinel
    raise InputError(
        f"the tokenizer ({type(tokenizer).__name__}) has no mask token; an mlm "
        "task needs a model pretrained with masked-language modelling "
        "(e.g. FacebookAI/xlm-roberta-large)"
    )


def mask_row(
    rng: np.random.Generator,
    ids: np.ndarray,
    maskable: np.ndarray,
    mask_id: int,
    vocab: int,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT's masking of one row: (input ids, labels). `maskable` marks the
    real, non-special tokens; labels are IGNORE except at chosen tokens."""
    n = len(ids)
    chosen = (rng.random(n) < MASK_PROBABILITY) & maskable
    if not chosen.any() and maskable.any():
        chosen[rng.choice(np.flatnonzero(maskable))] = True
    how = rng.random(n)
    random_ids = rng.integers(0, vocab, size=n)
    to_mask = chosen & (how < REPLACE_WITH_MASK)
    to_random = chosen & ~to_mask & (how < REPLACE_WITH_MASK + REPLACE_WITH_RANDOM)
    inputs = np.where(to_mask, mask_id, np.where(to_random, random_ids, ids))
    return inputs, np.where(chosen, ids, IGNORE)


class MaskedLMHead(nn.Module):
    """The LM head applied to the masked positions only: (masked, vocab)."""

    def __init__(self, lm_head: nn.Module):
        super().__init__()
        self.lm_head = lm_head

    def forward(self, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        return self.lm_head(hidden[batch["mlm_labels"] != IGNORE])


class MaskedLMKind(Kind):
    name = "mlm"
    target = TrainThenEvaluate()
    reads_lm_head = True
    """The encoder family builds its head from the checkpoint's LM head
    (engine.models.families), not from make_head."""

    # -- data -> features ---------------------------------------------------
    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        width = max_length - tokenizer.num_special_tokens_to_add(pair=False)
        if width < 1:
            raise InputError(
                f"task '{task.name}': max_seq_length {max_length} leaves no room "
                "for text beside the special tokens"
            )
        rows: list[list[int]] = []
        special: list[list[int]] = []
        record_index: list[int] = []
        for start in range(0, len(records), _CHUNK):
            texts = [r["text"] for r in records[start : start + _CHUNK]]
            encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
            for offset, ids in enumerate(encoded):
                for w in range(0, max(len(ids), 1), width):
                    window = ids[w : w + width]
                    rows.append(tokenizer.build_inputs_with_special_tokens(window))
                    special.append(tokenizer.get_special_tokens_mask(window))
                    record_index.append(start + offset)
        flat, offsets = ragged(rows)
        n = len(rows)
        return Features(
            flat,
            offsets,
            1,
            None,
            {
                "record_index": np.asarray(record_index, dtype=np.int64),
                # What collate needs from the tokenizer, which it is not given.
                "mask_token_id": np.full(n, mask_token_id(tokenizer), np.int64),
                "vocab_size": np.full(n, len(tokenizer), np.int64),
            },
            {"special": ragged(special, np.int8)[0]},
        )

    def collate(self, features, units, pad_id, pad_to_multiple) -> dict:
        batch = pad_rows(features, features.rows_of(units), pad_id, pad_to_multiple)
        special = batch.pop("token.special").numpy()
        ids = batch["input_ids"].numpy()
        mask_id = int(features.unit_arrays["mask_token_id"][units[0]])
        vocab = int(features.unit_arrays["vocab_size"][units[0]])
        training = torch.is_grad_enabled()
        # Training: the stage's seed, through the generator train_stage seeded.
        batch_seed = int(torch.randint(0, 2**62, (1,)).item()) if training else 0
        inputs = ids.copy()
        labels = np.full_like(ids, IGNORE)
        for j, unit in enumerate(units):
            seed = [batch_seed, j] if training else [_EVAL_MASK_SEED, int(unit)]
            inputs[j], labels[j] = mask_row(
                np.random.default_rng(seed), ids[j], special[j] == 0, mask_id, vocab
            )
        batch["input_ids"] = torch.from_numpy(inputs)
        batch["mlm_labels"] = torch.from_numpy(labels)
        return batch

    # -- model ----------------------------------------------------------------
    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        raise TypeError(
            "the mlm head is the checkpoint's LM head: engine.models.families "
            "builds it with make_lm_head"
        )

    def make_lm_head(self, lm_head: nn.Module) -> nn.Module:
        return MaskedLMHead(lm_head)

    def loss(self, outputs, batch) -> torch.Tensor:
        labels = batch["mlm_labels"]
        targets = labels[labels != IGNORE]
        if targets.numel() == 0:  # only rows without a real token
            return outputs.sum() * 0.0
        return nn.functional.cross_entropy(outputs.float(), targets)

    def gather(self, outputs, batch) -> dict:
        """Per unit: masked tokens, correct predictions, summed cross-entropy."""
        labels = batch["mlm_labels"]
        where = labels != IGNORE
        rows = where.nonzero()[:, 0]
        targets = labels[where]
        logits = outputs.float()
        correct = (logits.argmax(-1) == targets).float()
        nll = nn.functional.cross_entropy(logits, targets, reduction="none")
        n = labels.shape[0]

        def per_row(values: torch.Tensor) -> np.ndarray:
            out = torch.zeros(n, dtype=torch.float64, device=values.device)
            return out.index_add_(0, rows, values.double()).cpu().numpy()

        return {
            "masked": per_row(torch.ones_like(correct)),
            "correct": per_row(correct),
            "nll": per_row(nll.detach()),
        }

    # -- scoring --------------------------------------------------------------
    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        masked = float(gathered["masked"].sum())
        if masked == 0:
            raise InputError(
                f"task '{task.name}' ({language}): no token to mask in its "
                "evaluation data (only empty lines?)"
            )
        return {
            "masked_accuracy": float(gathered["correct"].sum()) / masked,
            "perplexity": math.exp(float(gathered["nll"].sum()) / masked),
        }

    def predictions(self, gathered, features, records, task, language):
        """One row per text (its windows summed): masked tokens ("tokens"),
        those predicted right ("correct") and their summed cross-entropy
        ("nll"; perplexity is exp(sum nll / sum tokens), which no reducer
        rebuilds yet). No prediction or gold text: the masked positions are
        not kept. Ids "<language>-<line index>"."""
        record = features.unit_arrays["record_index"]
        ids = example_ids(records, language, len(records))
        sums = {
            name: np.bincount(record, weights=gathered[key])
            for name, key in (
                ("tokens", "masked"),
                ("correct", "correct"),
                ("nll", "nll"),
            )
        }
        rows = [
            {
                "id": ids[int(i)] if ids else f"{language}-{int(i)}",
                "prediction": None,
                "gold": None,
                "correct": int(sums["correct"][i]),
                "tokens": int(sums["tokens"][i]),
                "nll": float(sums["nll"][i]),
            }
            for i in np.unique(record)
        ]
        return PredictionTable({"masked_accuracy": "token_accuracy"}, rows)


KIND = MaskedLMKind()
