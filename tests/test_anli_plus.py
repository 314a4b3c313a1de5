"""ANLI+ (X-STILTs' intermediate NLI set): ANLI rounds 1-3, MNLI and SNLI read
as one task through a source made of parts.

Each part is a hub mirror in its repository's layout (parquet per config and
split, README `configs:` metadata, the hub's ClassLabel features), read by the
real path with the hub switched off (tests/test_hub_loaders.py's helpers).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, Features, Value

from engine.config import load_config
from engine.data.loaders import data_fingerprint
from engine.data.records import load_records
from engine.errors import InputError
from engine.tasks import REGISTRY
from engine.tasks.spec import CompositeSource, HubSource, SourcePart
from tests.test_hub_loaders import (  # noqa: F401 (hf_offline: autouse, hub off)
    ANLI,
    ANLI_ROUNDS,
    GLUE,
    MNLI,
    NLI,
    NLI_PAIR,
    hf_offline,
    labelled,
    loaded,
    write_card,
    write_config,
)

# stanfordnlp/snli's schema: premise, hypothesis, label (ClassLabel; -1 where
# the annotators reached no gold label).
SNLI = (
    Features(premise=Value("string"), hypothesis=Value("string"), label=NLI),
    NLI_PAIR,
)
SNLI_ROWS = {
    "train": [
        ("A woman reads.", "A person reads.", "entailment"),
        ("No gold label here.", "Skipped.", None),
        ("Two dogs run.", "The dogs sleep.", "contradiction"),
    ],
    "validation": [("A boy jumps.", "A child is outside.", "neutral")],
    "test": [("Test premise.", "Test hypothesis.", "neutral")],
}


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> dict[str, Path]:
    """Mirrors of the three repositories ANLI+ reads, by part name."""
    base = tmp_path_factory.mktemp("anli_plus")
    anli, glue, snli = base / "anli", base / "glue", base / "snli"
    write_card(
        anli, [write_config(anli, "plain_text", ANLI, ANLI_ROUNDS)], "plain_text"
    )
    write_card(glue, [write_config(glue, "mnli", MNLI, GLUE["mnli"])])
    write_card(snli, [write_config(snli, "plain_text", SNLI, SNLI_ROWS)])
    return {"anli": anli, "mnli": glue, "snli": snli}


def on_mirrors(task, mirrors: dict[str, Path]):
    """The composite task with each part read from its mirror."""
    source = task.source
    moved = tuple(
        dataclasses.replace(
            p, source=dataclasses.replace(p.source, path=str(mirrors[p.name]))
        )
        for p in source.parts
    )
    return dataclasses.replace(task, source=dataclasses.replace(source, parts=moved))


def test_registered_as_the_papers_recipe():
    task = REGISTRY["anli_plus"]
    assert isinstance(task.source, CompositeSource)
    assert (task.kind, task.labels, task.roles) == (
        "pair_classification",
        ("entailment", "neutral", "contradiction"),
        ("intermediate",),
    )
    paths = {p.name: p.source.path for p in task.source.parts}
    assert paths == {
        "anli": "facebook/anli",
        "mnli": "nyu-mll/glue",
        "snli": "stanfordnlp/snli",
    }
    for split in ("train", "validation"):
        assert task.source.split_parts[split] == ("anli", "mnli", "snli")
    mnli = task.source.parts[1].source
    assert mnli.splits["validation"] == "validation_matched"
    assert not task.source.has("test", "en")  # MNLI's test has no labels


@pytest.mark.parametrize(
    "split, anli_part, mnli_split",
    [("train", "train", "train"), ("validation", "dev", "validation_matched")],
)
def test_split_is_the_three_datasets_concatenated(parts, split, anli_part, mnli_split):
    task = on_mirrors(REGISTRY["anli_plus"], parts)
    anli = [row for r in (1, 2, 3) for row in ANLI_ROUNDS[f"{anli_part}_r{r}"]]
    expected = (
        labelled(anli) + labelled(GLUE["mnli"][mnli_split]) + labelled(SNLI_ROWS[split])
    )
    # Unlabelled rows (ANLI's and SNLI's -1) are skipped; labels by name.
    assert loaded(task, split, "en") == expected


def test_fingerprint_covers_every_part(parts, tmp_path):
    task = on_mirrors(REGISTRY["anli_plus"], parts)
    whole = data_fingerprint(task, "train", "en")
    for name in ("anli=", "mnli=", "snli="):
        assert name in whole
    assert data_fingerprint(task, "validation", "en") != whole
    # The hub form names each dataset, config, split and revision.
    hub = data_fingerprint(REGISTRY["anli_plus"], "train", "en")
    assert "hub:stanfordnlp/snli:plain_text" in hub
    assert "hub:facebook/anli" in hub and "train_r1+train_r2+train_r3" in hub
    # Editing one part's files changes the whole task's identity.
    parquet = next((parts["snli"] / "plain_text").glob("train-*.parquet"))
    original = parquet.read_bytes()
    try:
        parquet.write_bytes(original + b"\0")
        assert data_fingerprint(task, "train", "en") != whole
    finally:
        parquet.write_bytes(original)


# A FEVER-NLI-style part, as the ANLI authors' nli_fever files have it
# (jiant/tasks/lib/fever_nli.py: context, query, label SUPPORTS / REFUTES /
# NOT ENOUGH INFO): not part of ANLI+, but the reason a part maps its labels.
FEVER_LABELS = ("SUPPORTS", "REFUTES", "NOT ENOUGH INFO")
FEVER_TO_NLI = {
    "SUPPORTS": "entailment",
    "REFUTES": "contradiction",
    "NOT ENOUGH INFO": "neutral",
}


def fever_mirror(root: Path) -> Path:
    rows = {
        "context": ["Paris is in France.", "Bonn is small.", "Rome is old."],
        "query": ["Paris is French.", "Bonn is a city.", "Rome is new."],
        "label": [0, 2, 1],  # SUPPORTS, NOT ENOUGH INFO, REFUTES
    }
    features = Features(
        context=Value("string"),
        query=Value("string"),
        label=ClassLabel(names=list(FEVER_LABELS)),
    )
    path = root / "fever" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    Dataset.from_dict(rows, features=features).to_parquet(str(path))
    entry = {
        "config_name": "fever",
        "data_files": [{"split": "train", "path": "fever/train-*"}],
    }
    info = {"config_name": "fever", "features": features._to_yaml_list()}
    return write_card(root, [(entry, info)])


def with_fever(parts: dict[str, Path], tmp_path: Path, label_map: dict[str, str]):
    fever = SourcePart(
        "fever",
        HubSource(
            path=str(fever_mirror(tmp_path)),
            configs={"en": "fever"},
            splits={"train": "train"},
            text_fields=("context", "query"),
        ),
        labels=FEVER_LABELS,
        label_map=label_map,
    )
    task = on_mirrors(REGISTRY["anli_plus"], parts)
    source = dataclasses.replace(
        task.source,
        parts=(*task.source.parts, fever),
        split_parts={"train": ("snli", "fever")},
    )
    return dataclasses.replace(task, source=source)


def test_a_part_with_other_label_names_is_mapped_onto_the_tasks(parts, tmp_path):
    task = with_fever(parts, tmp_path, FEVER_TO_NLI)
    got = loaded(task, "train", "en")
    assert got == labelled(SNLI_ROWS["train"]) + [
        (("Paris is in France.", "Paris is French."), "entailment"),
        (("Bonn is small.", "Bonn is a city."), "neutral"),
        (("Rome is old.", "Rome is new."), "contradiction"),
    ]
    assert "fever=" in data_fingerprint(task, "train", "en")
    assert "SUPPORTS" in data_fingerprint(task, "train", "en")


def test_an_unmapped_part_label_is_named(parts, tmp_path):
    task = with_fever(parts, tmp_path, {"SUPPORTS": "entailment"})
    with pytest.raises(
        InputError, match=r"part 'fever' label 'REFUTES' maps to 'REFUTES', not one"
    ):
        load_records(task, "train", "en")


def test_a_split_the_recipe_does_not_name_is_refused(parts):
    task = on_mirrors(REGISTRY["anli_plus"], parts)
    with pytest.raises(InputError, match=r"anli_plus' has no 'test' split"):
        load_records(task, "test", "en")


def test_without_the_hub_the_error_names_the_part_and_how_to_use_files():
    with pytest.raises(InputError) as err:
        load_records(REGISTRY["anli_plus"], "train", "en")
    message = str(err.value)
    assert "could not load facebook/anli" in message
    assert "a part of task 'anli_plus'" in message
    assert '[data.anli_plus] files = { train = { en = "<file>.jsonl" } }' in message
    assert "premise, hypothesis, label" in message
    assert "path =" not in message  # a part cannot be pointed at a folder


def test_local_files_replace_the_combined_data(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(
        '{"premise": "A cat sits.", "hypothesis": "An animal sits.", '
        '"label": "entailment"}\n',
        encoding="utf-8",
    )
    config = tmp_path / "experiment.toml"
    config.write_text(
        'model = "xlt-tiny"\nintermediate = ["anli_plus"]\ntargets = ["xnli"]\n'
        f'[data.anli_plus.files]\ntrain = "{train}"\n',
        encoding="utf-8",
    )
    task = load_config(config).task("anli_plus")
    assert loaded(task, "train", "en") == [
        (("A cat sits.", "An animal sits."), "entailment")
    ]
