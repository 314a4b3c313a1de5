"""Paraphrase identification: QQP (English), PAWS-X (7 languages)."""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

PAWSX_LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")

QQP = TaskSpec(
    name="qqp",
    kind="pair_classification",
    family="paraphrase",
    labels=("not_duplicate", "duplicate"),
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="Quora Question Pairs: are two questions duplicates?",
    source=HubSource(
        path="nyu-mll/glue",
        configs={"en": "qqp"},
        # GLUE's QQP test split has no labels; validation is the held-out split.
        splits={"train": "train", "validation": "validation"},
        text_fields=("question1", "question2"),
    ),
)

PAWSX = TaskSpec(
    name="pawsx",
    kind="pair_classification",
    family="paraphrase",
    labels=("not_paraphrase", "paraphrase"),
    languages=PAWSX_LANGUAGES,
    description="PAWS-X: adversarial paraphrase pairs with high word overlap, "
    "7 languages (XTREME).",
    source=HubSource(
        path="google-research-datasets/paws-x",
        configs={lang: lang for lang in PAWSX_LANGUAGES},
        # Every language has validation and test (2,000 each); train is
        # English plus machine translations (XTREME trains on English).
        splits={"train": "train", "validation": "validation", "test": "test"},
        text_fields=("sentence1", "sentence2"),
    ),
)

TASKS = (QQP, PAWSX)
