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

Target stage (GenerateAndScore): where [targets_training] names an English
code task for the target, the stage's LM is first trained on it
(`train_code_target`, X-STILTs' target stage); otherwise it is evaluation
only. Completions are then generated
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
from engine.codeeval.bleu import bleu_statistics, code_bleu, tokenize_for_bleu_eval
from engine.codeeval.execute import check_completions
from engine.codeeval.passk import mean_pass_at_k, pass_at_k
from engine.codeeval.sandbox import Limits
from engine.codegen.backends import BackendChoice, VllmGenerator, choose_backend
from engine.codegen.generate import generate_completions, leading_special_count
from engine.codegen.prompts import apply_template, signature_only_record
from engine.data.features import Features, ragged
from engine.kinds.base import Kind, Score, StageContext
from engine.models.causal import load_causal_lm
from engine.predictions import PredictionTable
from engine.tasks.kinds import GENERATE_AND_SCORE

IGNORE = -100
PASS_AT_K = (1, 10, 100)
# One greedy completion per problem, scored apart from the n samples.
GREEDY = "pass@1-greedy"
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
        if getattr(stage, "train_task", None) is not None:
            lm, trained = train_code_target(stage, ctx)
        else:
            lm = load_causal_lm(ctx.start_of(stage), dtype=ctx.runtime.autocast_dtype)
            trained = None
        lm.to(ctx.runtime.device)
        return GenerationTarget(stage, ctx, lm, Limits(), trained)


def _template_name(stage) -> str:
    prompt = getattr(stage, "prompt", None)
    return prompt["name"] if prompt else "native"


def _training_features(ctx: StageContext, task, split: str, hp, limit: int, fmt):
    """SFT features of the training task's English `split` in the stage's
    prompt format (not the tokenize cache: its key has no template)."""
    records = apply_template(ctx.records(task, split, task.train_language), fmt)
    if limit:
        records = records[:limit]
    return KIND.featurize(
        ctx.tokenizer, records, task, hp.max_seq_length, hp.doc_stride
    )


def train_code_target(stage, ctx: StageContext):
    """The target stage's training (X-STILTs' target stage, Phang et al. 2020
    section 3, on code): SFT of the stage's starting LM on the English code
    task [targets_training] names, best step on its English validation split
    where it has one; kept under checkpoints/<stage key>/ and reused."""
    from engine.data.loaders import has_split
    from engine.kinds.targets import save_trained
    from engine.train import TrainTask

    task, hp = stage.train_task, stage.hparams
    # A control's variant scores the model its own code target stage trained.
    kept = ctx.workspace.checkpoint_dir(trained_model_key(stage))
    marker = ctx.workspace.checkpoint_marker(trained_model_key(stage))
    if marker.is_file():
        summary = json.loads(marker.read_text(encoding="utf-8"))["summary"]
        ctx.emit(stage, "checkpoint", key=stage.key, path=str(kept), reused=True)
        lm = load_causal_lm(str(kept), dtype=ctx.runtime.autocast_dtype)
        return lm, summary
    fmt = _template_name(stage)
    lang = task.train_language
    train = _training_features(ctx, task, "train", hp, hp.max_train_examples, fmt)
    validation = None
    if has_split(task, "validation", lang):
        validation = _training_features(
            ctx, task, "validation", hp, hp.max_eval_examples, fmt
        )
    else:
        ctx.emit(
            stage,
            "warning",
            message=f"{task.name} has no {lang} validation split; keeping the "
            "last step of the target training instead of the best one",
        )
    model = ctx.family.training_model(
        ctx.start_of(stage), ctx.tokenizer, [(task, KIND)], stage.seed
    )
    result = ctx.train(
        stage, model, [TrainTask(task, KIND, train, validation)], hp, select_best=True
    )
    summary = {
        "train_task": task.name,
        "best_step": result.best_step,
        "steps": result.steps,
        "validation_score": result.best_score,
        "validation": result.kept_scores.get(task.name, {}),
        "samples_per_s": round(result.samples_per_second, 2),
    }
    if stage.keep_model and trained_model_key(stage) == stage.key:
        save_trained(ctx, stage, model, summary)
    return model.lm, summary


def trained_model_key(stage) -> str:
    """Where a code target's trained model is kept: its own key, or for a
    control's variant (signature-only, translate-test) its stage's."""
    return getattr(stage, "model_key", None) or stage.key


class GenerationTarget:
    def __init__(self, stage, ctx: StageContext, lm, limits, trained=None):
        self.stage, self.ctx, self.lm, self.limits = stage, ctx, lm, limits
        settings = stage.generation.as_dict()
        self.summary = {
            "trained": trained is not None,
            "generation": settings,
            "limits": dataclasses.asdict(limits),
            "prompt": dict(getattr(stage, "prompt", None) or {}),
        }
        if trained is not None:
            self.summary["target_training"] = trained
        self.trained = trained is not None
        self.backend = choose_backend(stage.generation.backend, ctx.runtime.device)
        vllm = self.backend.name == "vllm"
        self.model_path = self._model_folder() if vllm else None
        if vllm and self.model_path is None:
            self.backend = BackendChoice(
                "transformers",
                f"{self.backend.note}; fell back to transformers: the trained "
                "model is not saved in a folder vLLM could load",
            )
        self.summary["generation"] |= self.backend.as_dict()
        self._vllm: VllmGenerator | None = None

    def _model_folder(self) -> str | None:
        """The folder the stage's LM was loaded from, which vLLM loads itself:
        the start model, or a trained target's kept checkpoint (None: not
        kept)."""
        ctx, stage = self.ctx, self.stage
        if not self.trained:
            return str(ctx.start_of(stage))
        folder = ctx.workspace.checkpoint_dir(trained_model_key(stage))
        return str(folder) if (folder / "config.json").is_file() else None

    def _generate(self, records: list[dict], settings) -> list[dict]:
        if self.backend.name == "vllm" and self.model_path is not None:
            if self._vllm is None:
                self._vllm = VllmGenerator(self.model_path)
            return self._vllm.generate(records, settings)
        return generate_completions(
            self.lm,
            self.ctx.tokenizer,
            records,
            settings,
            self.ctx.runtime,
            should_stop=self.ctx.should_stop,
        )

    def score(self, language: str, split: str) -> Score:
        task, ctx, hp = self.stage.target_task, self.ctx, self.stage.hparams
        records = self.shown(ctx.records(task, split, language))
        if hp.max_eval_examples:
            records = records[: hp.max_eval_examples]
        settings = self.stage.generation
        completions = self._generate(records, settings)
        greedy: list[dict] | str | None = None
        if not settings.do_sample:
            greedy = "samples"  # the (one) completion is the greedy one
        elif settings.greedy:
            greedy = self._generate(
                records,
                settings.model_copy(update={"do_sample": False, "n_samples": 1}),
            )
        scored = score_generations(
            records, completions, task, self.limits, greedy=greedy
        )
        folder = ctx.workspace.stage_generations(self.stage.key)
        name = generations_file(language, split, task.eval_split)
        write_generations(folder / name, completions, scored)
        if isinstance(greedy, list):
            write_generations(
                folder / name.replace(".jsonl", ".greedy.jsonl"),
                greedy,
                GenerationScores({}, scored.greedy_samples),
            )
        return Score(
            language,
            split,
            scored.metrics,
            len(records),
            extra={
                "generation": self.stage.generation.as_dict() | self.backend.as_dict(),
                "prompt": dict(getattr(self.stage, "prompt", None) or {}),
            },
            predictions=scored.table,
        )

    def shown(self, records: list[dict]) -> list[dict]:
        """The records as the stage shows them: a translate-test oracle's
        problems narrowed to those of the translated target (HumanEval-XL
        holds 80 of HumanEval's 164), a signature-only control's prompts,
        then the prompt template."""
        stage = self.stage
        variant = getattr(stage, "variant", "")
        if variant == "translate_test":
            source = stage.oracle_of
            wanted = {
                r["problem_id"]
                for r in self.ctx.records(
                    source, source.eval_split, source.languages[0]
                )
            }
            records = [r for r in records if r["problem_id"] in wanted]
        elif variant == "signature_only":
            records = [signature_only_record(r) for r in records]
        return apply_template(records, _template_name(stage))


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
    table: PredictionTable | None = None
    """One row per problem (engine.predictions)."""
    greedy_samples: list[dict[str, Any]] = field(default_factory=list)
    """The greedy completions' verdicts, where they were generated apart."""

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
    greedy: list[dict] | str | None = None,
) -> GenerationScores:
    """Score `completions` ({"task_id", "completion_index", "completion"}, as
    generate_completions returns them) against `records` by the task's metric:

    - "pass@k": every completion is executed with the record's tests
      (engine.codeeval.execute.check_completions, within `limits`); pass@k for
      k in 1, 10, 100 up to the samples per problem (unbiased estimator,
      averaged over problems), then the counts of each verdict.
    - "bleu": one completion of each problem against its `reference_code`
      (engine.codeeval.bleu.code_bleu): the greedy one where there is one.

    `greedy`: one greedy completion per problem, scored apart as
    "pass@1-greedy" (the share of problems it solves); "samples" when the
    completions themselves are greedy (sampling off: completion 0 is it);
    None for none. `check` replaces check_completions (tests). Executing code
    is the caller's decision: the run must have been allowed to (see
    allow_code_execution) before this is called for a pass@k task."""
    if task.metric == "bleu":
        return _score_bleu(records, greedy if isinstance(greedy, list) else completions)
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
    counts, statuses, details = _execute(check, problems, by_task, limits, workers)
    n_min = min(n for n, _ in counts.values())
    ks = tuple(k for k in PASS_AT_K if k <= n_min)
    metrics: dict[str, float] = dict(
        mean_pass_at_k({t: (n, c) for t, (n, c) in counts.items()}, ks)
    )
    greedy_passed: dict[str, int] | None = None
    greedy_details: list[dict] = []
    if greedy == "samples":
        first = {(d["task_id"], d["completion_index"]): d for d in details}
        greedy_passed = {
            t: int(first[t, by_task[t][0]["completion_index"]]["status"] == "passed")
            for t in problems
        }
    elif isinstance(greedy, list):
        greedy_counts, _, greedy_details = _execute(
            check, problems, _completions_by_task(records, greedy), limits, workers
        )
        greedy_passed = {t: c for t, (_, c) in greedy_counts.items()}
        for d in greedy_details:
            d["decoding"] = "greedy"
    if greedy_passed is not None:
        metrics[GREEDY] = sum(greedy_passed.values()) / len(greedy_passed)
    metrics["samples_per_problem"] = n_min
    for status in STATUSES:
        metrics[status] = statuses.get(status, 0)
    return GenerationScores(
        metrics,
        details,
        _pass_table(by_task, counts, ks, problems, greedy_passed),
        greedy_details,
    )


def _execute(check, problems, by_task, limits, workers):
    """({task_id: [n, passed]}, verdict counts, one detail per completion)."""
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
    return counts, statuses, details


def _pass_table(by_task, counts, ks, problems, greedy_passed=None) -> PredictionTable:
    """One row per problem (id its task_id): the first completion (the
    greedy one when sampling is off; whole, not truncated: generation's
    max_new_tokens bounds it), no gold (the tests judge, and stay in the
    data), its samples n and passed c, pass@k for every k scored, whose
    mean over problems is the stored pass@k, and whether the greedy
    completion passed (pass@1-greedy, 0 or 1: the paired outcome McNemar's
    test reads)."""
    rows = []
    for task_id in problems:
        n, c = counts[task_id]
        row: dict[str, Any] = {
            "id": str(task_id),
            "prediction": by_task[task_id][0]["completion"],
            "gold": None,
            "n": n,
            "c": c,
        }
        for k in ks:
            row[f"pass@{k}"] = pass_at_k(n, c, k)
        if greedy_passed is not None:
            row[GREEDY] = float(greedy_passed[task_id])
        rows.append(row)
    reducers = {f"pass@{k}": "mean" for k in ks}
    if greedy_passed is not None:
        reducers[GREEDY] = "mean"
    return PredictionTable(reducers, rows)


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
    # Per problem: the completion scored, its reference and the segment's
    # n-gram statistics, whose sums rebuild the corpus BLEU (unsmoothed, as
    # CoNaLa's; engine.codeeval.bleu).
    rows = [
        {
            "id": str(r["task_id"]),
            "prediction": prediction,
            "gold": reference,
            **bleu_statistics(
                tokenize_for_bleu_eval(prediction), tokenize_for_bleu_eval(reference)
            ),
        }
        for r, prediction, reference in zip(
            records, predictions, references, strict=True
        )
    ]
    return GenerationScores(
        {"bleu": float(code_bleu(predictions, references)), "problems": len(records)},
        table=PredictionTable({"bleu": "bleu_unsmoothed"}, rows),
    )
