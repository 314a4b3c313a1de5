"""The experiment file's schema, declared once.

Every table and key of an experiment file with its type, default, bounds and
meaning: the file itself here, its training tables in engine.config.hparams
and its [generation] table in engine.config.generation. What needs neither
the task registry nor the file system is checked by these declarations:
types, bounds, fixed choices, and the rules between keys of one table
(n_samples > 1 needs do_sample). Task names, languages, data files and the
model are checked against the registry by engine.config.references.

Light module: pydantic and the kinds table, no torch.
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from engine.config.generation import GenerationSettings
from engine.config.hparams import TrainTable
from engine.config.values import (
    LISTED_ONCE,
    STRING_AS_LIST,
    Boolean,
    Integer,
    Names,
    Number,
    SafeName,
    Seeds,
    SomeNames,
    SomeSafeNames,
    Table,
    Text,
    TrackingUri,
    WorkspaceFolder,
)
from engine.errors import did_you_mean
from engine.tasks.kinds import KINDS
from engine.tasks.spec import Role

BUILTIN_MODELS = ("xlt-tiny", "xlt-tiny-causal")  # encoder; causal LM for code
DEVICES = ("auto", "cpu", "cuda", "mps")
Precision = Literal["fp32", "bf16", "fp16"]
# Where stages run: worker processes on this machine, or tasks on a Ray cluster.
Executor = Literal["local", "ray"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
PromptFormat = Literal["native", "shared"]  # engine.codegen.prompts
EvalSplit = Literal["validation", "test"]
EVAL_SPLITS: tuple[EvalSplit, ...] = get_args(EvalSplit)
EvalSplits = Annotated[
    tuple[EvalSplit, ...], STRING_AS_LIST, LISTED_ONCE, Field(min_length=1)
]
Sampling = Literal["proportional", "capped", "temperature"]
SAMPLINGS: tuple[Sampling, ...] = get_args(Sampling)
# The intermediate choice "no intermediate stage": its rows in every table are
# the reference the others are compared with. No task or group may take it.
BASELINE = "baseline"


# -- tasks and data -------------------------------------------------------------


def _path_or_table(value: Any) -> str:
    return "per-language" if isinstance(value, dict) else "path"


DataFiles = Annotated[
    Annotated[Text, Tag("path")] | Annotated[dict[SafeName, Text], Tag("per-language")],
    Discriminator(_path_or_table),
]
"""One split's files: a path (the training language's file), or a table
language = path. Relative paths are read from the config file's folder."""


class FilesTable(Table):
    """A task's data files per split."""

    train: DataFiles | None = Field(None, description="Training data (train_language).")
    validation: DataFiles | None = Field(None, description="Validation data.")
    test: DataFiles | None = Field(None, description="Test data per language.")


if TYPE_CHECKING:
    KindName = str  # one of the registry's kinds, known at run time
else:
    KindName = Literal[tuple(KINDS)]
Roles = Annotated[tuple[Role, ...], STRING_AS_LIST, LISTED_ONCE, Field(min_length=1)]
"""intermediate and/or target, at least one."""


class CustomTaskTable(Table):
    """[tasks.<name>]: a task of your own, read from local files. Defaults that
    depend on the kind (metric, row format, text fields, label field) come
    from engine.tasks.kinds."""

    kind: KindName = Field(description="What the task is.")
    labels: Annotated[Names, Field(min_length=2)] | None = Field(
        None, description="Class or tag names (classification, tagging)."
    )
    text_fields: SomeNames | None = Field(
        None, description="Classification: the text columns of a row."
    )
    row_format: Text | None = Field(
        None, description="Other kinds: the layout of a row (engine.data.adapters)."
    )
    label_field: Text | None = Field(None, description="The label column.")
    languages: SomeSafeNames | None = Field(
        None, description="Languages evaluated (default: those with test files)."
    )
    train_language: SafeName = Field("en", description="The training data's language.")
    train_languages: SomeSafeNames | None = Field(
        None,
        description="Translated training data: the languages whose files.train "
        "files are concatenated into the training data (default: every language "
        "files.train lists; validation stays train_language's).",
    )
    metric: Text | None = Field(None, description="What a score is.")
    roles: Roles | None = Field(
        None, description="intermediate and/or target (default: from the files)."
    )
    files: FilesTable = Field(description="The data files.")


class DataTable(Table):
    """[data.<task>]: a registered task read from a hub mirror or revision,
    from local files in its row format, or from the folder of a manual
    download."""

    path: Text | None = Field(
        None, description="A hub id, a local mirror, a package: or a folder."
    )
    revision: Text | None = Field(None, description="A hub dataset's revision.")
    files: FilesTable | None = Field(None, description="Local files per split.")
    train_languages: SomeSafeNames | None = Field(
        None,
        description="Translate-train: the languages whose training data is "
        "concatenated (the hub's, or files.train's; validation stays English).",
    )


class GroupTable(Table):
    """[groups.<name>]: intermediate tasks trained together on one encoder, one
    head each; every optimizer step draws one task: proportional to its
    training examples, to min(examples, cap), or to examples^(1/temperature)."""

    tasks: Names = Field(description="The tasks trained together.")
    sampling: Sampling = Field(
        "proportional", description="How a step's task is drawn."
    )
    # Checked against `sampling` even when left out (capped needs one).
    cap: Integer = Field(
        0, ge=0, validate_default=True, description='sampling = "capped": the cap.'
    )
    temperature: Number = Field(
        1.0, gt=0, description='sampling = "temperature": the temperature.'
    )

    @field_validator("tasks")
    @classmethod
    def _several(cls, tasks: tuple) -> tuple:
        if len(tasks) < 2:
            raise ValueError("a group needs at least two tasks")
        return tasks

    @field_validator("cap")
    @classmethod
    def _capped_needs_cap(cls, cap: int, info: ValidationInfo) -> int:
        if info.data.get("sampling") == "capped" and cap == 0:
            raise ValueError('sampling = "capped" needs cap = <examples>')
        return cap


# -- the file ---------------------------------------------------------------------


def _device(value: Any) -> Any:
    # "cuda:1" as well as the names: not a Literal.
    choices = (*DEVICES, "cuda:N")
    if isinstance(value, str) and (
        value in DEVICES or (value.startswith("cuda:") and value[5:].isdigit())
    ):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
    raise ValueError(
        f"'{value}' is not one of {', '.join(choices)}"
        f"{did_you_mean(value, (*DEVICES, 'cuda:0'))}"
    )


def devices_value(value: Any) -> Any:
    # One worker per entry (engine.executors.local); "all" is every visible
    # GPU, counted when the run starts (the config layer never imports torch).
    if value == "all":
        return ("all",)
    if isinstance(value, str):
        try:
            _device(value)
            hint = f'; one device is ["{value}"] (or device = "{value}")'
        except ValueError:
            hint = did_you_mean(value, ("all",))
        raise ValueError(
            'expected a list such as ["cuda:0", "cuda:1"] or "all", '
            f"got {value!r}{hint}"
        )
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(
            'expected a non-empty list of devices (["cuda:0", "cuda:1"], '
            f'["cpu", "cpu"]) or "all", got {value!r}'
        )
    for item in value:
        _device(item)
        if item in ("auto", "cuda"):
            # A worker is pinned to one device: a name that picks one for
            # itself would put every worker on the same GPU.
            raise ValueError(
                f"'{item}' names no single device; list each one, e.g. "
                '["cuda:0", "cuda:1"] or ["cpu", "cpu"]'
            )
    return tuple(value)


class ControlsTable(Table):
    """[controls] of a code experiment (engine.pipeline plans each as stages
    of its own, labelled "control:..." or "<choice>:<control>" in the results)."""

    untrained: Boolean = Field(
        False,
        description="Score the base model without any training (no "
        "intermediate, no target training).",
    )
    non_code_sft: SafeName | None = Field(
        None,
        description="A task of non-code text (prompt -> text, a causal-LM "
        "task) trained as an intermediate stage with the same steps and batch "
        "as the intermediate it controls: a same-size SFT that teaches no code.",
    )
    non_code_sft_matches: SafeName | None = Field(
        None,
        description="The intermediate task whose training values (max_steps, "
        "batch size) the non-code SFT copies; default: the only intermediate.",
    )
    signature_only: Boolean = Field(
        False,
        description="Also score every code target from a prompt with no "
        "natural-language description (engine.codegen.prompts).",
    )
    translate_test: Boolean = Field(
        False,
        description="Also score the English original of a translated problem "
        "set (HumanEval for HumanEval-XL, JHumanEval, HumanEval-ru) on the "
        "same problems: the translate-test oracle.",
    )


# Trackers a run's live metrics can go to (engine.trackers); each needs its
# own optional extra, pip install 'xlt[<name>]'.
Tracker = Literal["tensorboard", "mlflow", "wandb"]
TRACKERS: tuple[Tracker, ...] = get_args(Tracker)
Trackers = Annotated[tuple[Tracker, ...], STRING_AS_LIST, LISTED_ONCE]
WandbMode = Literal["offline", "online", "disabled"]


class ReportTable(Table):
    """[report]: trackers that receive the run's live metrics, besides its own
    events.jsonl. Off by default; a tracker that fails mid-run is dropped with
    a warning, never failing the run."""

    to: Trackers = Field(
        (),
        description="Trackers to forward to: tensorboard, mlflow, wandb "
        "(each an optional extra: pip install 'xlt[tensorboard]').",
    )
    tensorboard_dir: WorkspaceFolder | None = Field(
        None,
        description="TensorBoard log folder; relative to the workspace "
        "(default: runs/<id>/tensorboard in the workspace).",
    )
    # A file store in the workspace: nothing leaves the machine unless the
    # user names a server.
    mlflow_tracking_uri: TrackingUri | None = Field(
        None,
        description="MLflow tracking URI, or a folder relative to the "
        "workspace (default: the file store mlruns/ in the workspace).",
    )
    mlflow_experiment: Text | None = Field(
        None, description="MLflow experiment name (default: the run's name)."
    )
    wandb_project: Text = Field("xlt", description="W&B project.")
    # offline by default: wandb's own default (online) would send the run to
    # wandb.ai and stop for a login on a box without one; `wandb sync` uploads
    # an offline run later (wandb docs, "Track experiments offline").
    wandb_mode: WandbMode = Field(
        "offline", description="W&B mode: offline (default), online, disabled."
    )


class ExperimentFile(Table):
    """An experiment file as written: what to train, in which order, and how."""

    name: Text | None = Field(None, description="The run's name (default: file's).")
    model: Text = Field(
        description="A local folder, a hub id, or a built-in (xlt-tiny)."
    )
    intermediate: Names = Field(
        (), description="Intermediate tasks or groups, each a choice of its own."
    )
    targets: SomeNames = Field(description="Target tasks, scored in every language.")
    languages: dict[str, SomeSafeNames] = Field(
        default_factory=dict,
        description="Per target: the languages to score (default: all of them).",
    )
    # Choices are compared on validation and test is scored for the final
    # system only (the XTREME practice, Hu et al. 2020; their leaderboard
    # takes test predictions of one system per submission).
    eval_splits: EvalSplits | None = Field(
        None,
        description="Splits every target is scored on: validation and/or test "
        "(default: each target's own, `xlt-engine tasks`).",
    )
    keep_target_models: Boolean = Field(
        True,
        description="Keep each trained target model, so a language added later "
        "costs one evaluation, not a training (one model's size on disk each).",
    )
    # Code targets: the English training data of the target stage (the
    # X-STILTs protocol, Phang et al. 2020 section 3, applied to code). A code
    # target not named here is evaluation only (no target training).
    targets_training: dict[str, SafeName] = Field(
        default_factory=dict,
        description="Per code target: the English code task its target stage "
        'trains on first (e.g. humaneval-xl = "mbpp"); unnamed code targets '
        "are evaluated only.",
    )
    controls: ControlsTable = Field(
        default_factory=ControlsTable, description="[controls] (code targets)"
    )
    prompt_format: PromptFormat = Field(
        "native",
        description="Code prompts: native (each task's own) or shared (one "
        "instruction format for every task, so format learning is not read as "
        "transfer; engine.codegen.prompts).",
    )
    seeds: Seeds = Field((42,), description="Every stage runs once per seed.")
    baseline: Boolean = Field(
        True, description="Also run the targets with no intermediate stage."
    )
    device: Annotated[str, BeforeValidator(_device)] = Field(
        "auto", description="Where to train: auto, cpu, cuda, cuda:N or mps."
    )
    devices: Annotated[tuple[str, ...] | None, BeforeValidator(devices_value)] = Field(
        None,
        description='Run stages side by side, one worker per device: ["cuda:0", '
        '"cuda:1"], ["cpu", "cpu"], or "all" (every visible GPU). Replaces '
        '`device` (leave that out, or "auto").',
    )
    retries: Integer = Field(
        1,
        ge=0,
        le=10,
        description="With several devices: how often a stage whose worker "
        "process died (killed, out of memory) is run again on another worker.",
    )
    # Data parallelism inside one stage (torch DistributedDataParallel), for
    # the few stages that dominate a grid (MNLI, SQuAD on XLM-R Large).
    gpus_per_stage: Integer = Field(
        1,
        ge=1,
        le=64,
        description="Devices that train one stage together (torch DDP): "
        "`devices` is grouped this many at a time, one worker per group. "
        "Needs `devices` (or --devices) with a multiple of this many entries.",
    )
    executor: Executor = Field(
        "local",
        description="Where stages run: local (this machine: one worker per "
        "device) or ray (a Ray cluster; pip install 'xlt[ray]').",
    )
    ray_address: Text | None = Field(
        None,
        description='With executor = "ray": the cluster to join (host:port, '
        "or auto for the one `ray start` runs here); default: a Ray instance "
        "started for this run on this machine.",
    )
    precision: Precision = Field("fp32", description="Training precision.")
    train: TrainTable = Field(default_factory=TrainTable, description="[train]")
    generation: GenerationSettings = Field(
        default_factory=GenerationSettings, description="[generation]"
    )
    groups: dict[SafeName, GroupTable] = Field(
        default_factory=dict, description="Multi-task intermediate choices."
    )
    data: dict[str, DataTable] = Field(
        default_factory=dict, description="Where registered tasks' data is read."
    )
    tasks: dict[SafeName, CustomTaskTable] = Field(
        default_factory=dict, description="Tasks of your own."
    )
    allow_code_execution: Boolean = Field(
        False, description="Run generated code to score it (pass@k)."
    )
    allow_contamination: Boolean = Field(
        False, description="Score code targets that overlap intermediate data."
    )
    # Off by default, as in transformers itself: a model folder's own Python
    # (config.json `auto_map`) runs with the user's rights when loaded.
    trust_remote_code: Boolean = Field(
        False,
        description="Load models whose folder ships its own Python code "
        "(config.json auto_map), running that code; recorded in the run.",
    )
    report: ReportTable = Field(
        default_factory=ReportTable, description="[report] live-metric trackers"
    )

    @field_validator("devices")
    @classmethod
    def _one_way_to_name_devices(
        cls, devices: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        device = info.data.get("device", "auto")
        if devices is not None and device != "auto":
            raise ValueError(
                f"given with device = {device!r}; keep one of the two (devices "
                f"= [{device!r}] is the same as device = {device!r})"
            )
        return devices

    @field_validator("ray_address")
    @classmethod
    def _address_needs_ray(
        cls, address: str | None, info: ValidationInfo
    ) -> str | None:
        if address is not None and info.data.get("executor", "local") != "ray":
            raise ValueError(
                'only with executor = "ray" (the local executor joins no cluster)'
            )
        return address

    @field_validator("baseline")
    @classmethod
    def _something_to_run(cls, baseline: bool, info: ValidationInfo) -> bool:
        if not baseline and info.data.get("intermediate") == ():
            raise ValueError(
                "nothing to run: no intermediate tasks and baseline = false"
            )
        return baseline
