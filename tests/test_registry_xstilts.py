"""The eighteen X-STILTs tasks: registry, language lists, the splits each
target offers, and their data read from hub mirrors (tests/fixtures/hub, the
repositories' own layout and schemas; rebuilt by
tests/fixtures/build_hub_fixtures.py) and from local files in the same row
formats (tests/fixtures/local), into each kind's records."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import tomllib

from engine.config import load_config, parse_config
from engine.data.records import load_records
from engine.data.retrieval_pairs import load_retrieval_pairs, split_retrieval_records
from engine.errors import InputError
from engine.pipeline import IntermediateStage, TargetStage, make_plan
from engine.tasks import REGISTRY
from tests.conftest import run_engine
from tests.fixtures.build_hub_fixtures import ROWS
from tests.test_hub_loaders import hf_offline  # noqa: F401 (autouse: hub off)

FIXTURES = Path(__file__).parent / "fixtures"
HUB = FIXTURES / "hub"
LOCAL = FIXTURES / "local"

INTERMEDIATE = (  # the paper's nine (docs/PROTOCOL.md)
    "anli_plus", "ccg", "commonsenseqa", "cosmosqa", "hellaswag",
    "mnli", "qqp", "squad", "squad_v2",
)  # fmt: skip
TARGETS = {  # XTREME's language counts (Hu et al. 2020, Table 1)
    "xnli": 15, "pawsx": 7, "udpos": 33, "panx": 40, "xquad": 11,
    "mlqa": 7, "tydiqa": 9, "bucc2018": 4, "tatoeba": 36,
}  # fmt: skip
KINDS = {
    "hellaswag": "multiple_choice", "commonsenseqa": "multiple_choice",
    "cosmosqa": "multiple_choice", "squad": "span_qa", "squad_v2": "span_qa",
    "xquad": "span_qa", "mlqa": "span_qa", "tydiqa": "span_qa", "ccg": "tagging",
    "udpos": "tagging", "panx": "tagging", "bucc2018": "retrieval",
    "tatoeba": "retrieval",
}  # fmt: skip
METRICS = {
    "hellaswag": "accuracy", "commonsenseqa": "accuracy", "cosmosqa": "accuracy",
    "ccg": "accuracy", "squad": "squad", "squad_v2": "squad_v2", "xquad": "squad",
    "mlqa": "mlqa", "tydiqa": "tydiqa", "udpos": "pos_f1", "panx": "span_f1",
    "bucc2018": "bucc_f1", "tatoeba": "tatoeba_accuracy",
}  # fmt: skip


def mirrored(name: str, repo: str):
    """The registered task read from the fixture mirror of `repo`."""
    task = REGISTRY[name]
    return dataclasses.replace(
        task, source=dataclasses.replace(task.source, path=str(HUB / repo))
    )


def rows(repo: str, config: str, split: str) -> list[dict]:
    return ROWS[(repo, config)][split]


# -- the registry as users see it ---------------------------------------------


def test_tasks_json_lists_all_eighteen_with_kind_languages_metric_source():
    result = run_engine("tasks", "--json")
    assert result.returncode == 0, result.stderr
    tasks = {t["name"]: t for t in json.loads(result.stdout)}
    assert len(INTERMEDIATE) + len(TARGETS) == 18
    for name in (*INTERMEDIATE, *TARGETS):
        task = tasks[name]
        assert task["kind"] and task["metric"] and task["source"], name
        assert task["languages"], name
    for name in INTERMEDIATE:
        assert tasks[name]["roles"] == ["intermediate"], name
        assert tasks[name]["languages"] == ["en"], name
    for name, count in TARGETS.items():
        assert "target" in tasks[name]["roles"], name
        assert len(tasks[name]["languages"]) == count, name
        assert len(set(tasks[name]["languages"])) == count, name
    for name, kind in KINDS.items():
        assert tasks[name]["kind"] == kind, name
        assert tasks[name]["metric"] == METRICS[name], name
    # Where the data comes from, down to the configs and splits.
    assert tasks["panx"]["source"] == "hub:google/xtreme"
    assert tasks["panx"]["data"]["configs"]["de"] == "PAN-X.de"
    assert tasks["udpos"]["data"]["configs"]["de"] == "udpos.German"
    assert tasks["mlqa"]["data"]["configs"]["zh"] == "MLQA.zh.zh"
    assert tasks["xquad"]["data"]["splits"]["test"] == "validation"
    assert tasks["xquad"]["data"]["split_configs"]["train"] == "SQuAD"
    assert tasks["udpos"]["data"]["split_languages"]["validation"][:2] == ["af", "ar"]
    assert tasks["anli_plus"]["source"] == (
        "hub:facebook/anli + hub:nyu-mll/glue + hub:stanfordnlp/snli"
    )
    assert tasks["anli_plus"]["data"]["split_parts"]["train"] == [
        "anli",
        "mnli",
        "snli",
    ]
    assert tasks["tydiqa"]["data"]["id_prefixes"]["sw"] == "swahili"
    assert tasks["tatoeba"]["data"]["configs"]["zh"] == "tatoeba.cmn"
    assert tasks["bucc2018"]["data"]["configs"]["ru"] == "bucc18.ru"
    assert tasks["squad"]["source"] == "hub:rajpurkar/squad"
    assert tasks["hellaswag"]["source"] == "hub:Rowan/hellaswag"
    assert tasks["squad_v2"]["allows_no_answer"] is True
    # CCG cannot be downloaded: its entry says what to fetch and where to point.
    assert "LDC2005T13" in tasks["ccg"]["manual"]
    assert '[data.ccg] path = "<folder>"' in tasks["ccg"]["manual"]
    assert "manual" not in tasks["panx"]


def test_tasks_table_names_every_kind():
    result = run_engine("tasks")
    assert result.returncode == 0, result.stderr
    for label in ("choice", "span QA", "tagging", "retrieval", "manual download"):
        assert label in result.stdout


def test_language_lists_are_xtremes():
    langs = {name: set(REGISTRY[name].languages) for name in TARGETS}
    assert langs["bucc2018"] == {"de", "fr", "ru", "zh"}
    assert langs["mlqa"] == {"en", "es", "de", "ar", "hi", "vi", "zh"}
    assert langs["xquad"] == langs["mlqa"] | {"el", "ru", "th", "tr"}
    assert langs["tydiqa"] == {"en", "ar", "bn", "fi", "id", "ko", "ru", "sw", "te"}
    # UD POS is PAN-X's languages less seven, plus none of its own.
    assert langs["udpos"] < langs["panx"]
    assert langs["panx"] - langs["udpos"] == {"bn", "jv", "ka", "ml", "ms", "my", "sw"}
    assert langs["tatoeba"] < langs["panx"]
    assert langs["panx"] - langs["tatoeba"] == {"en", "ms", "my", "yo"}
    for name in TARGETS:
        assert REGISTRY[name].source.has(REGISTRY[name].eval_split, "de") or (
            "de" not in langs[name]
        )


EVAL_SPLITS = {
    "xnli": "test", "pawsx": "test", "udpos": "test", "panx": "test",
    "xquad": "test", "mlqa": "test", "tydiqa": "test",
    "bucc2018": "test", "tatoeba": "test",
}  # fmt: skip


@pytest.mark.parametrize("name", list(EVAL_SPLITS))
def test_targets_evaluate_where_xtreme_does(name):
    task = REGISTRY[name]
    assert task.eval_split == EVAL_SPLITS[name]
    for lang in task.languages:
        assert task.source.has(task.eval_split, lang), (name, lang)
    if task.kind != "retrieval":  # the English training and selection data
        assert task.source.has("train", "en") and task.source.has("validation", "en")


def offered(name: str, split: str) -> set[str]:
    task = REGISTRY[name]
    return {lang for lang in task.languages if task.source.has(split, lang)}


# Languages without a split, where the data have none (docs/PROTOCOL.md, "Splits").
NO_VALIDATION = {
    "xnli": set(), "pawsx": set(), "panx": set(), "bucc2018": set(),
    "udpos": {"kk", "th", "tl", "yo"},  # UD v2.5: no dev file
    "mlqa": set(),  # MLQA dev in every language (English: SQuAD v1.1 dev)
    "xquad": set(REGISTRY["xquad"].languages) - {"en"},  # XQuAD has no dev set
    "tydiqa": set(REGISTRY["tydiqa"].languages) - {"en"},  # its dev set is the test
    "tatoeba": set(REGISTRY["tatoeba"].languages),  # one split
}  # fmt: skip


@pytest.mark.parametrize("name", list(NO_VALIDATION))
def test_targets_offer_validation_and_test_where_the_data_have_them(name):
    languages = set(REGISTRY[name].languages)
    assert offered(name, "test") == languages
    assert offered(name, "validation") == languages - NO_VALIDATION[name]


def test_mlqa_validation_is_mlqa_dev_except_english_selection_on_squad():
    task = mirrored("mlqa", "google/xtreme")
    assert [r["id"] for r in load_records(task, "validation", "de")] == ["ml-de-dev"]
    assert [r["id"] for r in load_records(task, "validation", "ar")] == ["ml-ar-dev"]
    assert [r["id"] for r in load_records(task, "validation", "en")] == ["sq-dev-1"]
    assert [r["id"] for r in load_records(task, "test", "en")] == ["ml-en-1"]


def test_xquad_has_no_dev_set_outside_english_selection():
    task = mirrored("xquad", "google/xtreme")
    assert load_records(task, "validation", "en")[0]["id"] == "sq-dev-1"
    with pytest.raises(InputError, match=r"no 'validation' split in language 'de'"):
        load_records(task, "validation", "de")
    with pytest.raises(InputError, match=r"no 'train' split in language 'de'"):
        load_records(task, "train", "de")


# -- hub rows -> records, per adapter ----------------------------------------


def test_hellaswag_choices_are_ctx_b_plus_ending_after_ctx_a():
    task = mirrored("hellaswag", "Rowan/hellaswag")
    (record,) = load_records(task, "validation", "en")
    row = rows("Rowan/hellaswag", "default", "validation")[0]
    assert record == {
        "id": "24",
        "context": row["ctx_a"],
        "question": "he",
        "choices": row["endings"],
        "label": 3,
    }
    assert load_records(task, "train", "en")[0]["label"] == 3
    # The test split's labels are "": unlabelled rows are skipped, so nothing is left.
    with pytest.raises(InputError, match="no labelled examples"):
        load_records(dataclasses.replace(task, source=dataclasses.replace(
            task.source, splits={"test": "test"})), "test", "en")  # fmt: skip


def test_commonsenseqa_label_is_the_answer_keys_position():
    task = mirrored("commonsenseqa", "tau/commonsense_qa")
    (record,) = load_records(task, "validation", "en")
    assert record["context"] == ""
    assert record["choices"] == [
        "bank",
        "library",
        "department store",
        "mall",
        "new york",
    ]
    assert record["label"] == 0 and record["id"] == "1afa02df02c908a558b4036e80242fac"
    assert task.labels == ("A", "B", "C", "D", "E")


def test_cosmosqa_reads_four_answers():
    task = mirrored("cosmosqa", "allenai/cosmos_qa")
    (record,) = load_records(task, "train", "en")
    row = rows("allenai/cosmos_qa", "default", "train")[0]
    assert record["choices"] == [row[f"answer{i}"] for i in range(4)]
    assert (record["context"], record["question"]) == (row["context"], row["question"])
    assert record["label"] == 1


@pytest.mark.parametrize(
    "name, repo, config, split",
    [
        ("squad", "rajpurkar/squad", "plain_text", "train"),
        ("squad", "rajpurkar/squad", "plain_text", "validation"),
        ("squad_v2", "rajpurkar/squad_v2", "squad_v2", "train"),
    ],
)
def test_squad_rows_keep_ids_and_answer_spans(name, repo, config, split):
    records = load_records(mirrored(name, repo), split, "en")
    expected = [
        {
            "id": r["id"],
            "context": r["context"],
            "question": r["question"],
            "answers": {
                "text": r["answers"]["text"],
                "answer_start": r["answers"]["answer_start"],
            },
        }
        for r in rows(repo, config, split)
    ]
    assert records == expected
    for record in records:
        for text, start in zip(*record["answers"].values(), strict=True):
            assert record["context"][start : start + len(text)] == text


def test_squad_v2_keeps_unanswerable_questions_and_v1_refuses_them():
    records = load_records(mirrored("squad_v2", "rajpurkar/squad_v2"), "train", "en")
    assert records[1]["answers"] == {"text": [], "answer_start": []}
    v1_on_v2_data = dataclasses.replace(
        mirrored("squad_v2", "rajpurkar/squad_v2"), allows_no_answer=False
    )
    with pytest.raises(InputError, match=r"row 1: question without an answer"):
        load_records(v1_on_v2_data, "train", "en")


@pytest.mark.parametrize("name", ["xquad", "mlqa"])
def test_xquad_and_mlqa_train_and_select_on_squad_v1(name):
    task = mirrored(name, "google/xtreme")
    squad = rows("google/xtreme", "SQuAD", "train")
    assert [r["id"] for r in load_records(task, "train", "en")] == [
        r["id"] for r in squad
    ]
    assert load_records(task, "validation", "en")[0]["id"] == "sq-dev-1"


@pytest.mark.parametrize(
    "name, language, config, hub_split",
    [
        ("xquad", "de", "XQuAD.de", "validation"),
        ("xquad", "zh", "XQuAD.zh", "validation"),
        ("mlqa", "ar", "MLQA.ar.ar", "test"),
        ("mlqa", "en", "MLQA.en.en", "test"),
    ],
)
def test_xquad_and_mlqa_test_each_language(name, language, config, hub_split):
    (record,) = load_records(mirrored(name, "google/xtreme"), "test", language)
    (row,) = rows("google/xtreme", config, hub_split)
    assert record["id"] == row["id"] and record["context"] == row["context"]
    assert record["answers"]["text"] == row["answers"]["text"]


def test_tydiqa_keeps_each_languages_rows_by_id_prefix():
    task = mirrored("tydiqa", "google/xtreme")
    train = load_records(task, "train", "en")
    assert [r["id"] for r in train] == ["english-111-1", "english-333-2"]
    assert [r["id"] for r in load_records(task, "test", "ar")] == ["arabic-666-1"]
    (bengali,) = load_records(task, "test", "bn")
    assert bengali["answers"]["text"] == ["১৮৮৯"]
    with pytest.raises(InputError, match="no labelled examples"):
        load_records(task, "test", "sw")  # none in the fixture
    # TyDiQA has training data in every language (XTREME uses the English).
    assert [r["id"] for r in load_records(task, "train", "ar")] == ["arabic-222-1"]
    # English selects on the English part of the same dev set, as jiant does.
    assert [r["id"] for r in load_records(task, "validation", "en")] == [
        "english-555-1"
    ]


@pytest.mark.parametrize(
    "name, config, split, language",
    [
        ("panx", "PAN-X.en", "train", "en"),
        ("panx", "PAN-X.de", "test", "de"),
        ("panx", "PAN-X.zh", "test", "zh"),
        ("udpos", "udpos.English", "validation", "en"),
        ("udpos", "udpos.German", "test", "de"),
        ("udpos", "udpos.Thai", "test", "th"),
    ],
)
def test_tagging_rows_become_tokens_and_tag_indices(name, config, split, language):
    task = mirrored(name, "google/xtreme")
    records = load_records(task, split, language)
    column = "ner_tags" if name == "panx" else "pos_tags"
    expected = [
        {"tokens": r["tokens"], "tags": r[column]}
        for r in rows("google/xtreme", config, split)
    ]
    assert records == expected
    names = [[task.labels[t] for t in r["tags"]] for r in records]
    if config == "PAN-X.en" and split == "train":
        assert names[0] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]
    # load_records (the runner's entry point) gives the same.
    assert load_records(task, split, language) == records


def test_udpos_languages_without_training_data_have_test_only():
    task = mirrored("udpos", "google/xtreme")
    with pytest.raises(
        InputError,
        match=r"task 'udpos' has no 'validation' split in language 'th' .*"
        r"'th' has test\)",
    ):
        load_records(task, "validation", "th")
    assert load_records(task, "test", "th")[0]["tokens"] == ["แมว", "นอน"]


def test_tatoeba_pairs_row_by_row():
    task = mirrored("tatoeba", "google/xtreme")
    source, target, gold = load_retrieval_pairs(task, "test", "zh")
    hub = rows("google/xtreme", "tatoeba.cmn", "validation")
    assert [s["text"] for s in source] == [r["source_sentence"] for r in hub]
    assert [t["text"] for t in target] == [r["target_sentence"] for r in hub]
    assert gold == [(s["id"], t["id"]) for s, t in zip(source, target, strict=True)]
    records = load_records(task, "test", "de")
    assert {r["side"] for r in records} == {"source", "target"}
    assert split_retrieval_records(records) == load_retrieval_pairs(task, "test", "de")


def test_bucc_gold_pairs_use_bucc_ids_and_merge_repeated_sentences():
    task = mirrored("bucc2018", "google/xtreme")
    source, target, gold = load_retrieval_pairs(task, "test", "de")
    assert source == [
        {"id": "de-000000010", "text": "Der Hund bellt."},
        {"id": "de-000000011", "text": "Es regnet."},
    ]
    assert [t["id"] for t in target] == ["en-000000020", "en-000000021", "en-000000022"]
    assert gold == [
        ("de-000000010", "en-000000020"),
        ("de-000000011", "en-000000021"),
        ("de-000000011", "en-000000022"),
    ]
    assert load_retrieval_pairs(task, "validation", "zh")[2] == [
        ("zh-000000001", "en-000000001")
    ]


# -- local files in the hub's row format -------------------------------------


def write_config(folder: Path, body: str, targets=("xnli",), intermediate=()) -> Path:
    path = folder / "experiment.toml"
    path.write_text(
        f'model = "xlt-tiny"\nintermediate = {json.dumps(list(intermediate))}\n'
        f"targets = {json.dumps(list(targets))}\n" + body,
        encoding="utf-8",
    )
    return path


def test_local_panx_files_read_like_the_hub(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path,
            f'[data.panx.files]\ntrain = "{LOCAL}/panx/train.en.jsonl"\n'
            f'test = {{ de = "{LOCAL}/panx/test.de.jsonl" }}\n',
            targets=("panx",),
        )
    )
    task = cfg.task("panx")
    hub = mirrored("panx", "google/xtreme")
    # Tag names in one file, ClassLabel indices in the other: the same records.
    assert load_records(task, "train", "en") == load_records(hub, "train", "en")
    assert load_records(task, "test", "de") == load_records(hub, "test", "de")
    # The resolved config keeps the files, and loads again as the same task.
    again = parse_config(cfg.to_toml_dict(), tmp_path / "resolved.toml")
    assert again.task("panx") == task


def test_local_squad_format_files_for_xquad(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path,
            f'[data.xquad.files]\ntrain = "{LOCAL}/xquad/train.en.jsonl"\n'
            f'test = {{ de = "{LOCAL}/xquad/test.de.jsonl" }}\n',
            targets=("xquad",),
        )
    )
    task = cfg.task("xquad")
    hub = mirrored("xquad", "google/xtreme")
    assert load_records(task, "train", "en") == load_records(hub, "train", "en")
    # SQuAD's JSON style (a list of {text, answer_start}) reads the same.
    assert load_records(task, "test", "de") == load_records(hub, "test", "de")


def test_local_hellaswag_and_tatoeba(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path,
            f"[data.hellaswag.files]\n"
            f'validation = "{LOCAL}/hellaswag/validation.jsonl"\n'
            f"[data.tatoeba.files]\n"
            f'test = {{ de = "{LOCAL}/tatoeba/test.de.jsonl" }}\n',
            targets=("tatoeba",),
        )
    )
    hub = mirrored("hellaswag", "Rowan/hellaswag")
    assert load_records(cfg.task("hellaswag"), "validation", "en") == (
        load_records(hub, "validation", "en")
    )
    source, _, gold = load_retrieval_pairs(cfg.task("tatoeba"), "test", "de")
    assert [s["text"] for s in source] == ["Ich bin müde.", "Danke."]
    assert len(gold) == 2


def test_original_bucc_release_keeps_unpaired_sentences(tmp_path):
    gold_file = LOCAL / "bucc2018/de-en/de-en.training.gold"
    cfg = load_config(
        write_config(
            tmp_path,
            f'[data.bucc2018.files]\ntest = {{ de = "{gold_file}" }}\n',
            targets=("bucc2018",),
        )
    )
    source, target, gold = load_retrieval_pairs(cfg.task("bucc2018"), "test", "de")
    assert len(source) == 3 and len(target) == 3  # one unpaired sentence a side
    assert gold == [("de-000000001", "en-000000002"), ("de-000000003", "en-000000001")]


# -- manual data (CCG) ---------------------------------------------------------


def test_ccg_without_data_says_what_to_fetch_and_where_to_point(tmp_path):
    config = write_config(tmp_path, "", intermediate=("ccg",))
    load_config(config)  # a valid experiment: the data is missing, not the config
    with pytest.raises(InputError, match=r"task 'ccg' needs data you download"):
        load_records(REGISTRY["ccg"], "train", "en")
    # As a user sees it: a run stops before it starts, exit code 2, no traceback.
    result = run_engine("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    message = result.stderr + result.stdout
    assert "CCGbank" in message and "LDC2005T13" in message
    assert '[data.ccg] path = "<folder>"' in message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws" / "runs").exists()
    # --dry-run still shows the plan, and what has to be fetched.
    dry = run_engine("run", str(config), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "intermediate  ccg" in dry.stdout
    assert "needs data" in dry.stderr and "LDC2005T13" in dry.stderr


def test_ccg_folder_with_tags_txt(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path, f'[data.ccg]\npath = "{LOCAL}/ccg"\n', intermediate=("ccg",)
        )
    )
    task = cfg.task("ccg")
    listed = (LOCAL / "ccg/tags.txt").read_text().split()
    assert task.labels == tuple(listed)
    records = load_records(task, "train", "en")
    assert records[1]["tokens"] == ["He", "sleeps"]
    assert [task.labels[t] for t in records[1]["tags"]] == ["NP", "S[dcl]\\NP"]
    assert load_records(task, "validation", "en")
    again = parse_config(cfg.to_toml_dict(), tmp_path / "resolved.toml")
    assert again.task("ccg") == task


def test_ccg_jiant_tsv_folder_takes_the_training_tags(tmp_path):
    cfg = load_config(
        write_config(
            tmp_path, f'[data.ccg]\npath = "{LOCAL}/ccg_jiant"\n', intermediate=("ccg",)
        )
    )
    task = cfg.task("ccg")
    assert task.labels == ("N", "N/N", "NP", "S[dcl]\\NP")  # sorted, from train
    (record,) = load_records(task, "validation", "en")
    assert record == {"tokens": ["Vinken", "sleeps"], "tags": [0, 3]}


def test_ccg_folder_without_training_file_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "validation.jsonl").write_text("{}\n")
    config = write_config(
        tmp_path, f'[data.ccg]\npath = "{tmp_path / "data"}"\n', intermediate=("ccg",)
    )
    with pytest.raises(InputError, match=r"data\.ccg.*no train\.jsonl.*validation"):
        load_config(config)


# -- errors name the file and line, or the dataset and column -----------------


def local_task(name: str, tmp_path: Path, split: str, lang: str, lines: list[dict]):
    path = tmp_path / f"{split}.{lang}.jsonl"
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
        encoding="utf-8",
    )
    from engine.data.overrides import with_local_files

    return with_local_files(REGISTRY[name], {(split, lang): str(path)}), path


def test_bad_tag_names_file_line_and_column(tmp_path):
    good = {"tokens": ["Bonn"], "ner_tags": ["B-LOC"]}
    bad = {"tokens": ["Bonn"], "ner_tags": ["B-LOK"]}
    task, path = local_task("panx", tmp_path, "test", "de", [good, bad])
    with pytest.raises(InputError) as err:
        load_records(task, "test", "de")
    assert f"{path}:2" in str(err.value) and "'ner_tags'" in str(err.value)
    assert "did you mean 'B-LOC'" in str(err.value)


def test_answer_outside_context_and_missing_column(tmp_path):
    row = {"id": "1", "context": "short", "question": "q?"}
    task, path = local_task(
        "xquad", tmp_path, "test", "de",
        [{**row, "answers": {"text": ["far away"], "answer_start": [40]}}],
    )  # fmt: skip
    with pytest.raises(InputError, match=rf"{path}:1: answer 'far away' starts at 40"):
        load_records(task, "test", "de")
    task, path = local_task("xquad", tmp_path, "test", "de", [row])
    with pytest.raises(InputError, match=rf"{path}:1: missing column 'answers'"):
        load_records(task, "test", "de")


def test_duplicate_qa_ids_are_refused(tmp_path):
    row = {"id": "7", "context": "Paris", "question": "Where?"}
    answers = {"text": ["Paris"], "answer_start": [0]}
    task, _ = local_task(
        "mlqa", tmp_path, "test", "de", [{**row, "answers": answers}] * 2
    )
    with pytest.raises(InputError, match="id '7' appears twice"):
        load_records(task, "test", "de")


def test_mirror_missing_column_names_dataset_and_column(tmp_path):
    task = mirrored("panx", "google/xtreme")
    broken = dataclasses.replace(task, source=dataclasses.replace(
        task.source, label_field="ner_tag"))  # fmt: skip
    with pytest.raises(InputError, match=r"PAN-X\.en.*missing column 'ner_tag'"):
        load_records(broken, "train", "en")


def test_mirror_with_other_tag_order_is_refused():
    task = mirrored("panx", "google/xtreme")
    reordered = dataclasses.replace(task, labels=tuple(reversed(task.labels)))
    with pytest.raises(InputError, match="tag names .* differ"):
        load_records(reordered, "train", "en")


def test_unmirrored_hub_task_fails_fast_and_says_how_to_use_local_files():
    with pytest.raises(InputError, match=r"\[data\.panx\] files = "):
        load_records(REGISTRY["panx"], "test", "de")


# -- custom tasks of the new kinds, and the resolved config --------------------


def test_custom_tagging_task_on_local_files(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text(
        json.dumps({"tokens": ["a", "b"], "tags": ["X", "Y"]}) + "\n", encoding="utf-8"
    )
    test = tmp_path / "test.fr.jsonl"
    test.write_text(json.dumps({"tokens": ["c"], "tags": [1]}) + "\n", encoding="utf-8")
    config = write_config(
        tmp_path,
        '[tasks.chunks]\nkind = "tagging"\nlabels = ["X", "Y"]\n'
        f'[tasks.chunks.files]\ntrain = "{data}"\ntest = {{ fr = "{test}" }}\n',
        targets=("chunks",),
    )
    cfg = load_config(config)
    task = cfg.task("chunks")
    assert (task.metric, task.row_format, task.source.label_field) == (
        "accuracy", "tagging", "tags",
    )  # fmt: skip
    assert load_records(task, "test", "fr") == [{"tokens": ["c"], "tags": [1]}]
    again = parse_config(cfg.to_toml_dict(), config)
    assert again.task("chunks") == task


def test_custom_span_qa_task_needs_no_labels_and_checks_its_metric(tmp_path):
    train = LOCAL / "xquad/train.en.jsonl"

    def config(metric: str) -> Path:
        body = (
            f'[tasks.myqa]\nkind = "span_qa"\nmetric = "{metric}"\n'
            f'files = {{ train = "{train}" }}\n'
        )
        return write_config(tmp_path, body, intermediate=("myqa",))

    task = load_config(config("squad_v2")).task("myqa")
    assert task.allows_no_answer and task.row_format == "squad"
    assert load_records(task, "train", "en")[0]["id"] == "sq-train-1"
    with pytest.raises(InputError, match=r"tasks\.myqa\.metric: 'f1' is not one of"):
        load_config(config("f1"))


def test_resolved_config_keeps_a_hub_revision():
    # [data.<task>] overrides are written back as [data.<task>], not as custom tasks.
    cfg = parse_config(
        {
            "model": "xlt-tiny",
            "targets": ["xnli"],
            "data": {"xnli": {"revision": "abc"}},
        },
        "experiment.toml",
    )
    resolved = cfg.to_toml_dict()
    assert resolved["data"] == {"xnli": {"path": "facebook/xnli", "revision": "abc"}}
    assert "tasks" not in resolved
    assert parse_config(resolved, "experiment.toml").task("xnli") == cfg.task("xnli")


# -- the paper's grid: sample_configs/xstilts_paper.toml -----------------------

PAPER = Path(__file__).parent.parent / "sample_configs" / "xstilts_paper.toml"
PAPER_TARGETS = (
    "xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba",
)  # fmt: skip
# jiant's XTREME runs (docs/PROTOCOL.md): d_write_configs.sh --epochs and
# --gradient_accumulation_steps, c_tokenize_and_cache.sh --max_seq_length.
TARGET_HPARAMS = {  # target: (epochs, grad_accum, max_seq_length)
    "xnli": (2, 8, 256), "pawsx": (5, 8, 256), "udpos": (10, 8, 256),
    "panx": (10, 8, 256), "xquad": (2, 4, 384), "mlqa": (2, 4, 384),
    "tydiqa": (2, 4, 384),
}  # fmt: skip


def test_paper_dry_run_plans_the_nine_all_nine_and_baseline_on_nine_targets():
    result = run_engine("run", str(PAPER), "--dry-run")
    assert result.returncode == 0, result.stderr
    # 10 intermediate trainings (nine + all-nine), 7 trained targets for each
    # of 11 choices (baseline too), BUCC and Tatoeba scored without training.
    assert "87 trainings to run (10 intermediate, 77 target)" in result.stdout
    assert "22 retrieval evaluations without training" in result.stdout
    # Per choice, each split in the languages that have it: XNLI 15x2,
    # PAWS-X 7x2, UD-POS 33 test + 29 validation, PAN-X 40x2, XQuAD 11 test +
    # English validation, MLQA 7x2, TyDiQA 9 test + English validation, BUCC
    # 4x2, Tatoeba 36 test = 266; 11 choices.
    assert "2926 zero-shot evaluations" in result.stdout
    assert "xquad: validation in 1 of 11 languages" in result.stdout
    assert "LDC2005T13" in result.stderr  # CCG: what to fetch


def test_paper_plan_stages_in_order():
    config = load_config(PAPER)
    stages = make_plan(config, None).stages
    intermediates = [s for s in stages if isinstance(s, IntermediateStage)]
    assert [s.task for s in intermediates] == [*INTERMEDIATE, "all-nine"]
    assert intermediates[-1].members == INTERMEDIATE
    assert intermediates[-1].sampling.sampling == "proportional"
    targets = [s for s in stages if isinstance(s, TargetStage)]
    choices = ["baseline", *INTERMEDIATE, "all-nine"]
    assert [(s.intermediate, s.target) for s in targets] == [
        (choice, target) for choice in choices for target in PAPER_TARGETS
    ]
    assert config.model == "FacebookAI/xlm-roberta-large"
    assert config.precision == "fp32" and config.seeds == (1,)
    splits = {s.target: s.splits for s in targets if s.intermediate == "baseline"}
    assert splits["xnli"] == ("validation", "test")
    # Validation where a language has it: English only for XQuAD and TyDiQA.
    assert splits["xquad"] == splits["tydiqa"] == ("validation", "test")
    assert splits["tatoeba"] == ("test",)
    xquad = next(s for s in targets if s.target == "xquad")
    assert [e.language for e in xquad.evaluations if e.split == "validation"] == ["en"]


@pytest.mark.parametrize("target", list(TARGET_HPARAMS))
def test_paper_target_hyperparameters_are_jiants(target):
    stages = make_plan(load_config(PAPER), None).stages
    (hp,) = {
        s.hparams for s in stages if isinstance(s, TargetStage) and s.target == target
    }  # the same for every intermediate choice
    epochs, grad_accum, length = TARGET_HPARAMS[target]
    assert (hp.epochs, hp.grad_accum, hp.max_seq_length) == (epochs, grad_accum, length)
    assert (hp.batch_size, hp.learning_rate, hp.warmup_ratio) == (4, 1e-5, 0.1)
    assert (hp.eval_every, hp.patience, hp.selection_examples) == (1000, 30, 500)


def test_paper_intermediate_and_retrieval_hyperparameters():
    stages = make_plan(load_config(PAPER), None).stages
    (hp,) = {s.hparams for s in stages if isinstance(s, IntermediateStage)}
    assert (hp.epochs, hp.batch_size, hp.grad_accum) == (3, 4, 1)
    assert (hp.learning_rate, hp.max_seq_length) == (1e-5, 256)
    for target in ("bucc2018", "tatoeba"):
        (hp,) = {
            s.hparams
            for s in stages
            if isinstance(s, TargetStage) and s.target == target
        }
        assert (hp.max_seq_length, hp.retrieval_layer) == (512, 14)


def uncommented_value_lines(text: str) -> list[str]:
    """Lines that give a value without a comment after it. A value spread
    over several lines would hide uncommented lines: every line that is not
    blank, a comment or a [table] header must be one commented key = value."""
    bad = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = stripped.split("#", 1)[0].strip()
        if body.startswith("[") and body.endswith("]"):
            continue
        if "=" not in body or "#" not in stripped:
            bad.append(line)
            continue
        try:  # the whole value is on this line, before its comment
            tomllib.loads(body)
        except tomllib.TOMLDecodeError:
            bad.append(line)
    return bad


def leaf_values(table: dict) -> int:
    return sum(leaf_values(v) if isinstance(v, dict) else 1 for v in table.values())


def test_paper_config_comments_every_value_line():
    text = PAPER.read_text(encoding="utf-8")
    assert uncommented_value_lines(text) == []
    # Every value the file holds sits on its own commented line.
    key_lines = [
        line for line in text.splitlines()
        if "=" in line.split("#", 1)[0] and not line.lstrip().startswith("[")
    ]  # fmt: skip
    assert len(key_lines) == leaf_values(tomllib.loads(text))
    # The check fails on an uncommented value, and on a value spread over lines.
    assert uncommented_value_lines("seeds = [1]\n[train]\nbatch_size = 4  # d\n") == [
        "seeds = [1]"
    ]
    assert uncommented_value_lines('targets = [  # the nine\n  "xnli",\n]\n') == [
        "targets = [  # the nine",
        '  "xnli",',
        "]",
    ]
    # The old, unsupported claim that the paper trained in fp16 is gone.
    assert "trained in fp16" not in text


def test_paper_dry_run_json_is_the_same_plan_for_scripts():
    result = run_engine("run", str(PAPER), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["summary"]["trainings"] == 87
    assert plan["summary"]["evaluations"] == 2926
    stages = plan["stages"]
    assert len(stages) == 109
    for s in stages:
        assert {"kind", "task", "seed", "key", "reused", "hparams"} <= set(s)
    targets = [s for s in stages if s["kind"] == "target"]
    assert all({"intermediate", "languages", "splits", "evaluations"} <= set(t)
               for t in targets)  # fmt: skip
    xnli = next(t for t in targets if t["task"] == "xnli")
    assert xnli["intermediate"] == "baseline" and xnli["splits"] == [
        "validation",
        "test",
    ]
    assert (
        xnli["hparams"]["epochs"] == 2 and xnli["hparams"]["selection_examples"] == 500
    )
    assert len({e["key"] for e in xnli["evaluations"]}) == 30


def test_json_is_only_for_a_dry_run():
    result = run_engine("run", str(PAPER), "--json")
    assert result.returncode == 2
    assert "--json" in result.stderr and "Traceback" not in result.stderr
