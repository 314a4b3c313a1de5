"""Token tagging: CCG supertagging (English intermediate task, manual data);
UD POS and PAN-X / WikiANN NER (XTREME targets).

Records: {"tokens": [str], "tags": [int]} (engine/kinds/base.py); tags are
indices into the task's labels, which for the hub datasets are the
ClassLabel names in the hub's own order (checked when loading).

Languages follow the XTREME reference (Hu et al. 2020; google/xtreme's
_UD_POS_LANG and _PAN_X_LANG, the same lists as google-research/xtreme's
download script): UD POS in 33 languages (UD v2.5 treebanks), PAN-X in 40
(Rahimi et al.'s balanced WikiANN splits). PAN-X once needed a manual
download (XTREME's AmazonPhotos.zip); google/xtreme now ships it as parquet,
so it loads like any hub dataset.
"""

from __future__ import annotations

from engine.tasks.spec import HubSource, ManualSource, TaskSpec

XTREME_HUB = "google/xtreme"

UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)  # fmt: skip
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

# ISO code -> google/xtreme's config suffix ("udpos.<Name>").
UDPOS_CONFIG_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "ko": "Korean",
    "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog",
    "tr": "Turkish", "ur": "Urdu", "vi": "Vietnamese", "yo": "Yoruba",
    "zh": "Chinese",
}  # fmt: skip
UDPOS_LANGUAGES = tuple(UDPOS_CONFIG_NAMES)
# UD v2.5 treebanks without a training or a dev file (google/xtreme's loading
# script gave udpos.Kazakh train and test, udpos.Tagalog / Thai / Yoruba test
# only; jiant's xtreme_runconfig_writer.py EXTRA_UDPOS_TEST_LANGS = kk th tl
# yo: test only there, as in XTREME's test-only languages).
UDPOS_NO_TRAIN = ("th", "tl", "yo")
UDPOS_NO_DEV = ("kk", "th", "tl", "yo")

PANX_LANGUAGES = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu",
    "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "jv",
    "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru",
    "sw", "ta", "te", "th", "tl", "tr", "ur", "vi", "yo", "zh",
)  # fmt: skip

CCG_INSTRUCTIONS = (
    "CCG supertagging reads CCGbank (LDC2005T13), which the LDC licenses and no "
    "public loader serves: obtain it from https://catalog.ldc.upenn.edu/LDC2005T13, "
    "take each sentence's words and lexical categories (supertags) from its AUTO "
    "files, sections 02-21 for train, 00 for validation and 23 for test, and "
    "write one folder with train.jsonl, validation.jsonl (and optionally "
    'test.jsonl), one sentence per line: {"tokens": ["Pierre", ...], "tags": '
    '["N/N", ...]}. jiant\'s two-column CCG files also work as train.tsv / '
    "validation.tsv / test.tsv with a header line 'text<TAB>tags' (space-"
    "separated words and tags). The label set is the folder's tags.txt (one "
    "supertag per line) if there is one, else every tag of the training file, "
    'sorted. Then point xlt at the folder: [data.ccg] path = "<folder>"'
)

CCG = TaskSpec(
    name="ccg",
    kind="tagging",
    family="tagging",
    labels=(),  # CCGbank's supertags, known once the data is given
    languages=("en",),
    roles=("intermediate",),
    metric="accuracy",
    eval_split="validation",
    description="CCG supertagging on CCGbank (manual download: LDC licence).",
    source=ManualSource(
        files={},
        row_format="ccg",
        instructions=CCG_INSTRUCTIONS,
        layout={
            ("train", "en"): "train",
            ("validation", "en"): "validation",
            ("test", "en"): "test",
        },
    ),
)

UDPOS = TaskSpec(
    name="udpos",
    kind="tagging",
    family="tagging",
    labels=UPOS_TAGS,
    languages=UDPOS_LANGUAGES,
    roles=("target",),
    metric="pos_f1",
    eval_split="test",
    description="Universal Dependencies POS tagging (UD v2.5), 33 languages (XTREME).",
    source=HubSource(
        # Configs "udpos.<Language>": tokens, pos_tags (ClassLabel, UPOS_TAGS);
        # Kazakh has train and test only, Tagalog, Thai and Yoruba test only.
        path=XTREME_HUB,
        configs={lang: f"udpos.{name}" for lang, name in UDPOS_CONFIG_NAMES.items()},
        splits={"train": "train", "validation": "validation", "test": "test"},
        split_languages={
            "train": tuple(x for x in UDPOS_LANGUAGES if x not in UDPOS_NO_TRAIN),
            "validation": tuple(x for x in UDPOS_LANGUAGES if x not in UDPOS_NO_DEV),
        },
        label_field="pos_tags",
        row_format="tagging",
    ),
)

PANX = TaskSpec(
    name="panx",
    kind="tagging",
    family="tagging",
    labels=PANX_TAGS,
    languages=PANX_LANGUAGES,
    roles=("target",),
    metric="span_f1",
    eval_split="test",
    description="PAN-X (WikiANN) named entities, PER/ORG/LOC in BIO tags, 40 "
    "languages (XTREME).",
    source=HubSource(
        # Configs "PAN-X.<lang>": tokens, ner_tags (ClassLabel, PANX_TAGS), langs;
        # train, validation and test in every language (Rahimi et al.'s splits).
        path=XTREME_HUB,
        configs={lang: f"PAN-X.{lang}" for lang in PANX_LANGUAGES},
        splits={"train": "train", "validation": "validation", "test": "test"},
        label_field="ner_tags",
        row_format="tagging",
    ),
)

TASKS = (CCG, UDPOS, PANX)
