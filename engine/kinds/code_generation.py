"""Code generation with causal language models.

Intermediate stage: supervised fine-tuning on prompt -> solution. A row is the
prompt's tokens, the solution's tokens and an end-of-sequence token; the
per-token `labels` are the token ids on the solution (and the end token) and
-100 on the prompt, so the loss is on the solution only. The prompt is
stripped of surrounding whitespace and its trailing whitespace is trained as
the start of the solution: generation strips the prompt the same way
(GenerationSettings.strip_prompt, as the bigcode harness does) and the model
writes that newline and indentation itself.
Too long a row loses the *beginning* of its prompt (the leading special tokens
such as <s> are kept), so the tokens right before the solution stay; a
solution longer than the whole budget is cut at its end (it then has no end
token).

The whole LM is trained: engine.models.heads.CausalLMModel wraps an
AutoModelForCausalLM with TaskModel's call signature, `model(task_name,
batch) -> logits`, so engine.train.train_stage runs it unchanged; validation
reports teacher-forced next-token accuracy, loss and perplexity on the
solution tokens.

Target stage (GenerateAndScore): no training; completions are generated
(engine.codegen.generate) with the stage's LM and scored by
`score_generations`: pass@k from sandboxed execution (engine.codeeval) or
BLEU on code tokens. Every completion and its verdict is written beside the
stage's result (stages/<key>/generations/<language>.jsonl).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.atomic import write_text_atomic
from engine.codeeval.bleu import code_bleu
from engine.codeeval.execute import check_completions
from engine.codeeval.passk import mean_pass_at_k
from engine.codeeval.sandbox import Limits
from engine.codegen.generate import generate_completions, leading_special_count
from engine.data.features import Features, ragged
from engine.kinds.base import Kind, Score, StageContext
from engine.models.causal import load_causal_lm
from engine.tasks.kinds import GENERATE_AND_SCORE

IGNORE = -100
PASS_AT_K = (1, 10, 100)
STATUSES = ("passed", "failed", "timed_out", "error")
_CHUNK = 1000


def split_prompt(prompt: str, solution: str) -> tuple[str, str]:
    """(the prompt stripped of surrounding whitespace, its trailing whitespace
    + the solution): the context generation gives the model with
    strip_prompt, and what the model must write after it."""
    head = prompt.rstrip()
    return head.lstrip(), prompt[len(head) :] + solution


def encode_sft_rows(
    tokenizer, records: list[dict], max_length: int
) -> tuple[list[list[int]], list[int]]:
    """Token ids of prompt + solution + end token per record, and how many of
    each row's leading tokens are prompt (no loss)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no end-of-sequence token to end solutions")
    pairs = [split_prompt(r["prompt"], r["solution"]) for r in records]
    rows: list[list[int]] = []
    prompt_lengths: list[int] = []
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        prompts = tokenizer([p for p, _ in chunk])["input_ids"]
        wholes = tokenizer([p + s for p, s in chunk])["input_ids"]
        for (_, solution), p_ids, w_ids in zip(chunk, prompts, wholes, strict=True):
            p_ids = _without_trailing_eos(tokenizer, list(p_ids))
            w_ids = _without_trailing_eos(tokenizer, list(w_ids))
            if w_ids[: len(p_ids)] == p_ids:
                s_ids = w_ids[len(p_ids) :]
            else:
                # The tokenizer merged across the boundary: the model sees the
                # prompt's own tokens at generation, so train on those and the
                # solution tokenized by itself.
                s_ids = tokenizer(solution, add_special_tokens=False)["input_ids"]
            p_ids, s_ids = _fit(tokenizer, p_ids, list(s_ids) + [eos], max_length)
            rows.append(p_ids + s_ids)
            prompt_lengths.append(len(p_ids))
    return rows, prompt_lengths


def _without_trailing_eos(tokenizer, ids: list[int]) -> list[int]:
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    while ids and ids[-1] == eos and eos != bos:
        ids.pop()
    return ids


def _fit(tokenizer, p_ids: list[int], s_ids: list[int], max_length: int):
    """Cut a row to max_length: the prompt from its start (after its leading
    special tokens), the solution from its end only if it alone does not fit
    (one prompt token is always kept, so the first solution token has a
    position to be predicted from)."""
    if len(p_ids) + len(s_ids) <= max_length:
        return p_ids, s_ids
    lead = leading_special_count(tokenizer, p_ids)
    room = max(1, max_length - max(lead, 1))
    s_ids = s_ids[:room]
    keep = max_length - len(s_ids) - lead
    body = p_ids[lead:]
    return p_ids[:lead] + (body[len(body) - keep :] if keep > 0 else []), s_ids


def _shifted(outputs: torch.Tensor, batch: dict[str, torch.Tensor]):
    """Logits at positions t and the labels of t + 1, where a label exists."""
    labels = batch["token.labels"][:, 1:]
    keep = labels != IGNORE
    return outputs[:, :-1][keep], labels[keep], keep


class GenerateAndScore:
    """How a code target is run: the stage's LM (the intermediate checkpoint,
    or the pretrained model for the baseline) generates completions for every
    language's problems, which are then executed in the sandbox (pass@k) or
    compared with the reference (BLEU)."""

    mode = GENERATE_AND_SCORE

    def prepare(self, stage, ctx: StageContext) -> GenerationTarget:
        lm = load_causal_lm(ctx.start_of(stage), dtype=ctx.runtime.autocast_dtype)
        lm.to(ctx.runtime.device)
        return GenerationTarget(stage, ctx, lm, Limits())


class GenerationTarget:
    def __init__(self, stage, ctx: StageContext, lm, limits):
        self.stage, self.ctx, self.lm, self.limits = stage, ctx, lm, limits
        settings = stage.generation.as_dict()
        self.summary = {
            "trained": False,
            "generation": settings,
            "limits": dataclasses.asdict(limits),
        }

    def score(self, language: str, split: str) -> Score:
        task, ctx, hp = self.stage.target_task, self.ctx, self.stage.hparams
        records = ctx.records(task, split, language)
        if hp.max_eval_examples:
            records = records[: hp.max_eval_examples]
        completions = generate_completions(
            self.lm,
            ctx.tokenizer,
            records,
            self.stage.generation,
            ctx.runtime,
            should_stop=ctx.should_stop,
        )
        scored = score_generations(records, completions, task, self.limits)
        folder = ctx.workspace.stage_generations(self.stage.key)
        write_generations(
            folder / generations_file(language, split, task.eval_split),
            completions,
            scored,
        )
        return Score(
            language,
            split,
            scored.metrics,
            len(records),
            extra={"generation": self.stage.generation.as_dict()},
        )


def generations_file(language: str, split: str, default_split: str) -> str:
    """<language>.jsonl for the task's own evaluation split (the name runs
    before eval_splits kept), <language>.<split>.jsonl for another split."""
    if split == default_split:
        return f"{language}.jsonl"
    return f"{language}.{split}.jsonl"


def write_generations(path, completions: list[dict], scored) -> None:
    """Every completion with its verdict, for reading why a problem failed."""
    verdicts = {
        (s.get("task_id"), s.get("completion_index")): s
        for s in scored.samples
        if isinstance(s, dict)
    }
    lines = []
    for c in completions:
        extra = verdicts.get((c["task_id"], c["completion_index"]), {})
        lines.append(json.dumps({**c, **extra}, ensure_ascii=False))
    write_text_atomic(path, "\n".join(lines) + ("\n" if lines else ""))


class CodeGenerationKind(Kind):
    name = "code_generation"
    version = "1"
    target = GenerateAndScore()

    def featurize(self, tokenizer, records, task, max_length, stride) -> Features:
        rows, prompt_lengths = encode_sft_rows(tokenizer, records, max_length)
        flat, offsets = ragged(rows)
        labels = flat.astype(np.int32, copy=True)
        for row, n_prompt in enumerate(prompt_lengths):
            labels[offsets[row] : offsets[row] + n_prompt] = IGNORE
        index = np.arange(len(rows), dtype=np.int64)
        return Features(
            flat, offsets, 1, None, {"record_index": index}, {"labels": labels}
        )

    def make_head(self, hidden_size, task, dropout, pooling) -> nn.Module:
        raise TypeError(
            "code_generation trains the whole causal LM: wrap it in "
            "engine.models.causal.CausalLMModel instead of a TaskModel"
        )

    def loss(self, outputs, batch) -> torch.Tensor:
        # Only the solution positions are turned into float32 log-probabilities:
        # a full (batch x length x vocabulary) copy would be large.
        logits, labels, _ = _shifted(outputs, batch)
        return nn.functional.cross_entropy(logits.float(), labels)

    def gather(self, outputs, batch) -> dict:
        logits, labels, keep = _shifted(outputs, batch)
        logits = logits.float()
        nll = nn.functional.cross_entropy(logits, labels, reduction="none")
        correct = (logits.argmax(-1) == labels).float()
        row = keep.nonzero()[:, 0]
        n_rows = outputs.shape[0]

        def per_row(values):
            total = torch.zeros(n_rows, dtype=torch.float64, device=values.device)
            return total.index_add_(0, row, values.double()).cpu().numpy()

        return {
            "nll_sum": per_row(nll),
            "n_tokens": keep.sum(1).cpu().numpy(),
            "n_correct": per_row(correct),
        }

    def score(self, gathered, features, records, task, language) -> dict[str, float]:
        tokens = float(gathered["n_tokens"].sum())
        if tokens == 0:
            return {"token_accuracy": 0.0, "loss": 0.0, "perplexity": 1.0}
        loss = float(gathered["nll_sum"].sum()) / tokens
        return {
            "token_accuracy": float(gathered["n_correct"].sum()) / tokens,
            "loss": loss,
            "perplexity": math.exp(min(loss, 50.0)),
        }


KIND = CodeGenerationKind()


# -- target stage: scoring generated code ------------------------------------


@dataclass
class GenerationScores:
    """Metrics of one language's completions (primary metric first) and, for
    executed tasks, every completion's verdict."""

    metrics: dict[str, float]
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def primary(self) -> tuple[str, float]:
        return next(iter(self.metrics.items()))


def score_generations(
    records: list[dict],
    completions: list[dict],
    task,
    limits=None,
    workers: int = 2,
    check: Callable | None = None,
) -> GenerationScores:
    """Score `completions` ({"task_id", "completion_index", "completion"}, as
    generate_completions returns them) against `records` by the task's metric:

    - "pass@k": every completion is executed with the record's tests
      (engine.codeeval.execute.check_completions, within `limits`); pass@k for
      k in 1, 10, 100 up to the samples per problem (unbiased estimator,
      averaged over problems), then the counts of each verdict.
    - "bleu": the first completion of each problem against its
      `reference_code` (engine.codeeval.bleu.code_bleu).

    `check` replaces check_completions (tests). Executing code is the
    caller's decision: the run must have been allowed to (see
    allow_code_execution) before this is called for a pass@k task."""
    if task.metric == "bleu":
        return _score_bleu(records, completions)
    if task.metric != "pass@k":
        raise ValueError(
            f"{task.name}: code_generation scores 'pass@k' or 'bleu', "
            f"not {task.metric!r}"
        )
    if check is None:
        check = check_completions
    if limits is None:
        limits = Limits()
    problems = {r["task_id"]: r for r in records}
    by_task = _completions_by_task(records, completions)
    samples = [
        {
            "task_id": task_id,
            "completion_index": c["completion_index"],
            "completion": c["completion"],
        }
        for task_id in problems
        for c in by_task[task_id]
    ]
    results = check(problems, samples, limits, workers=workers)
    counts: dict[str, list[int]] = {task_id: [0, 0] for task_id in problems}
    statuses: Counter[str] = Counter()
    details = []
    for result in results:
        verdict = result.verdict
        counts[result.task_id][0] += 1
        counts[result.task_id][1] += verdict.status == "passed"
        statuses[verdict.status] += 1
        details.append(
            {
                "task_id": result.task_id,
                "completion_index": result.completion_index,
                "status": verdict.status,
                "reason": verdict.reason,
                "seconds": verdict.seconds,
            }
        )
    n_min = min(n for n, _ in counts.values())
    ks = tuple(k for k in PASS_AT_K if k <= n_min)
    metrics: dict[str, float] = dict(
        mean_pass_at_k({t: (n, c) for t, (n, c) in counts.items()}, ks)
    )
    metrics["samples_per_problem"] = n_min
    for status in STATUSES:
        metrics[status] = statuses.get(status, 0)
    return GenerationScores(metrics, details)


def _completions_by_task(records, completions) -> dict[str, list[dict]]:
    by_task: dict[str, list[dict]] = {r["task_id"]: [] for r in records}
    for c in completions:
        if c["task_id"] not in by_task:
            raise ValueError(f"a completion for {c['task_id']!r}, which no record has")
        by_task[c["task_id"]].append(c)
    missing = [t for t, cs in by_task.items() if not cs]
    if missing:
        raise ValueError(
            f"no completion for {len(missing)} problems, e.g. {missing[0]}"
        )
    for cs in by_task.values():
        cs.sort(key=lambda c: c.get("completion_index", 0))
    return by_task


def _score_bleu(records, completions) -> GenerationScores:
    by_task = _completions_by_task(records, completions)
    missing = [r["task_id"] for r in records if r.get("reference_code") is None]
    if missing:
        raise ValueError(
            f"BLEU needs each record's reference_code; {missing[0]} has none"
        )
    predictions = [by_task[r["task_id"]][0]["completion"] for r in records]
    references = [r["reference_code"] for r in records]
    return GenerationScores(
        {"bleu": float(code_bleu(predictions, references)), "problems": len(records)}
    )
