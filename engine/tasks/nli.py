"""Natural language inference: MNLI and ANLI (English), XNLI (15 languages)."""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

NLI_LABELS = ("entailment", "neutral", "contradiction")

XNLI_LANGUAGES = (
    "en", "ar", "bg", "de", "el", "es", "fr", "hi",
    "ru", "sw", "th", "tr", "ur", "vi", "zh",
)  # fmt: skip

MNLI = TaskSpec(
    name="mnli",
    kind="pair_classification",
    family="nli",
    labels=NLI_LABELS,
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="MultiNLI: English sentence-pair inference over ten genres.",
    source=HubSource(
        path="nyu-mll/glue",
        configs={"en": "mnli"},
        splits={"train": "train", "validation": "validation_matched"},
        text_fields=("premise", "hypothesis"),
    ),
)

ANLI = TaskSpec(
    name="anli",
    kind="pair_classification",
    family="nli",
    labels=NLI_LABELS,
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="Adversarial NLI, rounds 1-3 together.",
    source=HubSource(
        path="facebook/anli",
        configs={"en": None},
        splits={
            "train": "train_r1+train_r2+train_r3",
            "validation": "dev_r1+dev_r2+dev_r3",
            "test": "test_r1+test_r2+test_r3",
        },
        text_fields=("premise", "hypothesis"),
    ),
)

XNLI = TaskSpec(
    name="xnli",
    kind="pair_classification",
    family="nli",
    labels=NLI_LABELS,
    languages=XNLI_LANGUAGES,
    description="Cross-lingual NLI: English MNLI training data, test in 15 "
    "languages (XTREME).",
    source=HubSource(
        path="facebook/xnli",
        configs={lang: lang for lang in XNLI_LANGUAGES},
        splits={"train": "train", "validation": "validation", "test": "test"},
        text_fields=("premise", "hypothesis"),
    ),
)

TASKS = (MNLI, ANLI, XNLI)
