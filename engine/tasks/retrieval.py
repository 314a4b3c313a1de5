"""Sentence retrieval (XTREME targets, no training): BUCC 2018 bitext mining
and Tatoeba similarity search.

Records: one per sentence, {"id", "text", "side"} with side "source" (the
non-English sentence) or "target" (English); source records also carry
"gold": the ids of their English translations (engine.data.retrieval_pairs).

Languages follow the XTREME reference: BUCC in de, fr, ru, zh; Tatoeba in the
36 languages of google-research/xtreme's utils_preprocess.tatoeba_preprocess
(its ISO 639-3 names are google/xtreme's config suffixes). Both are scored on
XTREME's test data: for BUCC the "training" release with its gold pairs (the
hub's test split; the threshold comes from the "sample" release, the
validation split), for Tatoeba the one split there is (the hub's
"validation").
"""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

XTREME_HUB = "google/xtreme"

BUCC_LANGUAGES = ("de", "fr", "ru", "zh")

# ISO 639-1 -> ISO 639-3 as google/xtreme names its "tatoeba.<code>" configs.
TATOEBA_CODES = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu",
    "el": "ell", "es": "spa", "et": "est", "eu": "eus", "fa": "pes",
    "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun",
    "id": "ind", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat",
    "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar", "nl": "nld",
    "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel",
    "th": "tha", "tl": "tgl", "tr": "tur", "ur": "urd", "vi": "vie",
    "zh": "cmn",
}  # fmt: skip
TATOEBA_LANGUAGES = tuple(TATOEBA_CODES)

BUCC2018 = TaskSpec(
    name="bucc2018",
    kind="retrieval",
    family="retrieval",
    labels=(),
    languages=BUCC_LANGUAGES,
    roles=("target",),
    metric="bucc_f1",
    eval_split="test",
    description="BUCC 2018: mine translation pairs from the full comparable "
    "corpora by margin score, F1 at the threshold chosen on validation "
    "(the 'sample' release) and applied to test (the 'training' release), as "
    "XTREME. The hub copy holds only the gold pairs and is marked not "
    "comparable; point [data.bucc2018] path at the unpacked BUCC 2018 "
    "release (or files at its .gold files) for the full corpora.",
    # How XTREME scores it (google-research/xtreme): scripts/run_bucc2018.sh
    # -> third_party/evaluate_retrieval.py --task_name bucc2018 --mine_bitext
    # --specific_layer 7 --dist cosine, mining each of 'dev' and 'test' with
    # utils_retrieve.mine_bitext (ratio margin, k = 4 neighbours, "max"
    # retrieval) and keeping dev's bucc_optimize threshold for test.
    # scripts/download_data.sh (download_bucc18) fetches the shared task's
    # "<xx>-en.sample-gold" and "<xx>-en.training-gold" tarballs, renames
    # sample -> dev and training -> test, and deletes test.gold (the
    # leaderboard holds it). engine/kinds/retrieval.py: the scoring and the
    # non-comparable marking.
    source=HubSource(
        # Configs "bucc18.<lang>": source_sentence, target_sentence,
        # source_lang, target_lang, one row per gold pair and no unpaired
        # sentence (so precision is inflated against XTREME's); validation =
        # the "sample" release, test = the "training" release (as XTREME).
        path=XTREME_HUB,
        configs={lang: f"bucc18.{lang}" for lang in BUCC_LANGUAGES},
        splits={"validation": "validation", "test": "test"},
        row_format="bucc",
    ),
)

TATOEBA = TaskSpec(
    name="tatoeba",
    kind="retrieval",
    family="retrieval",
    labels=(),
    languages=TATOEBA_LANGUAGES,
    roles=("target",),
    metric="tatoeba_accuracy",
    eval_split="test",
    description="Tatoeba: find each sentence's English translation among up to "
    "1000, 36 languages (XTREME).",
    source=HubSource(
        # Configs "tatoeba.<iso 639-3>": source_sentence, target_sentence,
        # source_lang, target_lang; row i pairs sentence i with translation i.
        path=XTREME_HUB,
        configs={lang: f"tatoeba.{code}" for lang, code in TATOEBA_CODES.items()},
        # One split, no validation: XTREME scores it as test (its
        # utils_preprocess.py writes only test files), jiant as "val".
        splits={"test": "validation"},
        row_format="tatoeba",
    ),
)

TASKS = (BUCC2018, TATOEBA)
