"""N-gram overlap between code datasets: contamination beyond problem ids.

Follows the contamination study of Brown et al. 2020 ("Language Models are
Few-Shot Learners", appendix C): an evaluation example is *dirty* when it
shares any 13-gram with the training data, and an example shorter than 13
tokens is compared whole. There the tokens are lower-cased words; here they
are code tokens, normalised so that what every Python program shares does
not count as overlap and a consistent renaming does not hide a copy.

Normalisation (`code_tokens`), exactly:

- dropped: whitespace, indentation and newlines; comment markers; the quote
  characters and prefixes of strings (docstring quotes included); brackets
  and separators `( ) [ ] { } , : ; .`; whole import lines (`import x`,
  `from x import y`); the keywords in BOILERPLATE_KEYWORDS (`def`, `return`,
  `pass`, `self`, ...) and the builtins in COMMON_BUILTINS (`len`, `range`,
  `print`, ...);
- the text of strings and comments (docstrings, the problem's prose) is split
  into lower-cased words, as in Brown et al.;
- every name the snippet itself binds (function name, parameters, assignment
  and `for`/`as` targets) becomes one placeholder, RENAMED: a copy whose
  variables or function were renamed consistently gives the same tokens;
- numbers, operators, other keywords and other names (library functions,
  attributes) are kept as written.

An n-gram made only of placeholders, keywords and operators says nothing
about where a snippet came from (`for _v_ in _v_ if _v_ ...` is in every
program), so it is not indexed. "Near" therefore covers renamed
identifiers, changed whitespace and formatting, changed quoting and
reordered or removed imports; it does not cover reordered statements or
paraphrased prose beyond 13 consecutive tokens.

The index is a set of ints (Python's `hash` of the n-gram tuple: stable
within one process, which is all an index needs), so MBPP (974 problems)
against HumanEval (164) takes well under a second.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Brown et al. 2020, appendix C: 13-grams (shorter examples compared whole).
N = 13
# Our own threshold, not from the paper: a problem whose n-grams are at least
# half found in a training set is reported as a near-duplicate, beside the
# paper's "dirty" (any shared n-gram).
NEAR_DUPLICATE_FRACTION = 0.5
RENAMED = "_v_"

BOILERPLATE_KEYWORDS = frozenset(
    {"def", "return", "pass", "self", "cls", "import", "from", "as", "None"}
)
COMMON_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "dict", "enumerate", "filter", "float",
        "int", "isinstance", "len", "list", "map", "max", "min", "print",
        "range", "reversed", "set", "sorted", "str", "sum", "tuple", "zip",
        "append", "True", "False",
    }
)  # fmt: skip
_KEYWORDS = frozenset(keyword.kwlist)
_OPERATOR_CHARS = set("=<>!+-*/%&|^~@")

_TOKEN = re.compile(
    r"""(?P<string>(?:[rRbBuUfF]{0,2})(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))"""
    r"""|(?P<comment>\#[^\n]*)"""
    r"""|(?P<name>[^\W\d]\w*)"""
    r"""|(?P<number>\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
    r"""|(?P<op>==|!=|<=|>=|\*\*|//|->|:=|[-+*/%<>=!&|^~@])"""
    r"""|(?P<other>\S)"""
)
_IMPORT_LINE = re.compile(r"^\s*(?:import\s+\S|from\s+\S+\s+import\s)", re.MULTILINE)
_WORD = re.compile(r"\w+")


def code_tokens(text: str) -> list[str]:
    """The normalised tokens of a snippet of Python (see the module text)."""
    text = "\n".join(line for line in text.splitlines() if not _IMPORT_LINE.match(line))
    raw: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group()
        if kind in ("string", "comment"):
            raw.extend(("word", w.lower()) for w in _WORD.findall(_string_body(value)))
        elif kind != "other":
            raw.append((kind, value))
    bound = _bound_names(raw) | _parameters(text)
    tokens = []
    for kind, value in raw:
        if kind == "name":
            if value in BOILERPLATE_KEYWORDS or value in COMMON_BUILTINS:
                continue
            if value in bound:
                value = RENAMED
        tokens.append(value)
    return tokens


def _string_body(literal: str) -> str:
    if literal.startswith("#"):
        return literal[1:]
    return literal.lstrip("rRbBuUfF").strip("\"'")


def _bound_names(raw: Sequence[tuple[str, str]]) -> set[str]:
    """Names the snippet binds: the name after `def`/`class`/`as`, every name
    between `for` and `in`, and the name right before an `=` (in `a, b = ...`
    only `b`: an approximation without a parser, since snippets are often
    fragments that do not parse)."""
    bound: set[str] = set()
    names = [(i, v) for i, (k, v) in enumerate(raw) if k == "name"]
    for at, (i, value) in enumerate(names):
        if value in ("def", "class", "as", "for") and at + 1 < len(names):
            nxt = names[at + 1][1]
            if nxt not in _KEYWORDS:
                bound.add(nxt)
        if value == "for":
            # every name between `for` and `in`: for i, x in ...
            for _, later in names[at + 1 :]:
                if later == "in":
                    break
                bound.add(later)
        if i + 1 < len(raw) and raw[i + 1] == ("op", "=") and value not in _KEYWORDS:
            bound.add(value)
    return bound


_DEF = re.compile(r"\bdef\s+\w+\s*\(([^)]*)\)")
_PARAMETER = re.compile(r"(?:^|,)\s*\**\s*([^\W\d]\w*)")


def _parameters(text: str) -> set[str]:
    """The parameter names of every `def` in the text."""
    return {
        name
        for signature in _DEF.findall(text)
        for name in _PARAMETER.findall(re.sub(r"[:=][^,]*", "", signature))
    }


def _informative(gram: Sequence[str]) -> bool:
    return any(
        t != RENAMED and t not in _KEYWORDS and not set(t) <= _OPERATOR_CHARS
        for t in gram
    )


def ngram_hashes(tokens: Sequence[str], n: int = N) -> set[int]:
    """Hashes of the snippet's informative n-grams; a snippet shorter than n
    tokens is one n-gram, itself (Brown et al. 2020, appendix C)."""
    if len(tokens) < n:
        return {hash(tuple(tokens))} if tokens and _informative(tokens) else set()
    grams = (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return {hash(g) for g in grams if _informative(g)}


def record_text(record: Mapping[str, Any]) -> str:
    """What of a code record is compared: its prompt and its solution (or,
    for BLEU tasks, its reference code)."""
    parts = [
        record.get("prompt"),
        record.get("solution") or record.get("reference_code"),
    ]
    return "\n".join(p for p in parts if isinstance(p, str))


def build_index(records: Iterable[Mapping[str, Any]], n: int = N) -> set[int]:
    """The n-gram hashes of every record of a training set."""
    index: set[int] = set()
    for record in records:
        index |= ngram_hashes(code_tokens(record_text(record)), n)
    return index


@dataclass(frozen=True)
class NgramOverlap:
    """How much of one evaluation set a training set contains."""

    target: str
    language: str
    training: str
    """The training set: "<task> (<role>)", role intermediate or target training."""
    problems: int
    dirty: tuple[str, ...]
    """task_ids sharing at least one n-gram with the training set."""
    near_duplicates: tuple[str, ...]
    """task_ids with at least NEAR_DUPLICATE_FRACTION of their n-grams shared."""

    def message(self) -> str:
        shown = ", ".join(self.near_duplicates[:3] or self.dirty[:3])
        return (
            f"target '{self.target}' ({self.language}) vs {self.training}: "
            f"{len(self.dirty)}/{self.problems} problems share a {N}-gram, "
            f"{len(self.near_duplicates)} near-duplicates"
            + (f" (e.g. {shown})" if shown else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "language": self.language,
            "training": self.training,
            "n": N,
            "problems": self.problems,
            "dirty": list(self.dirty),
            "near_duplicates": list(self.near_duplicates),
        }


def overlap(
    index: set[int],
    records: Iterable[Mapping[str, Any]],
    *,
    target: str,
    language: str,
    training: str,
    n: int = N,
) -> NgramOverlap:
    """Which evaluation `records` share n-grams with the training `index`."""
    dirty, near, total = [], [], 0
    for record in records:
        total += 1
        grams = ngram_hashes(code_tokens(record_text(record)), n)
        shared = len(grams & index)
        if shared:
            dirty.append(str(record["task_id"]))
            if shared >= NEAR_DUPLICATE_FRACTION * len(grams):
                near.append(str(record["task_id"]))
    return NgramOverlap(target, language, training, total, tuple(dirty), tuple(near))
