"""What a task kind is: how its records become encoder inputs, which head
reads the encoder's output, what the loss is, how predictions are scored, and
how a target stage of the kind is run (its `target` strategy).

A *record* is one example as the kind knows it (canonical schemas below), read
from the hub or from local files by engine.data. A kind turns records into
*features*: rows of token ids (one row per encoder input) grouped into *units*
(what a batch is made of). Most kinds have one row per unit; multiple choice
has one row per choice, all choices of a question in one unit; extractive QA
cuts long contexts into several windows, each its own unit, mapped back to its
record for scoring.

Canonical records, per kind (the keys loaders produce):

    classification        {"texts": [text], "label": int}
    pair_classification   {"texts": [text_a, text_b], "label": int}
    multiple_choice       {"id": str, "context": str, "question": str,
                           "choices": [str, ...], "label": int}
    span_qa               {"id": str, "context": str, "question": str,
                           "answers": {"text": [str], "answer_start": [int]}}
                          (no answers: empty lists, SQuAD v2 style)
    tagging               {"tokens": [str], "tags": [int]}
    retrieval             {"id": str, "text": str, "side": "source"|"target"}
                          (source records also "gold": ids of their
                          translations; engine.data.retrieval_pairs)
    code_generation       {"task_id", "problem_id", "prompt", "solution", ...}
                          (engine.data.code_adapters)

Target strategies (engine/tasks/kinds.py names the mode of each kind): a
strategy's `prepare(stage, ctx)` gets the stage's model ready (train it on
English, load an encoder to embed with, load an LM to generate with) and
returns a TargetRun that scores one language at a time. The loop over
languages, cancellation between them, recording each score as soon as it
exists and writing the stage's result is engine.stages', once for every kind.

Heavy module (torch): imported when a run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import nn

from engine.data.features import Features
from engine.predictions import PredictionTable

if TYPE_CHECKING:
    from engine.train import Runtime
    from engine.workspace import Workspace


def pad_rows(
    features: Features, rows: np.ndarray, pad_id: int, pad_to_multiple: int = 1
) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask (/ token_type_ids) for the given rows, padded
    to the longest; token arrays padded alongside (with -100, ignored by losses)."""
    lengths = features.row_lengths[rows]
    width = int(lengths.max())
    if pad_to_multiple > 1:
        width = -(-width // pad_to_multiple) * pad_to_multiple
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    flat_types = features.flat_type_ids
    types = None if flat_types is None else np.zeros_like(ids)
    token = {
        k: np.full((len(rows), width), -100, dtype=np.int64)
        for k in features.token_arrays
    }
    for j, r in enumerate(rows):
        start, end = features.offsets[r], features.offsets[r + 1]
        n = end - start
        ids[j, :n] = features.flat_ids[start:end]
        mask[j, :n] = 1
        if types is not None and flat_types is not None:
            types[j, :n] = flat_types[start:end]
        for k, arr in features.token_arrays.items():
            token[k][j, :n] = arr[start:end]
    batch = {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
    }
    if types is not None:
        batch["token_type_ids"] = torch.from_numpy(types)
    for k, v in token.items():
        batch[f"token.{k}"] = torch.from_numpy(v)
    return batch


@dataclass
class Score:
    """One language's result of a target stage, as stored (result.json, the
    store's results) and emitted (`eval` events)."""

    language: str
    split: str
    metrics: dict[str, float]
    """Every metric; the first is the primary one (the stored `value`)."""
    n_examples: int
    best_step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Stored beside the scores (code: the generation settings)."""
    predictions: PredictionTable | None = field(default=None, repr=False, compare=False)
    """The per-example rows behind the metrics (engine.predictions), written
    beside the score; never part of as_dict."""

    @property
    def metric(self) -> str:
        return next(iter(self.metrics))

    @property
    def value(self) -> float:
        return self.metrics[self.metric]

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "split": self.split,
            "metric": self.metric,
            "value": self.value,
            "metrics": dict(self.metrics),
            "n_examples": self.n_examples,
            "best_step": self.best_step,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        known = ("language", "split", "metric", "value", "metrics", "n_examples")
        return cls(
            language=d["language"],
            split=d["split"],
            metrics=d.get("metrics") or {d["metric"]: d["value"]},
            n_examples=d["n_examples"],
            best_step=d.get("best_step"),
            extra={k: v for k, v in d.items() if k not in (*known, "best_step")},
        )


class StageContext(Protocol):
    """What a stage gets from whoever runs it (engine.stages.StageEnvironment):
    one device, the experiment's tokenizer and model family, the workspace's
    caches, and callbacks for events. A strategy uses nothing else, so a stage
    runs the same in the engine's process or in a worker."""

    # Read-only: a strategy reads these, never sets them.
    @property
    def workspace(self) -> Workspace:
        """Where outputs are written."""
        ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def pad_id(self) -> int: ...

    @property
    def family(self) -> Any:
        """engine.models.families: EncoderFamily | CausalLMFamily."""
        ...

    @property
    def should_stop(self) -> Callable[[], bool]: ...

    def start_of(self, stage) -> str:
        """The weights a target stage starts from: its intermediate checkpoint,
        or the pretrained model (the baseline)."""
        ...

    def features(self, task, split: str, language: str, hp, limit: int) -> Features:
        """The split's features, from the workspace's tokenize cache."""
        ...

    def records(self, task, split: str, language: str) -> list[dict]: ...

    def train_task(self, task, hp) -> Any:
        """engine.train.TrainTask: English train (and validation) features."""
        ...

    def train(self, stage, model, tasks: list, hp, select_best: bool) -> Any:
        """engine.train.train_stage with the stage's seed and events."""
        ...

    def emit(self, stage, type: str, **fields: Any) -> None: ...


class TargetRun(Protocol):
    """A target stage whose model is ready: scores one language at a time."""

    summary: dict[str, Any]
    """What the stage reports when it ends (best step, layer, settings...):
    the `stage_end` event and result.json carry it."""

    def score(self, language: str, split: str) -> Score:
        """Evaluate one language's `split` (validation or test)."""
        ...


class TargetStrategy(Protocol):
    mode: str
    """Its engine.tasks.kinds target mode (the plan keys stages by it)."""

    def prepare(self, stage, ctx: StageContext) -> TargetRun: ...


class Kind:
    """One task kind. Subclasses set `name`, fill in the methods, and say in
    `target` how a target stage of the kind is run (engine.kinds.targets'
    TrainThenEvaluate for the kinds trained on English target data)."""

    name: str = ""
    version: str = "1"  # bump when featurize changes what it produces
    scores_with_records: bool = False  # QA needs contexts and answers to score
    target: TargetStrategy

    # -- data -> features ---------------------------------------------------
    def featurize(
        self, tokenizer, records: list[dict], task, max_length: int, stride: int
    ) -> Features:
        raise NotImplementedError

    def collate(
        self, features: Features, units: np.ndarray, pad_id: int, pad_to_multiple: int
    ) -> dict[str, torch.Tensor]:
        """The encoder inputs of these units plus their targets (unit arrays
        under their own names, token arrays as `token.<name>`)."""
        batch = pad_rows(features, features.rows_of(units), pad_id, pad_to_multiple)
        for k, v in features.unit_arrays.items():
            batch[k] = torch.from_numpy(np.asarray(v[units]))
        return batch

    # -- model ----------------------------------------------------------------
    def make_head(
        self, hidden_size: int, task, dropout: float, pooling: str
    ) -> nn.Module:
        """A module called as head(hidden_states, batch) -> outputs."""
        raise NotImplementedError

    def loss(self, outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def gather(self, outputs: Any, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """What scoring needs from one batch's outputs, moved to the CPU."""
        raise NotImplementedError

    # -- scoring --------------------------------------------------------------
    def score(
        self,
        gathered: dict[str, np.ndarray],
        features: Features,
        records: list[dict],
        task,
        language: str,
    ) -> dict[str, float]:
        """Metrics of predictions over a whole split. `gathered` holds the
        concatenated `gather` outputs in unit order. The first key is the
        primary metric (model selection, the stored result)."""
        raise NotImplementedError

    def predictions(
        self,
        gathered: dict[str, np.ndarray],
        features: Features,
        records: list[dict],
        task,
        language: str,
    ) -> PredictionTable | None:
        """The per-example rows behind `score` (same arguments), from which
        engine.predictions rebuilds the stored metrics; None where the kind
        keeps none."""
        return None
