"""Per-example predictions of one evaluation: written beside its score, read
back as columns, paired across stages by example id.

One file per evaluated (stage, language, split), `Workspace.stage_predictions`
(`stages/<key>/evaluations/<evaluation key>.predictions.jsonl.gz`), gzip JSON
lines. Line 1 is the header:

    {"format": "xlt-predictions/1", "task", "language", "split",
     "metrics": {metric: reducer}, "scale": 1, "labels": [...] (label kinds)}

then one line per example: {"id", "prediction", "gold", <numeric columns>}.
A reducer says how a metric is rebuilt from the columns (`corpus_metric`):

    mean        the column named as the metric, averaged (accuracy 0/1, EM and
                F1 per question, pass@1 per problem)
    token_accuracy  sum(correct) / sum(tokens) (tagging's accuracy is over
                words, not sentences)
    f1_counts   2 tp / (2 tp + fp + fn) over the summed tp, fp, fn columns
                (seqeval span F1 per sentence, BUCC per source sentence; 0
                when tp is 0, as seqeval and BUCC's F1)
    bleu_unsmoothed  corpus BLEU-4 of the summed match_1..4, total_1..4,
                hyp_len, ref_len columns, no smoothing (CoNaLa/MCoNaLa BLEU,
                engine.codeeval.bleu; sacrebleu's smoothed "bleu" is not
                written by any kind yet)

"scale" is the factor the stored score carries (1: the stored metrics are
fractions). Ids are stable across runs and stages: the record's own "id" when
the data has unique ones, otherwise "<language>-<index>" (the example's row
within its (language, split) file), so the baseline's and an intermediate's
files on the same data pair one to one (`pair`).

The file is written whole under a temporary name and renamed, before the
evaluation's JSON: an evaluation file always has its predictions, and a killed
run leaves none of them half written.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.file_modes import file_mode

FORMAT = "xlt-predictions/1"
# The names engine.stats.reducers rebuilds metrics by.
REDUCERS = ("mean", "token_accuracy", "f1_counts", "bleu_unsmoothed")


@dataclass
class PredictionTable:
    """What a kind's scoring saw, one row per example, ready to be written."""

    metrics: dict[str, str]
    """Metric name -> reducer (REDUCERS), for the metrics the rows rebuild."""
    rows: list[dict[str, Any]]
    """{"id", "prediction", "gold", <numeric columns>} per example."""
    labels: list[str] | None = None
    scale: float = 1
    extra: dict[str, Any] = field(default_factory=dict)
    """More header keys (e.g. the QA metric's name)."""

    def header(self, task: str, language: str, split: str) -> dict[str, Any]:
        head: dict[str, Any] = {
            "format": FORMAT,
            "task": task,
            "language": language,
            "split": split,
            "metrics": dict(self.metrics),
            "scale": self.scale,
        }
        if self.labels is not None:
            head["labels"] = list(self.labels)
        head.update(self.extra)
        return head


def example_ids(records: Sequence[dict], language: str, count: int) -> list[str]:
    """Stable ids of the first `count` examples: the records' own unique ids,
    or "<language>-<row index>" where the data has none (XNLI, PAWS-X and
    tagging rows) or repeats them."""
    own = [str(r.get("id") or "") for r in records[:count]]
    if len(own) == count and all(own) and len(set(own)) == count:
        return own
    return [f"{language}-{i}" for i in range(count)]


def write_predictions(
    path: str | Path, table: PredictionTable, task: str, language: str, split: str
) -> None:
    """Write the table as gzip JSON lines: whole under a temporary name (named
    like Workspace.partial names them, so a dead writer's copy is cleaned up),
    then renamed into place."""
    path = Path(path)
    lines = [json.dumps(table.header(task, language, split), ensure_ascii=False)]
    lines.extend(json.dumps(row, ensure_ascii=False) for row in table.rows)
    # mtime=0: the same predictions give the same bytes.
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.partial-{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
    try:
        os.fchmod(fd, file_mode())  # mkstemp's 0600 would hide it from the group
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Predictions:
    """A predictions file read back: ids and numeric columns as arrays."""

    header: dict[str, Any]
    ids: np.ndarray
    columns: dict[str, np.ndarray]
    predictions: list[Any]
    gold: list[Any]

    def __len__(self) -> int:
        return len(self.ids)

    def metric(self, name: str, rows: np.ndarray | None = None) -> float:
        """The corpus metric `name` over all rows (or the given row indices,
        repeats allowed: a bootstrap resample), on the stored score's scale."""
        reducer = self.header["metrics"][name]
        return corpus_metric(reducer, name, self.columns, rows) * self.header.get(
            "scale", 1
        )


def read_predictions(path: str | Path) -> Predictions:
    path = Path(path)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if header.get("format") != FORMAT:
            raise ValueError(
                f"{path}: format {header.get('format')!r}, expected {FORMAT!r}"
            )
        rows = [json.loads(line) for line in fh if line.strip()]
    names = sorted({k for row in rows for k in row} - {"id", "prediction", "gold"})
    columns = {
        k: np.array([row.get(k, np.nan) for row in rows], dtype=np.float64)
        for k in names
    }
    return Predictions(
        header,
        np.array([row["id"] for row in rows], dtype=object),
        columns,
        [row.get("prediction") for row in rows],
        [row.get("gold") for row in rows],
    )


def corpus_metric(
    reducer: str,
    name: str,
    columns: dict[str, np.ndarray],
    rows: np.ndarray | None = None,
) -> float:
    """Rebuild a corpus metric (unscaled) from per-example columns."""
    if reducer not in REDUCERS:
        raise ValueError(f"unknown reducer {reducer!r}; expected one of {REDUCERS}")

    def col(key: str) -> np.ndarray:
        values = columns[key]
        return values if rows is None else values[rows]

    if reducer == "mean":
        return float(col(name).mean())
    if reducer == "token_accuracy":
        tokens = col("tokens").sum()
        return float(col("correct").sum() / tokens) if tokens else 0.0
    if reducer == "bleu_unsmoothed":
        from engine.codeeval.bleu import bleu_of  # pure Python, no torch

        return bleu_of({k: float(col(k).sum()) for k in columns})
    tp, fp, fn = (float(col(k).sum()) for k in ("tp", "fp", "fn"))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def pair(a: Predictions, b: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into `a` and `b` of the same examples, in `a`'s order.
    Both files must hold the same example ids (the same data scored)."""
    where_b = {example: i for i, example in enumerate(b.ids)}
    missing = [example for example in a.ids if example not in where_b]
    if missing or len(a) != len(b):
        raise ValueError(
            f"the two predictions files hold different examples ({len(a)} and "
            f"{len(b)} rows; e.g. {missing[:3]} only in the first)"
        )
    return np.arange(len(a)), np.array([where_b[e] for e in a.ids], dtype=np.int64)
