"""Training hyperparameters: [train], [train.intermediate], [train.target]
and [train.tasks.<task>] of the experiment file, and `StageHparams`, the
object the training loop runs with.

Light module: pydantic only.
"""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, create_model, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.dataclasses import is_pydantic_dataclass
from pydantic.fields import FieldInfo

from engine.config.values import Integer, Means, Number, Table, at_most

STAGES = ("intermediate", "target")

# Upper bounds: no paper or toolkit sets these (jiant and transformers'
# TrainingArguments have none); they are xlt's, far beyond any fine-tuning
# recipe (Phang et al. 2020 train for at most a few epochs; RoBERTa's
# pretraining ran 500k steps at batch 8k), and there so that a value that
# cannot run (max_steps = 2**63 - 1, grad_accum = 10**9, epochs = 1e300) is
# refused when the file is read, not hours or an overflow later.
MAX_STEPS = 100_000_000
MAX_EPOCHS = 10_000
MAX_GRAD_ACCUM = 65_536  # forward passes per optimizer step


# A (pydantic) dataclass rather than a model: the training code and the
# benchmarks copy it with dataclasses.replace and read it with asdict.
@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", defer_build=True))
class StageHparams:
    """Hyperparameters of one training stage (intermediate or target)."""

    learning_rate: Number = Field(
        default=2e-5,
        gt=0,
        description="Peak learning rate of AdamW, reached after warm-up.",
    )
    batch_size: Integer = Field(
        default=32, ge=1, description="Examples per forward pass."
    )
    grad_accum: Annotated[Integer, at_most(MAX_GRAD_ACCUM, "an integer")] = Field(
        default=1,
        ge=1,
        description="Forward passes per optimizer step (effective batch = "
        "batch_size * this).",
    )
    epochs: Annotated[Number, at_most(MAX_EPOCHS, "a number")] = Field(
        default=3.0,
        gt=0,
        description="Passes over the training data; ignored when max_steps is set.",
    )
    max_steps: Annotated[
        Integer,
        Means(0, "use epochs"),
        at_most(MAX_STEPS, "an integer", "0 = use epochs"),
    ] = Field(
        default=0,
        ge=0,
        description="Optimizer steps to train for; 0 means use epochs.",
    )
    warmup_ratio: Number = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Fraction of the steps spent warming the learning rate up from 0.",
    )
    weight_decay: Number = Field(
        default=0.01,
        ge=0,
        description="Decoupled weight decay, not applied to biases and LayerNorm.",
    )
    max_grad_norm: Annotated[Number, Means(0, "no clipping")] = Field(
        default=1.0, ge=0, description="Gradient clipping norm; 0 disables clipping."
    )
    max_seq_length: Integer = Field(
        default=128,
        ge=8,
        description="Tokens per example after truncation (both sentences of a "
        "pair together).",
    )
    doc_stride: Integer = Field(
        default=128,
        ge=1,
        description="Extractive QA: tokens of overlap between the windows of a "
        "long context.",
    )
    # -1: the middle layer, min(L, L // 2 + 2), the XTREME reference's choice.
    retrieval_layer: Annotated[Integer, Means(-1, "the middle layer")] = Field(
        default=-1,
        ge=-1,
        description="Retrieval targets: the hidden layer whose mean-pooled states "
        "embed a sentence.",
    )
    eval_every: Annotated[Integer, Means(0, "once an epoch")] = Field(
        default=0,
        ge=0,
        description="Evaluate on English validation every this many steps.",
    )
    selection_examples: Annotated[Integer, Means(0, "all")] = Field(
        default=0,
        ge=0,
        description="Model selection: English validation examples scored at "
        "each check (the first N, the same at every check).",
    )
    patience: Annotated[Integer, Means(0, "no early stopping")] = Field(
        default=0,
        ge=0,
        description="Stop training after this many checks without a better "
        "validation score; the best checkpoint is kept.",
    )
    log_every: Integer = Field(
        default=10,
        ge=1,
        description="Emit a step event every this many optimizer steps.",
    )
    max_train_examples: Annotated[Integer, Means(0, "all")] = Field(
        default=0, ge=0, description="Use at most this many training examples."
    )
    max_eval_examples: Annotated[Integer, Means(0, "all")] = Field(
        default=0,
        ge=0,
        description="Use at most this many validation/test examples per language.",
    )

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (keys, stored metadata)."""
        return {name: getattr(self, name) for name in HPARAM_NAMES}


def _declared_fields(cls: type) -> dict[str, FieldInfo]:
    """A pydantic dataclass's fields, in the order they are declared."""
    if not is_pydantic_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a pydantic dataclass")
    return cls.__pydantic_fields__


HPARAM_NAMES = tuple(_declared_fields(StageHparams))


def _optional(fields: dict[str, FieldInfo]) -> dict[str, Any]:
    """The same fields, each optional (None when absent), bounds kept."""
    out: dict[str, Any] = {}
    for name, info in fields.items():
        bounded = (info.annotation, *info.metadata)
        out[name] = (
            Annotated[bounded] | None,
            Field(None, description=info.description),
        )
    return out


if TYPE_CHECKING:

    class HparamOverrides(Table):
        """Built below at run time: StageHparams' fields, each optional."""

else:
    HparamOverrides = create_model(
        "HparamOverrides",
        __base__=Table,
        __doc__="[train.tasks.<task>]: some hyperparameters, for one task's stages.",
        **_optional(_declared_fields(StageHparams)),
    )


class TrainTable(Table):
    """[train]: hyperparameters shared by both stages (any of StageHparams'),
    [train.intermediate] / [train.target] per stage, [train.tasks.<task>] per
    task (e.g. a longer max_seq_length for QA)."""

    intermediate: StageHparams = Field(
        default_factory=StageHparams, description="The intermediate stage's values."
    )
    target: StageHparams = Field(
        default_factory=StageHparams, description="The target stage's values."
    )
    tasks: dict[str, HparamOverrides] = Field(
        default_factory=dict,
        description="Per task: values for every stage that trains or reads it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _share(cls, data: Any) -> Any:
        # A shared value is validated as each stage's value, so a bad one is
        # named where it takes effect (train.intermediate.batch_size); keys
        # that are no hyperparameter stay here to be refused as unknown.
        if not isinstance(data, dict):
            return data
        shared = {k: v for k, v in data.items() if k in HPARAM_NAMES}
        if not shared:
            return data
        out = {k: v for k, v in data.items() if k not in shared}
        for stage in STAGES:
            own = data.get(stage, {})
            out[stage] = {**shared, **own} if isinstance(own, dict) else own
        return out

    @classmethod
    def allowed_keys(cls) -> tuple[str, ...]:
        return (*HPARAM_NAMES, *cls.model_fields)


def shared_origin(loc: tuple) -> tuple | None:
    """Where a stage's value may be written instead: train.intermediate.x can
    come from [train]'s x (see TrainTable._share)."""
    if len(loc) == 3 and loc[0] == "train" and loc[1] in STAGES:
        return ("train", loc[2])
    return None
