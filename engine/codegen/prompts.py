"""Prompt templates of the code track: what the model is shown, in training
and in evaluation alike, and the signature-only control.

Two formats (config `prompt_format`):

- "native": each task's own prompt, as its adapter builds it
  (engine.data.code_adapters: HumanEval's function head and docstring, the
  MBPP paper's task + tests sentence, CoNaLa's "# intent" comment, ODEX's
  harness prompt). The published numbers of each benchmark use these.
- "shared": one instruction line before every task's native prompt. Native
  formats differ between the intermediate and the target task (MBPP's prose
  vs HumanEval's docstring), so a gain could be the model learning the
  target's *format* rather than transferring; with one format for every task
  that confound is gone. The instruction is xlt's own (no benchmark defines a
  cross-task format); the completion still continues the native prompt, so
  every task's harness runs the completion unchanged.

The template used is recorded as name + text + a hash of the text
(`template_record`) in the target stage's key, its summary and provenance.

Signature-only control (`signature_only_record`): the prompt keeps only what
names the function (HumanEval-style: the imports and the entry point's `def`
line; MBPP-style: `def <name>(<one argument per position>):` read off the
first test), so the score measures how much the natural-language description
carries.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

from engine.errors import InputError

PROMPT_FORMATS = ("native", "shared")

# xlt's own cross-task instruction (see the module's docstring): a Python
# comment, so HumanEval/ODEX prompts stay valid code.
SHARED_INSTRUCTION = "# Write the Python code that solves the task below.\n"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str
    """A str.format text with one field, {prompt}: the task's native prompt."""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def render(self, prompt: str) -> str:
        return self.text.format(prompt=prompt)

    def record(self) -> dict[str, str]:
        return {"name": self.name, "text": self.text, "sha256": self.digest}


TEMPLATES = {
    "native": PromptTemplate("native", "{prompt}"),
    "shared": PromptTemplate("shared", SHARED_INSTRUCTION + "{prompt}"),
}


def template(prompt_format: str) -> PromptTemplate:
    if prompt_format not in TEMPLATES:
        raise InputError(
            f"prompt_format = {prompt_format!r}: expected one of "
            f"{', '.join(PROMPT_FORMATS)}"
        )
    return TEMPLATES[prompt_format]


def template_record(prompt_format: str, signature_only: bool = False) -> dict:
    """What the results and the provenance record of a stage's prompts."""
    out: dict = dict(template(prompt_format).record())
    if signature_only:
        out["signature_only"] = True
    return out


def apply_template(records: list[dict], prompt_format: str) -> list[dict]:
    """Records with the format's prompt (the same for training and
    evaluation). "native" returns the records unchanged."""
    chosen = template(prompt_format)
    if chosen.name == "native":
        return records
    return [{**r, "prompt": chosen.render(r["prompt"])} for r in records]


# -- the signature-only control ----------------------------------------------


def signature_only_record(record: dict) -> dict:
    """The record with a prompt that carries no natural-language description.

    HumanEval-style records (program_prefix = prompt, an entry point): the
    imports and the entry point's `def` line(s). The program still runs the
    original prompt as its prefix (helpers defined there stay available);
    the model sees none of its docstring.
    MBPP-style records (no program prefix, asserts as tests): a `def` line
    named as the tests call it, one argument per position; that line becomes
    the program prefix, as the model continues after it."""
    entry = record.get("entry_point")
    prefix = record.get("program_prefix") or ""
    if entry and prefix and prefix == record["prompt"]:
        return {**record, "prompt": _humaneval_signature(record["prompt"], entry)}
    if not prefix and record.get("test_program"):
        head = _signature_from_tests(record["test_program"], record["task_id"])
        return {**record, "prompt": head, "program_prefix": head}
    raise InputError(
        f"{record['task_id']}: no signature-only prompt for this record: it "
        "needs a HumanEval-style prompt (program_prefix = prompt, an "
        "entry_point) or MBPP-style assert tests"
    )


def _humaneval_signature(prompt: str, entry_point: str) -> str:
    # The prompt ends inside the entry point's docstring-only body: a `pass`
    # makes it a module ast can parse.
    source = prompt.rstrip() + "\n    pass\n"
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise InputError(
            f"cannot read the function head of {entry_point!r}: {exc.msg}"
        ) from None
    lines = source.splitlines(keepends=True)
    kept: list[str] = []
    for node in module.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            kept.append(ast.unparse(node) + "\n")
        elif isinstance(node, ast.FunctionDef) and node.name == entry_point:
            # From `def` (decorators excluded) to the line before the body.
            kept.extend(lines[node.lineno - 1 : node.body[0].lineno - 1])
            # A one-line `def f(): """doc"""` keeps its head only.
            if node.body[0].lineno == node.lineno:
                head = lines[node.lineno - 1]
                kept.append(head[: head.index(":", head.index(")")) + 1] + "\n")
            return "".join(kept)
    raise InputError(f"the prompt defines no function named {entry_point!r}")


def _signature_from_tests(test_program: str, task_id: str) -> str:
    try:
        module = ast.parse(test_program)
    except SyntaxError as exc:
        raise InputError(f"{task_id}: its tests do not parse: {exc.msg}") from None
    for node in ast.walk(module):
        if isinstance(node, ast.Assert):
            for call in ast.walk(node.test):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                    if call.func.id in _BUILTINS:
                        continue
                    args = ", ".join(f"arg{i}" for i in range(len(call.args)))
                    return f"def {call.func.id}({args}):\n"
    raise InputError(f"{task_id}: no assert in its tests calls a function")


# Calls in asserts that are not the function under test (MBPP wraps some
# results: `assert set(f(x)) == ...`, `assert math.isclose(f(x), ...)`).
_BUILTINS = frozenset(
    {"set", "sorted", "list", "tuple", "abs", "round", "len", "str", "int", "float"}
)
