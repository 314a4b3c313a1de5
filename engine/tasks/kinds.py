"""What each task kind is, as data: the facts light code needs without torch.

Config validation (custom tasks), planning (what a target stage's key is made
of), `xlt-engine tasks` and the TUI read these. How a kind *works* (featurize,
head, loss, score, and how its targets are run) lives in its own module under
engine/kinds/, named here by `implementation` and imported only when a run
starts (engine.kinds.load_kind).

Adding a task kind: write its module under engine/kinds/ and add one entry to
KINDS below. Its records are read by the canonical row format of its first
`row_formats` entry (rows that already are its records), or by an adapter in
engine/data/adapters.py for a dataset's own row format.
"""

from __future__ import annotations

from dataclasses import dataclass

# Model families: which model an experiment trains and runs.
ENCODER = "encoder"  # AutoModel + a task head per task (engine.models.families)
CAUSAL_LM = "causal_lm"  # AutoModelForCausalLM, trained and run whole

# How a target stage of a kind is run (engine/kinds/<kind>.py implements it).
TRAIN_THEN_EVALUATE = "train_then_evaluate"  # English training, best step, zero-shot
EMBED_AND_SCORE = "embed_and_score"  # no training: encoder embeddings, retrieval
GENERATE_AND_SCORE = "generate_and_score"  # no training: generate, execute or BLEU
TARGET_MODES = (TRAIN_THEN_EVALUATE, EMBED_AND_SCORE, GENERATE_AND_SCORE)


@dataclass(frozen=True)
class KindInfo:
    name: str
    implementation: str
    """"module:attribute" of the kind's engine.kinds.base.Kind object."""
    family: str
    """The model family its tasks train and run (ENCODER or CAUSAL_LM)."""
    target_mode: str
    """How its target stages are run (one of TARGET_MODES)."""
    metrics: tuple[str, ...]
    """Metrics it can score; the first is a custom task's default."""
    row_formats: tuple[str, ...]
    """Row formats its records are read from (engine/data/adapters.py); the
    first is a custom task's default."""
    text_fields: int = 0
    """Classification: how many text columns an example has (custom tasks name
    them with text_fields); 0 for kinds that read a row format."""
    named_labels: bool = False
    """A custom task must list its labels (classes, tags)."""
    label_field: str = "label"
    """A custom task's default label column."""
    extra_suffixes: tuple[str, ...] = ()
    """Data file suffixes it reads beyond .jsonl/.json/.csv/.tsv."""

    @property
    def trains_on_target(self) -> bool:
        """Whether a target of this kind is trained on English data first."""
        return self.target_mode == TRAIN_THEN_EVALUATE


KINDS: dict[str, KindInfo] = {
    info.name: info
    for info in (
        KindInfo(
            "classification",
            "engine.kinds.classification:SENTENCE",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            metrics=("accuracy",),
            row_formats=("classification",),
            text_fields=1,
            named_labels=True,
        ),
        KindInfo(
            "pair_classification",
            "engine.kinds.classification:PAIR",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            metrics=("accuracy",),
            row_formats=("classification",),
            text_fields=2,
            named_labels=True,
        ),
        KindInfo(
            "multiple_choice",
            "engine.kinds.multiple_choice:KIND",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            metrics=("accuracy",),
            row_formats=("multiple_choice", "hellaswag", "commonsense_qa", "cosmos_qa"),
        ),
        KindInfo(
            "span_qa",
            "engine.kinds.span_qa:KIND",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            metrics=("squad", "squad_v2", "mlqa", "tydiqa"),
            row_formats=("squad",),
        ),
        KindInfo(
            "tagging",
            "engine.kinds.tagging:KIND",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            metrics=("accuracy", "span_f1", "pos_f1"),
            row_formats=("tagging", "ccg"),
            named_labels=True,
            label_field="tags",
        ),
        KindInfo(
            "retrieval",
            "engine.kinds.retrieval:KIND",
            ENCODER,
            EMBED_AND_SCORE,
            metrics=("tatoeba_accuracy", "bucc_f1"),
            row_formats=("tatoeba", "bucc"),
            extra_suffixes=(".gold",),
        ),
        KindInfo(
            "mlm",
            "engine.kinds.mlm:KIND",
            ENCODER,
            TRAIN_THEN_EVALUATE,
            # Masked-token accuracy (perplexity is stored beside it).
            metrics=("masked_accuracy",),
            row_formats=("text",),
            extra_suffixes=(".txt",),  # plain text, one record per line
        ),
        KindInfo(
            "code_generation",
            "engine.kinds.code_generation:KIND",
            CAUSAL_LM,
            GENERATE_AND_SCORE,
            # pass@k from executing the generated programs, or BLEU on code tokens.
            metrics=("pass@k", "bleu"),
            row_formats=(
                "code",
                "humaneval",
                "humaneval_xl",
                "mbpp",
                "mbpp_sanitized",
                "conala",
                "odex",
            ),
        ),
    )
}


def kind_info(name: str) -> KindInfo:
    return KINDS[name]
