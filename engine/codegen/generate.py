"""Batched generation of code completions from a causal LM.

One row per (problem, sample): the prompt, left-padded to the longest of its
batch, continued by `model.generate` until every row has produced an
end-of-sequence token, hit a stop sequence, or reached `max_new_tokens`.

Reproducibility: greedy decoding does not depend on which prompts share a
batch (rows are independent, padding is masked), so results are the same for
any `batch_size` (up to floating-point noise on some GPUs; the tests check
exact equality on the CPU). Sampling draws each row's tokens from its own
random generator, seeded by (seed, task_id, sample index), so sample 3 of
HumanEval/12 is the same draw whatever else is in its batch and whatever the
batch size. Temperature and top-p are applied before the draw, exactly as
transformers' own warpers do (no top-k).

Settings that change the numbers are one model (`GenerationSettings`, declared
with the experiment file's [generation] table in engine.config.generation);
`as_dict()` is what a run records next to its scores.

Light at import (no torch, no transformers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

# Declared once, with the experiment file's [generation] table; re-exported
# here, where they are used.
from engine.config.generation import (
    HUMANEVAL_STOP_SEQUENCES as HUMANEVAL_STOP_SEQUENCES,
)
from engine.config.generation import GenerationSettings

SETTING_NAMES = tuple(GenerationSettings.model_fields)


def truncate_at_stop(text: str, stop_sequences) -> tuple[str, bool]:
    """`text` cut before the earliest stop sequence in it, and whether it was cut."""
    cut = len(text)
    for stop in stop_sequences:
        at = text.find(stop)
        if 0 <= at < cut:
            cut = at
    return text[:cut], cut < len(text)


def sample_seed(seed: int, task_id: str, sample_index: int) -> int:
    """The random seed of one row: stable across runs, machines and batches."""
    digest = hashlib.sha256(f"{seed}\0{task_id}\0{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def prompt_token_ids(tokenizer, text: str) -> list[int]:
    """The ids a model is given for `text`: the tokenizer's own special tokens
    in front (Llama's <s>; none for GPT-2 or Qwen), none at the end."""
    ids = list(tokenizer(text)["input_ids"])
    eos = tokenizer.eos_token_id
    while ids and eos is not None and ids[-1] == eos and eos != tokenizer.bos_token_id:
        ids.pop()  # a tokenizer that appends </s> would end the prompt
    return ids


def leading_special_count(tokenizer, ids: list[int]) -> int:
    special = set(tokenizer.all_special_ids)
    n = 0
    while n < len(ids) and ids[n] in special:
        n += 1
    return n


def keep_prompt_end(tokenizer, ids: list[int], budget: int) -> list[int]:
    """At most `budget` ids: the leading special tokens and the end of the
    prompt (the part next to the code to write)."""
    if len(ids) <= budget:
        return ids
    lead = leading_special_count(tokenizer, ids)
    keep = max(0, budget - lead)
    return ids[:lead] + (ids[len(ids) - keep :] if keep else [])


def generate_completions(
    model,
    tokenizer,
    records: list[dict],
    settings: GenerationSettings,
    runtime,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[int, int], Any] | None = None,
) -> list[dict[str, Any]]:
    """Completions for every record, `settings.n_samples` each, in record
    order then sample order:

        {"task_id", "completion_index", "completion",
         "stopped": "stop_sequence" | "eos" | "length",
         "new_tokens": int, "prompt_truncated": bool}

    `model` is an AutoModelForCausalLM (or engine.kinds.code_generation's
    CausalLMModel around one); `runtime` an engine.train.Runtime (device,
    autocast). A prompt longer than the model's context minus max_new_tokens
    keeps its end (`prompt_truncated`). `on_batch(done_rows, total_rows)` is
    called after each batch; `should_stop()` is checked before each, and a
    true answer raises engine.errors.Cancelled."""
    import torch

    from engine.errors import Cancelled

    lm = getattr(model, "lm", model)
    device = runtime.device
    lm.to(device)
    lm.eval()
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id
    eos_ids = _eos_ids(lm, tokenizer)
    context = _context_length(lm)

    prompts: list[list[int]] = []
    truncated: list[bool] = []
    for record in records:
        text = record["prompt"].strip() if settings.strip_prompt else record["prompt"]
        ids = prompt_token_ids(tokenizer, text)
        if not ids:
            raise ValueError(f"{record['task_id']}: the prompt is empty")
        if context is not None:
            budget = context - settings.max_new_tokens
            if budget < 1:
                raise ValueError(
                    f"max_new_tokens: {settings.max_new_tokens} leaves no room for "
                    f"the prompt in this model's context of {context} tokens"
                )
            kept = keep_prompt_end(tokenizer, ids, budget)
            truncated.append(len(kept) < len(ids))
            ids = kept
        else:
            truncated.append(False)
        prompts.append(ids)

    # One row per (record, sample); longest prompts first, so a batch wastes
    # little on padding (the order does not change any row's result).
    rows = [(i, j) for i in range(len(records)) for j in range(settings.n_samples)]
    order = sorted(range(len(rows)), key=lambda r: -len(prompts[rows[r][0]]))
    results: dict[int, dict[str, Any]] = {}
    for start in range(0, len(order), settings.batch_size):
        if should_stop():
            raise Cancelled("cancelled during generation")
        batch_rows = order[start : start + settings.batch_size]
        batch_prompts = [prompts[rows[r][0]] for r in batch_rows]
        generators = None
        if settings.do_sample:
            generators = [
                torch.Generator(device=device).manual_seed(
                    sample_seed(settings.seed, records[i]["task_id"], j)
                )
                for i, j in (rows[r] for r in batch_rows)
            ]
        new_ids, stop_lengths = _generate_batch(
            lm, batch_prompts, pad_id, eos_ids, settings, runtime, tokenizer, generators
        )
        for r, prompt, ids, stop_len in zip(
            batch_rows, batch_prompts, new_ids, stop_lengths, strict=True
        ):
            i, j = rows[r]
            results[r] = _completion(
                tokenizer, prompt, ids, stop_len, eos_ids, settings.stop_sequences
            ) | {
                "task_id": records[i]["task_id"],
                "completion_index": j,
                "prompt_truncated": truncated[i],
            }
        if on_batch is not None:
            on_batch(min(start + settings.batch_size, len(order)), len(order))
    keys = ("task_id", "completion_index", "completion")
    return [
        {k: results[r][k] for k in keys}
        | {k: v for k, v in results[r].items() if k not in keys}
        for r in range(len(rows))
    ]


def _generate_batch(
    lm, prompts, pad_id, eos_ids, settings, runtime, tokenizer, generators
):
    """New token ids of each row (up to its end), and where a stop sequence
    ended each row (None: none did)."""
    import torch
    from transformers import (
        GenerationConfig,
        LogitsProcessorList,
        StoppingCriteriaList,
    )

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(runtime.device), mask.to(runtime.device)

    # A fresh generation config: nothing from the model's own (sampling
    # defaults, repetition penalties, suppressed tokens) changes the numbers
    # behind our back; only its end-of-sequence ids are kept.
    config = GenerationConfig(
        max_new_tokens=settings.max_new_tokens,
        do_sample=False,  # sampling is done by _SeededSampler, row by row
        num_beams=1,
        pad_token_id=pad_id,
        eos_token_id=eos_ids,
        bos_token_id=getattr(lm.generation_config, "bos_token_id", None),
        use_cache=True,
    )
    stopper = _StopSequences(tokenizer, width, settings.stop_sequences, len(prompts))
    processors = LogitsProcessorList()
    if generators is not None:
        processors.append(
            _SeededSampler(generators, settings.temperature, settings.top_p)
        )
    with torch.inference_mode(), runtime.autocast():
        out = lm.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([stopper]),
        )
    new = out[:, width:].tolist()
    return new, stopper.stop_lengths


def _completion(tokenizer, prompt, new_ids, stop_len, eos_ids, stop_sequences):
    stopped = "length"
    if stop_len is not None:
        new_ids = new_ids[:stop_len]
    for n, token in enumerate(new_ids):
        if token in eos_ids:
            new_ids = new_ids[:n]
            stopped = "eos"
            break
    # Decode prompt + completion and drop the decoded prompt: tokenizers whose
    # decoding of a sequence's first token differs (SentencePiece drops a
    # leading space) then give the completion's text exactly.
    whole = tokenizer.decode(prompt + new_ids, skip_special_tokens=True)
    head = tokenizer.decode(prompt, skip_special_tokens=True)
    if whole.startswith(head):
        text = whole[len(head) :]
    else:
        text = tokenizer.decode(new_ids, skip_special_tokens=True)
    text, cut = truncate_at_stop(text, stop_sequences)
    if cut:
        stopped = "stop_sequence"
    return {"completion": text, "stopped": stopped, "new_tokens": len(new_ids)}


class _StopSequences:
    """A stopping criterion: a row is done once its generated text (not the
    prompt) contains a stop sequence. Decodes only the last few tokens of each
    row per step; a stop sequence of m characters lies within the last
    4*m + 4 tokens (a token is at least one byte)."""

    def __init__(self, tokenizer, prompt_width: int, stops, rows: int):
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = tuple(stops)
        self.window = 4 * max((len(s) for s in self.stops), default=0) + 4
        self.stop_lengths: list[int | None] = [None] * rows

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = [n is not None for n in self.stop_lengths]
        if not self.stops:
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.prompt_width
        tail = input_ids[:, -min(self.window, generated) :].tolist()
        for row, tokens in enumerate(tail):
            if done[row]:
                continue
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if any(stop in text for stop in self.stops):
                self.stop_lengths[row] = generated
                done[row] = True
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _SeededSampler:
    """A logits processor that samples each row's next token with the row's
    own generator (temperature, then top-p as transformers' warpers do) and
    leaves only that token possible, so greedy selection takes it."""

    def __init__(self, generators, temperature: float, top_p: float):
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        import torch

        logits = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_logits, sorted_index = torch.sort(logits, descending=False)
            cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - self.top_p)
            remove[..., -1:] = False  # keep at least the most likely token
            logits = logits.masked_fill(
                remove.scatter(1, sorted_index, remove), float("-inf")
            )
        probs = logits.softmax(dim=-1)
        chosen = torch.stack(
            [
                torch.multinomial(probs[row], 1, generator=generator)
                for row, generator in enumerate(self.generators)
            ]
        )
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen, 0.0)


def _eos_ids(lm, tokenizer) -> list[int]:
    """End-of-sequence ids: the model's generation config may list several
    (Llama 3: <|end_of_text|> and <|eot_id|>); else the tokenizer's."""
    configured = getattr(getattr(lm, "generation_config", None), "eos_token_id", None)
    ids: list[int] = []
    if isinstance(configured, int):
        ids.append(configured)
    elif configured:
        ids.extend(int(i) for i in configured)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _context_length(lm) -> int | None:
    config = lm.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
