"""Single-sentence sentiment: SST-2 (English)."""

from __future__ import annotations

from engine.tasks.spec import HubSource, TaskSpec

SST2 = TaskSpec(
    name="sst2",
    kind="classification",
    family="sentiment",
    labels=("negative", "positive"),
    languages=("en",),
    roles=("intermediate",),
    eval_split="validation",
    description="Stanford Sentiment Treebank, binary.",
    source=HubSource(
        path="nyu-mll/glue",
        configs={"en": "sst2"},
        # GLUE's SST-2 test split has no labels.
        splits={"train": "train", "validation": "validation"},
        text_fields=("sentence",),
    ),
)

TASKS = (SST2,)
