"""Extractive question answering: SQuAD v1.1 and v2.0 (English intermediate
tasks); XQuAD, MLQA and TyDiQA-GoldP (XTREME targets).

Records: {"id", "context", "question", "answers": {"text", "answer_start"}}
(engine/kinds/base.py), read from SQuAD-format rows (row format "squad").

Languages and splits follow the XTREME reference (google-research/xtreme,
scripts/download_data.sh and utils_preprocess.py; Hu et al. 2020): XQuAD and
MLQA are trained on SQuAD v1.1 (here google/xtreme's "SQuAD" config, the same
train-v1.1 / dev-v1.1 files) and evaluated zero-shot; MLQA on its test split
with context and question in the same language; XQuAD on its only split
(the hub calls it validation); TyDiQA-GoldP trains on the English part of its
training set and is evaluated on its dev set, XTREME's test set for it.

Splits each target offers (validation: model selection in English, and
numbers to tune on in the other languages; test: the reported numbers):

    xquad   test in 11 languages; validation in English only (SQuAD v1.1
            dev). XQuAD has no dev set: XTREME selects on nothing and jiant
            on SQuAD v1.1 dev (its xtreme_runconfig_writer.py sets no
            XQuAD test phase and scores XQuAD as "val").
    mlqa    test and validation (MLQA dev) in 7 languages, except that the
            English validation split is SQuAD v1.1 dev, which XTREME's
            training data and jiant's model selection (squad_v1 val) are.
            MLQA's own English dev set is not offered.
    tydiqa  test (the GoldP dev set, XTREME's test set) in 9 languages;
            validation in English only: the English part of that same dev
            set, which is what jiant selects on (tydiqa_en val), so English
            test is not held out from selection. TyDiQA-GoldP has no other
            labelled split; XTREME trains a fixed budget and selects nothing.
"""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

XTREME_HUB = "google/xtreme"

XQUAD_LANGUAGES = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi")
MLQA_LANGUAGES = ("en", "es", "de", "ar", "hi", "vi", "zh")
# TyDiQA-GoldP ids start with the language's English name (XTREME's
# utils_preprocess.tydiqa_preprocess splits the training file the same way).
TYDIQA_ID_PREFIXES = {
    "en": "english",
    "ar": "arabic",
    "bn": "bengali",
    "fi": "finnish",
    "id": "indonesian",
    "ko": "korean",
    "ru": "russian",
    "sw": "swahili",
    "te": "telugu",
}
TYDIQA_LANGUAGES = tuple(TYDIQA_ID_PREFIXES)

# XQuAD and MLQA train (and select the best step) on SQuAD v1.1.
SQUAD_V1_SPLITS = {"train": "SQuAD", "validation": "SQuAD"}

SQUAD = TaskSpec(
    name="squad",
    kind="span_qa",
    family="qa",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="squad",
    eval_split="validation",
    description="SQuAD v1.1: answer spans in Wikipedia paragraphs.",
    source=HubSource(
        # Config "plain_text"; columns id, title, context, question,
        # answers {text: [str], answer_start: [int32]}.
        path="rajpurkar/squad",
        configs={"en": "plain_text"},
        splits={"train": "train", "validation": "validation"},
        row_format="squad",
    ),
)

SQUAD_V2 = TaskSpec(
    name="squad_v2",
    kind="span_qa",
    family="qa",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="squad_v2",
    eval_split="validation",
    allows_no_answer=True,
    description="SQuAD v2.0: SQuAD v1.1 plus unanswerable questions.",
    source=HubSource(
        # Config "squad_v2"; SQuAD's columns, empty answers when unanswerable.
        path="rajpurkar/squad_v2",
        configs={"en": "squad_v2"},
        splits={"train": "train", "validation": "validation"},
        row_format="squad",
    ),
)

XQUAD = TaskSpec(
    name="xquad",
    kind="span_qa",
    family="qa",
    labels=(),
    languages=XQUAD_LANGUAGES,
    roles=("target",),
    metric="squad",
    eval_split="test",
    description="XQuAD: 1190 SQuAD v1.1 dev questions translated into 10 "
    "languages; trained on SQuAD v1.1 (XTREME).",
    source=HubSource(
        # Configs "XQuAD.<lang>" (id, context, question, answers), one split
        # on the hub, "validation", which XTREME uses as the test set.
        path=XTREME_HUB,
        configs={lang: f"XQuAD.{lang}" for lang in XQUAD_LANGUAGES},
        splits={"train": "train", "validation": "validation", "test": "validation"},
        split_configs=SQUAD_V1_SPLITS,
        split_languages={"train": ("en",), "validation": ("en",)},
        row_format="squad",
    ),
)

MLQA = TaskSpec(
    name="mlqa",
    kind="span_qa",
    family="qa",
    labels=(),
    languages=MLQA_LANGUAGES,
    roles=("target",),
    metric="mlqa",
    eval_split="test",
    description="MLQA: extractive QA in 7 languages, context and question in "
    "the same language; trained on SQuAD v1.1 (XTREME).",
    source=HubSource(
        # Configs "MLQA.<context lang>.<question lang>" (id, title, context,
        # question, answers); splits test and validation (MLQA dev). English
        # trains and selects on SQuAD v1.1; the other languages' validation
        # is their MLQA dev set.
        path=XTREME_HUB,
        configs={lang: f"MLQA.{lang}.{lang}" for lang in MLQA_LANGUAGES},
        splits={"train": "train", "validation": "validation", "test": "test"},
        split_configs=SQUAD_V1_SPLITS,
        pinned_languages=("en",),
        split_languages={"train": ("en",)},
        row_format="squad",
    ),
)

TYDIQA = TaskSpec(
    name="tydiqa",
    kind="span_qa",
    family="qa",
    labels=(),
    languages=TYDIQA_LANGUAGES,
    roles=("target",),
    metric="tydiqa",
    eval_split="test",
    description="TyDiQA-GoldP: information-seeking questions in 9 languages "
    "with the gold passage; English training set (XTREME).",
    source=HubSource(
        # One config "tydiqa" with every language (id, title, context,
        # question, answers), splits train and validation; the gold-passage
        # dev set ("validation") is XTREME's test set. English selects on its
        # English part, as jiant does (see the module's docstring).
        path=XTREME_HUB,
        configs={lang: "tydiqa" for lang in TYDIQA_LANGUAGES},
        splits={"train": "train", "validation": "validation", "test": "validation"},
        # Training data in every language (XTREME trains on the English part).
        split_languages={"validation": ("en",)},
        language_ids=TYDIQA_ID_PREFIXES,
        row_format="squad",
    ),
)

TASKS = (SQUAD, SQUAD_V2, XQUAD, MLQA, TYDIQA)
