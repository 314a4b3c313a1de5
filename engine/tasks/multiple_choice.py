"""Multiple choice (English intermediate tasks): HellaSwag, CommonsenseQA,
Cosmos QA.

Records: {"id", "context", "question", "choices", "label"} (engine/kinds/base.py).
The row formats (engine.data.adapters) follow jiant, the X-STILTs paper's
toolkit: HellaSwag's context is ctx_a and each choice is ctx_b + ending;
Cosmos QA pairs context and question with each answer; CommonsenseQA has no
context. Each task evaluates on its validation split: the test splits' labels
are not public (empty answerKey / label on the hub).
"""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

HELLASWAG = TaskSpec(
    name="hellaswag",
    kind="multiple_choice",
    family="multiple_choice",
    labels=("0", "1", "2", "3"),
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="HellaSwag: pick the most plausible continuation of an event "
    "description (4 endings).",
    source=HubSource(
        # Parquet since the loading script was deleted (data/<split>-*.parquet,
        # config "default"); columns ind, activity_label, ctx_a, ctx_b, ctx,
        # endings, source_id, split, split_type, label (a string, "" in test).
        path="Rowan/hellaswag",
        configs={"en": None},
        splits={"train": "train", "validation": "validation"},
        row_format="hellaswag",
    ),
)

COMMONSENSEQA = TaskSpec(
    name="commonsenseqa",
    kind="multiple_choice",
    family="multiple_choice",
    labels=("A", "B", "C", "D", "E"),
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="CommonsenseQA: 5-way questions needing commonsense knowledge.",
    source=HubSource(
        # Columns id, question, question_concept, choices {label, text},
        # answerKey ("" in test).
        path="tau/commonsense_qa",
        configs={"en": None},
        splits={"train": "train", "validation": "validation"},
        row_format="commonsense_qa",
    ),
)

COSMOSQA = TaskSpec(
    name="cosmosqa",
    kind="multiple_choice",
    family="multiple_choice",
    labels=("0", "1", "2", "3"),
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="Cosmos QA: commonsense reading comprehension over everyday "
    "narratives, 4 answers.",
    source=HubSource(
        # Columns id, context, question, answer0..answer3, label (int).
        path="allenai/cosmos_qa",
        configs={"en": None},
        splits={"train": "train", "validation": "validation"},
        row_format="cosmos_qa",
    ),
)

TASKS = (HELLASWAG, COMMONSENSEQA, COSMOSQA)
