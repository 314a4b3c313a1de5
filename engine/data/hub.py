"""Load a hub dataset (or a local mirror in the hub's layout) into Examples.

`datasets.load_dataset(path, config, split=...)` is the one code path for both:
a local folder with parquet files and the README's `configs:` metadata loads
exactly like the repository it mirrors.
"""

from __future__ import annotations

from engine.data.examples import Example
from engine.errors import InputError
from engine.tasks.spec import HubSource, TaskSpec


def load_hub_examples(task: TaskSpec, split: str, language: str) -> list[Example]:
    source = task.source
    assert isinstance(source, HubSource)
    if split not in source.splits:
        raise InputError(
            f"task '{task.name}' has no '{split}' split on the hub "
            f"(it has {', '.join(source.splits)})"
        )
    if language not in source.configs:
        raise InputError(
            f"task '{task.name}' has no language '{language}' "
            f"(it has {', '.join(source.configs)})"
        )
    import datasets  # heavy: imported only when hub data is read

    config = source.configs[language]
    try:
        ds = datasets.load_dataset(
            source.path, config, split=source.splits[split], revision=source.revision
        )
    except (FileNotFoundError, ValueError, ConnectionError) as exc:
        # Offline, unknown repo, or a mistyped mirror folder (which looks like a
        # hub id): say which, and how to point xlt at local files instead.
        raise InputError(
            f"could not load {source.path} (config {config!r}, split "
            f"{source.splits[split]!r}) for task '{task.name}': {exc}. For data on "
            f'disk, set [data.{task.name}] path = "<folder in the hub\'s layout>"'
        ) from None
    missing = [
        f for f in (*source.text_fields, source.label_field) if f not in ds.features
    ]
    if missing:
        raise InputError(
            f"{source.path} ({config}, {split}): missing column '{missing[0]}'; "
            f"columns are {', '.join(ds.features)}"
        )
    _check_label_names(task, ds.features[source.label_field], source.path)
    out = []
    n_labels = len(task.labels)
    columns = [ds[name] for name in source.text_fields]
    for i, label in enumerate(ds[source.label_field]):
        if label is None or not 0 <= int(label) < n_labels:
            continue  # unlabelled rows (-1), as in GLUE test splits
        out.append(Example(tuple(col[i] for col in columns), int(label)))
    if not out:
        raise InputError(f"{source.path} ({config}, {split}): no labelled examples")
    return out


def _check_label_names(task: TaskSpec, feature, path: str) -> None:
    """Refuse a dataset whose label names are in another order than the task's.

    Label indices are used as they are, so a mirror or revision that reordered
    its ClassLabel would otherwise be silently mislabelled. Numeric names
    ("0", "1", as PAWS-X has) carry no meaning to compare.
    """
    names = list(getattr(feature, "names", None) or [])
    if not names or all(n.isdigit() for n in names):
        return
    if names != list(task.labels):
        raise InputError(
            f"{path}: label names {names} differ from task '{task.name}''s "
            f"{list(task.labels)}; xlt maps labels by index, so they must match"
        )
