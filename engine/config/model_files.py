"""What a model's own JSON files say, read without loading the model.

A model is a local folder written by `save_pretrained`, or a hub id whose
files may sit in the hub cache (the layout huggingface_hub writes:
models--<org>--<name>/snapshots/<commit>/). Config validation and the model
loaders both read from here: whether the files parse, whether the model ships
its own Python code (`auto_map`, which only `trust_remote_code` lets run),
and how many tokens its position embeddings hold.

Light module: json and, for the hub cache, huggingface_hub (imported when
asked), no torch or transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.messages import Problem, input_error
from engine.data.local_files import json_error_text
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.config.experiment import ExperimentConfig

# Files whose `auto_map` names Python code of the model's own.
CODE_MAPS = ("config.json", "tokenizer_config.json")

# RoBERTa and the models built on it number positions from padding_idx + 1
# (transformers' create_position_ids_from_input_ids, modeling_roberta.py), so
# max_position_embeddings = 514 holds 512 tokens (XLM-R's own limit, fairseq's
# tokens_per_sample = 512). BERT-style and decoder models use every position.
_PADDING_OFFSET_TYPES = (
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "data2vec-text",
    "roberta-prelayernorm",
    "xmod",
)


def cached_hub_file(model: str, filename: str) -> Path | None:
    """`filename` of hub model `model` in the local hub cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    try:
        found = try_to_load_from_cache(model, filename)
    except Exception:  # noqa: BLE001 - an id the hub client refuses: not cached
        return None
    return Path(found) if isinstance(found, str) else None


def model_file(model: str, filename: str) -> Path | None:
    """`filename` of a local model folder, or of a hub model in the cache."""
    folder = Path(model)
    if folder.is_dir():
        path = folder / filename
        return path if path.is_file() else None
    return cached_hub_file(model, filename)


def read_json_file(path: Path) -> dict[str, Any]:
    """A model's JSON file as a dict; InputError naming the file and line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: "
            f"{json_error_text(exc)}; the model folder is damaged: write it "
            "again with save_pretrained"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def model_json(model: str, filename: str) -> dict[str, Any] | None:
    """A model's JSON file read and checked, or None where it has none
    (here: a hub model not in the cache)."""
    path = model_file(model, filename)
    return read_json_file(path) if path is not None else None


def remote_code_message(model: str) -> str | None:
    """Why `model` cannot load without running its own code, or None: the
    first `auto_map` entry of its config.json or tokenizer_config.json."""
    for filename in CODE_MAPS:
        data = model_json(model, filename)
        auto_map = (data or {}).get("auto_map")
        if auto_map:
            entry = (
                next(iter(auto_map.items()))
                if isinstance(auto_map, dict)
                else ("auto_map", auto_map)
            )
            return (
                f"'{model}' ships its own Python code ({filename} auto_map: "
                f"{entry[0]} -> {entry[1]}), which would run with your rights when "
                "the model loads; xlt runs no model code unless the experiment "
                "sets trust_remote_code = true (do so only for code you trust)"
            )
    return None


_PICKLED = (".bin", ".pt", ".pth", ".ckpt")


def weights_problem(model: str) -> str | None:
    """Why `model` cannot be loaded from safetensors, or None. xlt reads
    safetensors only: pickled weights (pytorch_model.bin) can run code when
    read. A local folder must hold some; a hub model in the cache must not
    hold pickled weights alone (one not yet fetched is fetched with
    use_safetensors=True: safetensors, or a clear failure)."""
    folder = Path(model)
    if folder.is_dir():
        names = [f.name for f in folder.iterdir()]
        where = f"'{model}'"
    else:
        config = cached_hub_file(model, "config.json")
        names = [f.name for f in config.parent.iterdir()] if config else []
        where = f"hub model '{model}' (in the hub cache, {config and config.parent})"
        if not any(name.endswith(_PICKLED) for name in names):
            return None
    if any(name.endswith(".safetensors") for name in names):
        return None
    pickled = sorted(n for n in names if n.endswith(_PICKLED))
    found = f" (it holds {', '.join(pickled)})" if pickled else ""
    return (
        f"{where} has no .safetensors weights{found}; xlt loads only safetensors "
        "(convert with model.save_pretrained(dir, safe_serialization=True))"
    )


@dataclass(frozen=True)
class PositionLimit:
    """The most tokens a model's position embeddings hold, and why."""

    tokens: int
    reason: str


def position_limit(config: dict[str, Any]) -> PositionLimit | None:
    """The limit a model's config.json declares, or None when it declares
    none (relative or rotary positions without a table size)."""
    model_type = str(config.get("model_type", ""))
    for key in ("max_position_embeddings", "n_positions"):
        size = config.get(key)
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            break
    else:
        return None
    if model_type in _PADDING_OFFSET_TYPES:
        pad = config.get("pad_token_id")
        offset = (pad if isinstance(pad, int) else 1) + 1
        return PositionLimit(
            size - offset,
            f"{model_type}: {key} {size} minus the padding offset {offset}",
        )
    return PositionLimit(size, f"{model_type or 'model'}: {key} {size}")


def check_max_seq_length(config: ExperimentConfig, model: str) -> None:
    """InputError naming the key, its line and the model's limit when a
    stage's max_seq_length is more than `model` (a folder or hub id) has
    positions for; nothing when its config.json is not at hand (a hub model
    not yet downloaded) or declares no limit."""
    data = model_json(model, "config.json")
    limit = position_limit(data) if data is not None else None
    if limit is None:
        return
    settings: list[tuple[tuple, int]] = [
        (
            ("train", "intermediate", "max_seq_length"),
            config.intermediate_hparams.max_seq_length,
        ),
        (("train", "target", "max_seq_length"), config.target_hparams.max_seq_length),
    ]
    for task, over in config.task_overrides.items():
        if over.get("max_seq_length") is not None:
            settings.append(
                (("train", "tasks", task, "max_seq_length"), over["max_seq_length"])
            )
    source = Path(config.source_file)
    for loc, value in settings:
        if value > limit.tokens:
            text = _text_of(source)
            problem = Problem(
                loc,
                f"{value} tokens is more than the model holds: expected an integer "
                f"<= {limit.tokens} ({limit.reason}; {model})",
                ".".join(loc),
            )
            raise input_error(problem, source, text)


def _text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
