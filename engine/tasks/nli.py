"""Natural language inference: MNLI, ANLI and ANLI+ (English), XNLI (15
languages)."""

from __future__ import annotations

from engine.tasks.spec import CompositeSource, HubSource, SourcePart, TaskSpec

NLI_LABELS = ("entailment", "neutral", "contradiction")

XNLI_LANGUAGES = (
    "en", "ar", "bg", "de", "el", "es", "fr", "hi",
    "ru", "sw", "th", "tr", "ur", "vi", "zh",
)  # fmt: skip

MNLI_SOURCE = HubSource(
    path="nyu-mll/glue",
    configs={"en": "mnli"},
    splits={"train": "train", "validation": "validation_matched"},
    text_fields=("premise", "hypothesis"),
)

# facebook/anli: config "plain_text"; uid, premise, hypothesis, label
# (ClassLabel entailment, neutral, contradiction), reason.
ANLI_SOURCE = HubSource(
    path="facebook/anli",
    configs={"en": None},
    splits={
        "train": "train_r1+train_r2+train_r3",
        "validation": "dev_r1+dev_r2+dev_r3",
        "test": "test_r1+test_r2+test_r3",
    },
    text_fields=("premise", "hypothesis"),
)

# stanfordnlp/snli: config "plain_text"; premise, hypothesis, label (ClassLabel
# entailment, neutral, contradiction; -1 where the annotators had no gold
# label, skipped like every unlabelled row).
SNLI_SOURCE = HubSource(
    path="stanfordnlp/snli",
    configs={"en": "plain_text"},
    splits={"train": "train", "validation": "validation", "test": "test"},
    text_fields=("premise", "hypothesis"),
)

MNLI = TaskSpec(
    name="mnli",
    kind="pair_classification",
    family="nli",
    labels=NLI_LABELS,
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="MultiNLI: English sentence-pair inference over ten genres.",
    source=MNLI_SOURCE,
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
    source=ANLI_SOURCE,
)

# ANLI+ as Phang et al. 2020 (X-STILTs) use it: ANLI rounds 1-3, MNLI and
# SNLI, unweighted. jiant's guides/tasks/task_specific.md: "the full ANLI
# dataset, which is SNLI+MNLI+A1+A2+A3", trained multi-task with proportional
# sampling and one NLI head (here: concatenated, which samples the parts in
# the same proportions). The paper's Table 1 sizes, 1,104,934 train / 22,857
# dev, are exactly SNLI 549,367 (gold-labelled) + MNLI 392,702 + ANLI
# 162,865 and SNLI 9,842 + MNLI matched 9,815 + ANLI 3,200. Nie et al.
# 2020's leaderboard recipe adds FEVER-NLI and upsamples the rounds
# (facebookresearch/anli train_roberta.sh, --train_weights 1,1,1,10,20,10);
# neither source above has either. The parts share the labels entailment /
# neutral / contradiction, so none is mapped. docs/PROTOCOL.md, "ANLI+".
ANLI_PLUS = TaskSpec(
    name="anli_plus",
    kind="pair_classification",
    family="nli",
    labels=NLI_LABELS,
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="ANLI+ (X-STILTs): ANLI rounds 1-3, MNLI and SNLI training "
    "sets concatenated; validation likewise (MNLI matched).",
    source=CompositeSource(
        parts=(
            SourcePart("anli", ANLI_SOURCE),
            SourcePart("mnli", MNLI_SOURCE),
            SourcePart("snli", SNLI_SOURCE),
        ),
        split_parts={
            "train": ("anli", "mnli", "snli"),
            "validation": ("anli", "mnli", "snli"),
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
        # Every language has validation (2,490) and test (5,010); the English
        # train split is MNLI's training set, the others machine translations.
        # English model selection reads XNLI's English dev set; jiant selected
        # on MNLI matched dev (xtreme_runconfig_writer.py TRAIN_TASK_DICT).
        splits={"train": "train", "validation": "validation", "test": "test"},
        text_fields=("premise", "hypothesis"),
    ),
)

TASKS = (MNLI, ANLI, ANLI_PLUS, XNLI)
