"""Registered hub tasks read from a local mirror laid out like the hub repository.

This runs the real path (load_records -> task_rows -> datasets.load_dataset)
on parquet files in each repository's folder layout, with the README `configs:`
metadata and the hub's column names and ClassLabel features, the hub switched off.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets.config as ds_config
import datasets.utils as ds_utils
import huggingface_hub.constants as hub_constants
import pytest
import yaml
from datasets import ClassLabel, Dataset, Features, Value

from engine.config import load_config
from engine.data.loaders import data_fingerprint
from engine.data.records import load_records
from engine.errors import InputError
from engine.tasks import REGISTRY

S, INT = Value("string"), Value("int32")
NLI = ClassLabel(names=["entailment", "neutral", "contradiction"])
NLI_PAIR = ("premise", "hypothesis")
# The hub's schemas (dataset_info in each README) and the columns holding texts.
MNLI = Features(premise=S, hypothesis=S, label=NLI, idx=INT), NLI_PAIR
QQP = (
    Features(
        question1=S,
        question2=S,
        label=ClassLabel(names=["not_duplicate", "duplicate"]),
        idx=INT,
    ),
    ("question1", "question2"),
)
SST2 = (
    Features(sentence=S, label=ClassLabel(names=["negative", "positive"]), idx=INT),
    ("sentence",),
)
ANLI = Features(uid=S, premise=S, hypothesis=S, label=NLI, reason=S), NLI_PAIR
XNLI_SCHEMA = Features(premise=S, hypothesis=S, label=NLI), NLI_PAIR
PAWSX_SCHEMA = (
    Features(id=INT, sentence1=S, sentence2=S, label=ClassLabel(names=["0", "1"])),
    ("sentence1", "sentence2"),
)
# The user's caches as datasets resolved them at import, before any patching.
USER_CACHES = [Path(ds_config.HF_DATASETS_CACHE), Path(ds_config.HF_CACHE_HOME)]
# PAWS-X names its classes "0"/"1"; 1 means paraphrase.
PAWSX_NAMES = {"not_paraphrase": "0", "paraphrase": "1"}

# Rows are (*texts, xlt label name); None is an unlabelled row (label -1).
GLUE = {
    "mnli": {
        "train": [
            ("A man plays a guitar.", "A man makes music.", "entailment"),
            ("A dog sleeps.", "The dog is tired.", "neutral"),
            ("Kids play outside.", "Nobody is outside.", "contradiction"),
            ("Unlabelled premise.", "Unlabelled hypothesis.", None),
        ],
        "validation_matched": [("It rains.", "The ground is dry.", "contradiction")],
        "test_matched": [("Test premise.", "Test hypothesis.", None)],
    },
    "qqp": {
        "train": [
            ("What is AI?", "Where is Paris?", "not_duplicate"),
            ("?", "?", None),
        ],
        "validation": [("Is tea healthy?", "Is tea good for you?", "duplicate")],
        "test": [("Test q1?", "Test q2?", None)],
    },
    "sst2": {
        "train": [("dull and lifeless", "negative"), ("no label here", None)],
        "validation": [("a gorgeous , witty film", "positive")],
        "test": [("unlabelled test sentence", None)],
    },
}
ANLI_ROUNDS = {
    f"{part}_r{r}": [
        (f"{part} r{r} premise.", f"{part} r{r} hypothesis.", "contradiction"),
        (f"{part} r{r} unlabelled.", "No label.", None),
    ]
    for part in ("train", "dev", "test")
    for r in (1, 2, 3)
}
XNLI = {
    "en": {
        "train": [("A cat sits.", "An animal sits.", "entailment"), ("-", "-", None)],
        "validation": [("He runs.", "He is still.", "contradiction")],
        "test": [("He sings.", "He sings loudly.", "neutral")],
    },
    "zh": {
        "test": [
            ("猫坐在垫子上。", "垫子上没有动物。", "contradiction"),
            ("无", "无", None),
        ]
    },
    "ru": {"test": [("Кошка спит.", "Животное отдыхает.", "entailment")]},
    "ar": {"test": [("القطة نائمة.", "القطة تركض.", "contradiction")]},
}
PAWSX = {
    "en": {
        "train": [("NY to FL.", "FL to NY.", "not_paraphrase")],
        "validation": [("Built in 1900.", "It was built in 1900.", "paraphrase")],
        "test": [("He left in 1990.", "In 1990 he left.", "paraphrase")],
    },
    "de": {"test": [("Er ging 1990.", "1990 ging er.", "paraphrase")]},
    "zh": {
        "test": [("从纽约飞往佛罗里达。", "从佛罗里达飞往纽约。", "not_paraphrase")]
    },
    "ja": {"test": [("彼は1990年に去った。", "1990年に彼は去った。", "paraphrase")]},
}


@pytest.fixture(scope="module", autouse=True)
def hf_offline(tmp_path_factory):
    """Hub off and every cache under tmp, so a stray hub access fails fast.

    datasets.config and huggingface_hub.constants read HF_* env vars once, at
    import, so their constants are patched as well as the env vars."""
    home = tmp_path_factory.mktemp("hf_home")
    cache = home / "datasets"
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(home)}
    env["HF_DATASETS_CACHE"] = str(cache)
    patches = [
        (hub_constants, "HF_HUB_OFFLINE", True),
        (hub_constants, "HF_HUB_CACHE", str(home / "hub")),
        (ds_config, "HF_HUB_OFFLINE", True),
        (ds_config, "HF_DATASETS_OFFLINE", True),
        (ds_config, "HF_UPDATE_DOWNLOAD_COUNTS", False),
        (ds_config, "HF_CACHE_HOME", str(home)),
        (ds_config, "HF_DATASETS_CACHE", cache),
        (ds_config, "HF_MODULES_CACHE", home / "modules"),
        (ds_config, "DOWNLOADED_DATASETS_PATH", cache / "downloads"),
        (ds_config, "EXTRACTED_DATASETS_PATH", cache / "downloads" / "extracted"),
    ]
    with pytest.MonkeyPatch.context() as mp:
        for var, value in env.items():
            mp.setenv(var, value)
        for module, name, value in patches:
            mp.setattr(module, name, value)
        bars_were_off = ds_utils.are_progress_bars_disabled()
        ds_utils.disable_progress_bars()  # no "Creating parquet" noise
        yield cache
        if not bars_were_off:
            ds_utils.enable_progress_bars()


def write_config(root: Path, name: str, schema, splits, names=None):
    """One config of a hub repo: <name>/<split>-00000-of-00001.parquet per split.

    Returns its README entries. Columns the task does not read (idx, uid, id,
    reason) are filled per row; labels are the hub's ClassLabel indices."""
    features, text_fields = schema
    for split, rows in splits.items():
        columns = {col: [] for col in features}
        for i, (*texts, label_name) in enumerate(rows):
            row = dict(zip(text_fields, texts, strict=True))
            if label_name is None:
                row["label"] = -1
            elif "label" in features:
                hub_name = (names or {}).get(label_name, label_name)
                row["label"] = features["label"].str2int(hub_name)
            for col in features:
                value = i if features[col].dtype == "int32" else f"{split}-{i}"
                columns[col].append(row.get(col, value))
        path = root / name / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(columns, features=features).to_parquet(str(path))
    files = [{"split": s, "path": f"{name}/{s}-*"} for s in splits]
    info = {"config_name": name, "features": features._to_yaml_list()}
    return {"config_name": name, "data_files": files}, info


def write_card(root: Path, entries, default: str | None = None) -> Path:
    """README.md with the YAML metadata block the hub repositories carry."""
    configs = [
        c | ({"default": True} if c["config_name"] == default else {})
        for c, _ in entries
    ]
    meta = {"dataset_info": [info for _, info in entries], "configs": configs}
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    (root / "README.md").write_text(f"---\n{text}---\n\n# Mirror\n", encoding="utf-8")
    return root


def mirrored(task_name: str, mirror: Path):
    """The registered task, read from `mirror` instead of the hub."""
    task = REGISTRY[task_name]
    return dataclasses.replace(
        task, source=dataclasses.replace(task.source, path=str(mirror))
    )


def loaded(task, split: str, language: str) -> list[tuple]:
    """(texts, label name) per example, as a user of the task sees them."""
    return [
        (tuple(r["texts"]), task.labels[r["label"]])
        for r in load_records(task, split, language)
    ]


def labelled(rows) -> list[tuple]:
    return [(tuple(texts), name) for *texts, name in rows if name is not None]


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory, hf_offline) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("mirrors")
    glue = base / "nyu-mll" / "glue"
    glue_entries = [
        write_config(glue, "mnli", MNLI, GLUE["mnli"]),
        write_config(glue, "qqp", QQP, GLUE["qqp"]),
        write_config(glue, "sst2", SST2, GLUE["sst2"]),
    ]
    anli = base / "facebook" / "anli"
    anli_entry = write_config(anli, "plain_text", ANLI, ANLI_ROUNDS)
    xnli = base / "facebook" / "xnli"
    pawsx = base / "google-research-datasets" / "paws-x"
    xnli_entries = [write_config(xnli, k, XNLI_SCHEMA, v) for k, v in XNLI.items()]
    pawsx_entries = [
        write_config(pawsx, k, PAWSX_SCHEMA, v, PAWSX_NAMES) for k, v in PAWSX.items()
    ]
    glue = write_card(glue, glue_entries)
    return {
        "mnli": glue,
        "qqp": glue,
        "sst2": glue,
        "anli": write_card(anli, [anli_entry], default="plain_text"),
        "xnli": write_card(xnli, xnli_entries),
        "pawsx": write_card(pawsx, pawsx_entries),
    }


# (task, xlt split, language, rows written for it)
CASES = [
    ("mnli", "train", "en", GLUE["mnli"]["train"]),
    ("mnli", "validation", "en", GLUE["mnli"]["validation_matched"]),
    ("qqp", "train", "en", GLUE["qqp"]["train"]),
    ("qqp", "validation", "en", GLUE["qqp"]["validation"]),
    ("sst2", "train", "en", GLUE["sst2"]["train"]),
    ("sst2", "validation", "en", GLUE["sst2"]["validation"]),
    *[
        (task, split, lang, rows)
        for task, data in (("xnli", XNLI), ("pawsx", PAWSX))
        for lang, splits in data.items()
        for split, rows in splits.items()
    ],
]


@pytest.mark.parametrize(
    "task_name, split, language, rows",
    CASES,
    ids=[f"{t}-{s}-{lang}" for t, s, lang, _ in CASES],
)
def test_reads_each_split_and_language_from_mirror(
    mirrors, task_name, split, language, rows
):
    task = mirrored(task_name, mirrors[task_name])
    # Unlabelled rows are skipped; label names follow the hub's ClassLabel order.
    assert loaded(task, split, language) == labelled(rows)


@pytest.mark.parametrize(
    "split, part", [("train", "train"), ("validation", "dev"), ("test", "test")]
)
def test_anli_combined_split_reads_all_three_rounds(mirrors, split, part):
    task = mirrored("anli", mirrors["anli"])
    rounds = [ANLI_ROUNDS[f"{part}_r{r}"] for r in (1, 2, 3)]
    got = loaded(task, split, "en")
    assert got == [row for rows in rounds for row in labelled(rows)]
    assert {texts[0].split()[1] for texts, _ in got} == {"r1", "r2", "r3"}


def write_experiment(folder: Path, data_table: str) -> Path:
    path = folder / "experiment.toml"
    path.write_text(
        'model = "xlt-tiny"\ntargets = ["xnli"]\n'
        'languages = { xnli = ["en", "zh"] }\n' + data_table,
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_config_data_table_points_xnli_at_mirror(mirrors, tmp_path, relative):
    mirror = mirrors["xnli"]
    # A relative path is read from the config file's folder, not the cwd.
    folder = mirror.parent if relative else tmp_path
    where = mirror.name if relative else str(mirror)
    cfg = load_config(write_experiment(folder, f'[data.xnli]\npath = "{where}"\n'))
    task = cfg.task("xnli")
    assert task.source.path == str(mirror)
    assert loaded(task, "test", "zh") == labelled(XNLI["zh"]["test"])
    assert loaded(task, "train", "en") == labelled(XNLI["en"]["train"])


def test_fingerprint_changes_with_path_revision_and_mirror_files(mirrors, tmp_path):
    mirror = mirrors["xnli"]

    def fingerprint(data_table: str) -> str:
        cfg = load_config(write_experiment(tmp_path, data_table))
        return data_fingerprint(cfg.task("xnli"), "test", "zh")

    hub = fingerprint("")
    pinned = fingerprint('[data.xnli]\nrevision = "abc123"\n')
    local = fingerprint(f'[data.xnli]\npath = "{mirror}"\n')
    assert hub == data_fingerprint(REGISTRY["xnli"], "test", "zh")
    assert len({hub, local, pinned}) == 3 and "abc123" in pinned
    # Editing the mirror's files changes its identity, so stale outputs are not reused.
    parquet = next(mirror.rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes() + b"\0")
    assert fingerprint(f'[data.xnli]\npath = "{mirror}"\n') != local


def test_revision_on_a_local_mirror_is_refused(mirrors, tmp_path):
    table = f'[data.xnli]\npath = "{mirrors["xnli"]}"\nrevision = "abc123"\n'
    with pytest.raises(InputError, match="revision applies to hub datasets"):
        load_config(write_experiment(tmp_path, table))


@pytest.mark.parametrize("missing", ["hypothesis", "label"])
def test_mirror_missing_column_names_it(tmp_path, missing):
    features = Features({k: v for k, v in XNLI_SCHEMA[0].items() if k != missing})
    rows = {"test": [("Premise.", "Hypothesis.", "neutral")]}
    write_card(tmp_path, [write_config(tmp_path, "en", (features, NLI_PAIR), rows)])
    with pytest.raises(InputError, match=f"missing column '{missing}'"):
        load_records(mirrored("xnli", tmp_path), "test", "en")


def test_loading_writes_only_to_the_tmp_cache(tmp_path, hf_offline):
    """The arrow cache of a fresh mirror lands in the tmp cache, not the user's."""

    def user_cache() -> list:
        return [sorted(d.glob("*")) if d.exists() else None for d in USER_CACHES]

    before, arrows = user_cache(), set(hf_offline.rglob("*.arrow"))
    splits = {"validation": [("fresh mirror, fresh cache", "positive")]}
    entry = write_config(tmp_path, "sst2", SST2, splits)
    task = mirrored("sst2", write_card(tmp_path, [entry]))
    assert loaded(task, "validation", "en") == labelled(splits["validation"])
    assert set(hf_offline.rglob("*.arrow")) - arrows  # built here
    assert user_cache() == before


def test_unmirrored_task_fails_fast_instead_of_reaching_the_hub():
    # The guard above works: with the hub off, the real hub path fails at once.
    # ... and says how to point the task at local files instead.
    with pytest.raises(InputError, match=r"facebook/xnli.*\[data\.xnli\] path"):
        load_records(REGISTRY["xnli"], "test", "zh")


@pytest.mark.parametrize("client", ["httpx", "httpx2"])
def test_a_network_failure_of_the_hub_client_is_bad_input_not_a_traceback(
    monkeypatch, client
):
    """huggingface_hub 2.x raises httpx2's errors (neither ConnectionError nor
    OSError): they read as the same 'could not load ... set [data.x] path'."""
    module = pytest.importorskip(client)
    import datasets

    def unreachable(*args, **kwargs):
        raise module.ConnectError("network is unreachable")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(
        InputError, match=r"network is unreachable.*\[data\.xnli\] path"
    ):
        load_records(REGISTRY["xnli"], "test", "de")
