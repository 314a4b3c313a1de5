"""N-gram contamination (engine.codeeval.ngrams): finds planted copies,
ignores what every Python program shares."""

import time

from engine.codeeval.humaneval import humaneval_records
from engine.codeeval.ngrams import build_index, code_tokens, overlap

ORIGINAL = {
    "task_id": "Train/1",
    "prompt": 'def below_zero(operations):\n    """ You are given a list of deposit '
    "and withdrawal operations on a bank account that starts with zero balance. "
    'Detect if at any point the balance falls below zero."""\n',
    "solution": "    balance = 0\n    for op in operations:\n        balance += op\n"
    "        if balance < 0:\n            return True\n    return False\n",
}

# The same problem with every variable and the function renamed, other
# quotes, other whitespace and an import added.
RENAMED = {
    "task_id": "Eval/7",
    "prompt": "import math\nfrom typing import List\n\ndef   goes_negative( ops ):\n"
    "    '''You are given a list of deposit and withdrawal operations on a bank "
    "account that starts with zero balance.  Detect if at any point the balance "
    "falls below zero.'''\n",
    "solution": "    total=0\n    for x in ops:\n        total += x\n"
    "        if total<0:\n            return True\n    return False",
}

# Shares only boilerplate with ORIGINAL: imports, def/return, builtins,
# a loop over a list.
BOILERPLATE = {
    "task_id": "Eval/8",
    "prompt": "from typing import List\nimport math\n\ndef f(values):\n",
    "solution": "    for v in values:\n        if len(v) > 0:\n"
    "            return True\n    return False\n",
}


def test_renamed_copy_is_a_near_duplicate_and_boilerplate_is_not_overlap():
    index = build_index([ORIGINAL])
    found = overlap(
        index, [RENAMED, BOILERPLATE], target="t", language="en", training="x"
    )
    assert found.problems == 2
    assert found.dirty == ("Eval/7",)
    assert found.near_duplicates == ("Eval/7",)
    assert "1/2 problems share a 13-gram" in found.message()


def test_boilerplate_tokens_are_dropped_and_bound_names_renamed():
    tokens = code_tokens(
        'import os\ndef add(a, b):\n    """Add them."""\n    return len(a) + b\n'
    )
    # add, a, b: bound; "Add them.": words; import, return, len: dropped
    assert tokens == ["_v_", "_v_", "_v_", "add", "them", "_v_", "+", "_v_"]


def test_an_unrelated_problem_is_clean():
    other = {
        "task_id": "Eval/9",
        "prompt": 'def fib(n):\n    """Return the n-th Fibonacci number."""\n',
        "solution": "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
        "    return a\n",
    }
    found = overlap(
        build_index([ORIGINAL]), [other], target="t", language="en", training="x"
    )
    assert found.dirty == ()


def test_humaneval_against_itself_is_fast_and_complete():
    records = humaneval_records()
    start = time.perf_counter()
    index = build_index(records)
    found = overlap(index, records, target="h", language="en", training="h")
    assert time.perf_counter() - start < 10
    assert len(found.near_duplicates) == len(records) == 164
