"""Cross-checks that need the task registry or the disk, in one place.

The schema has checked every value's type and bounds; what is left is whether
the names mean something: tasks (registered or custom) and their roles, a
target's languages, group members, data files (read from the config file's
folder), the model (a folder, a hub id or a built-in), and one model family
per experiment. Kind facts (metrics, row formats, text fields, labels, file
suffixes, family) come from engine.tasks.kinds. The result is the resolved
ExperimentConfig.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from engine.config.experiment import ExperimentConfig, TaskGroup
from engine.config.messages import not_one_of
from engine.config.model_files import (
    cached_hub_file,
    model_json,
    remote_code_message,
)
from engine.config.schema import (
    BASELINE,
    BUILTIN_MODELS,
    ControlsTable,
    CustomTaskTable,
    DataTable,
    ExperimentFile,
    FilesTable,
    GroupTable,
)
from engine.data.overrides import (
    manual_data_message,
    resolve_manual_folder,
    with_local_files,
)
from engine.errors import InputError, did_you_mean
from engine.tasks import REGISTRY, get_task
from engine.tasks.kinds import CAUSAL_LM, EMBED_AND_SCORE, ENCODER, kind_info
from engine.tasks.spec import (
    CompositeSource,
    HubSource,
    LocalSource,
    ManualSource,
    Role,
    TaskSpec,
)

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
# Where XTREME's translate-train data lives (google-research/xtreme README,
# "Translations"): XNLI, PAWS-X, SQuAD v1.1 (for XQuAD and MLQA), TyDiQA-GoldP.
_TRANSLATIONS = (
    " (XTREME publishes translate-train data: "
    "https://console.cloud.google.com/storage/browser/xtreme_translations)"
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# What a task of each model family needs, for the one-family message.
_FAMILY_NEEDS = {ENCODER: "an encoder with task heads", CAUSAL_LM: "a causal LM"}


def _exists(path: Path, loc: tuple) -> bool:
    """Path.exists() that reads a path the system cannot look up (too long,
    a loop of links) as a problem with the value, not a crash."""
    try:
        return path.exists()
    except OSError as exc:
        raise ConfigProblem(
            loc, f"'{str(path)[:80]}...' cannot be used as a path ({exc.strerror})"
        ) from None


class ConfigProblem(Exception):
    """A problem with the value at `loc` (a key path such as ("targets",))."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def resolve(file: ExperimentFile, source: Path) -> ExperimentConfig:
    """The experiment a validated file describes; ConfigProblem when a name
    does not resolve."""
    return _Resolver(source).experiment(file)


def _one_device(devices: tuple[str, ...] | None) -> str | None:
    """A `devices` list of one is `device`: the in-process path, as before."""
    if devices and len(devices) == 1 and devices != ("all",):
        return devices[0]
    return None


class _Resolver:
    def __init__(self, source: Path):
        self.file = source
        self.base = source.parent.resolve()
        self.tasks: dict[str, TaskSpec] = {}  # custom tasks and [data] overrides

    def lookup(self, name: str, loc: tuple) -> TaskSpec:
        try:
            return get_task(name, self.tasks)
        except InputError as exc:  # "unknown task 'xnil'; did you mean 'xnli'?"
            raise ConfigProblem(loc, str(exc)) from None

    def experiment(self, f: ExperimentFile) -> ExperimentConfig:
        custom = {name: self.custom_task(name, t) for name, t in f.tasks.items()}
        overrides = {name: self.data(name, d) for name, d in f.data.items()}
        self.tasks = {**overrides, **custom}
        groups = {name: self.group(name, g) for name, g in f.groups.items()}
        for choice in f.intermediate:
            if choice not in groups:
                self.check_intermediate(
                    self.lookup(choice, ("intermediate",)), ("intermediate",)
                )
        for name in f.targets:
            self.check_target(self.lookup(name, ("targets",)))
        languages = self.languages(f.languages, f.targets)
        eval_splits = self.eval_splits(f.eval_splits, f.targets, languages)
        for name in f.train.tasks:
            self.lookup(name, ("train", "tasks", name))
        model = self.model(f.model, f.trust_remote_code)
        self.one_model_family(f.intermediate, groups, f.targets)
        return ExperimentConfig(
            name=f.name or self.file.stem,
            model=model,
            intermediate=f.intermediate,
            targets=f.targets,
            languages=languages,
            seeds=f.seeds,
            baseline=f.baseline,
            device=_one_device(f.devices) or f.device,
            devices=() if _one_device(f.devices) else (f.devices or ()),
            retries=f.retries,
            executor=f.executor,
            ray_address=f.ray_address,
            gpus_per_stage=f.gpus_per_stage,
            precision=f.precision,
            intermediate_hparams=f.train.intermediate,
            target_hparams=f.train.target,
            tasks=self.tasks,
            source_file=str(self.file),
            groups=groups,
            task_overrides={
                name: table.model_dump(exclude_unset=True)
                for name, table in f.train.tasks.items()
            },
            generation=f.generation,
            allow_code_execution=f.allow_code_execution,
            allow_contamination=f.allow_contamination,
            eval_splits=eval_splits,
            eval_splits_chosen=f.eval_splits,
            keep_target_models=f.keep_target_models,
            targets_training=self.targets_training(f.targets_training, f.targets),
            prompt_format=f.prompt_format,
            controls=self.controls(f, groups),
            trust_remote_code=f.trust_remote_code,
            report=f.report,
        )

    # -- roles, languages, groups, family -------------------------------------
    def check_intermediate(self, task: TaskSpec, loc: tuple) -> None:
        # A task whose data must be fetched by hand (CCG) is refused when a run
        # starts, not here: --dry-run still shows the plan and what it costs.
        if "intermediate" not in task.roles:
            raise ConfigProblem(
                loc,
                f"task '{task.name}' has no English training data to use as an "
                "intermediate task",
            )

    def check_target(self, task: TaskSpec) -> None:
        if "target" not in task.roles:
            known = [
                n for n, t in {**REGISTRY, **self.tasks}.items() if "target" in t.roles
            ]
            raise ConfigProblem(
                ("targets",),
                f"task '{task.name}' is an intermediate-only task (no test data "
                f"in other languages); targets are: {', '.join(known)}",
            )

    def languages(self, table, targets) -> dict[str, tuple[str, ...]]:
        out = {}
        for target, chosen in table.items():
            loc = ("languages", target)
            if target not in targets:
                raise ConfigProblem(
                    loc,
                    f"'{target}' is not one of the targets"
                    f"{did_you_mean(target, targets)} (targets: {', '.join(targets)})",
                )
            task = get_task(target, self.tasks)
            for lang in chosen:
                if lang not in task.languages:
                    raise ConfigProblem(
                        loc,
                        f"unknown language '{lang}' for task '{target}'"
                        f"{did_you_mean(lang, task.languages)} "
                        f"(available: {', '.join(task.languages)})",
                    )
            out[target] = chosen
        for target in targets:
            out.setdefault(target, get_task(target, self.tasks).languages)
        return out

    def controls(self, f: ExperimentFile, groups) -> ControlsTable:
        """[controls]: code targets to control; the non-code SFT a causal-LM
        task that is not a code benchmark, matched to an intermediate task
        whose max_steps fixes how long both train."""
        from engine.tasks.code import ENGLISH_ORACLES

        c = f.controls
        if c == ControlsTable():
            return c
        code_targets = [
            t for t in f.targets if get_task(t, self.tasks).kind == "code_generation"
        ]
        if not code_targets:
            raise ConfigProblem(
                ("controls",),
                "the controls are for code targets; this experiment has none "
                f"(targets: {', '.join(f.targets)})",
            )
        if c.translate_test and not any(t in ENGLISH_ORACLES for t in code_targets):
            raise ConfigProblem(
                ("controls", "translate_test"),
                "no target has an English original to test on (translate-test "
                f"oracles exist for: {', '.join(ENGLISH_ORACLES)})",
            )
        if c.non_code_sft is not None:
            loc = ("controls", "non_code_sft")
            task = self.lookup(c.non_code_sft, loc)
            if task.name in REGISTRY and task.kind == "code_generation":
                raise ConfigProblem(
                    loc,
                    f"'{task.name}' is a code benchmark; the control trains on "
                    "non-code text: a task of your own ([tasks.<name>], kind = "
                    '"code_generation", row_format = "code", prose in prompt '
                    "and solution)",
                )
            if task.kind != "code_generation" or "intermediate" not in task.roles:
                raise ConfigProblem(
                    loc,
                    f"'{task.name}' is a {task.kind} task; the same-size SFT "
                    "trains the causal LM on prompt -> text (kind = "
                    '"code_generation") with English training data',
                )
            matched = c.non_code_sft_matches
            mloc = ("controls", "non_code_sft_matches")
            if matched is None:
                if len(f.intermediate) != 1:
                    raise ConfigProblem(
                        mloc,
                        "name the intermediate task the non-code SFT matches "
                        f"(one of: {', '.join(f.intermediate) or 'none'})",
                    )
                matched = f.intermediate[0]
            if matched not in f.intermediate or matched in groups:
                raise ConfigProblem(
                    mloc,
                    f"'{matched}' is not one of the intermediate tasks"
                    f"{did_you_mean(matched, f.intermediate)}",
                )
            override = f.train.tasks.get(matched)
            steps = f.train.intermediate.max_steps
            if override is not None and "max_steps" in override.model_fields_set:
                steps = getattr(override, "max_steps")  # noqa: B009 (built at run time)
            if not steps:
                raise ConfigProblem(
                    mloc,
                    f"'{matched}' trains by epochs: set max_steps for it "
                    f"([train.tasks.{matched}] or [train.intermediate]) so the "
                    "control trains the same number of steps and examples",
                )
            return c.model_copy(update={"non_code_sft_matches": matched})
        return c

    def targets_training(self, table: dict[str, str], targets) -> dict[str, str]:
        """[targets_training]: each key a code target of this experiment, each
        value a code task with English training data."""
        for target, train_name in table.items():
            loc = ("targets_training", target)
            if target not in targets:
                raise ConfigProblem(
                    loc,
                    f"'{target}' is not one of the targets"
                    f"{did_you_mean(target, targets)} (targets: {', '.join(targets)})",
                )
            task = get_task(target, self.tasks)
            if task.kind != "code_generation":
                raise ConfigProblem(
                    loc,
                    f"'{target}' is a {task.kind} target; [targets_training] "
                    "names the training data of code targets only (other "
                    "targets train on their own English data)",
                )
            train = self.lookup(train_name, loc)
            if train.kind != "code_generation" or "intermediate" not in train.roles:
                usable = [
                    n
                    for n, t in {**REGISTRY, **self.tasks}.items()
                    if t.kind == "code_generation" and "intermediate" in t.roles
                ]
                raise ConfigProblem(
                    loc,
                    f"task '{train_name}' is not a code task with English "
                    f"training data{did_you_mean(train_name, usable)} "
                    f"(usable: {', '.join(usable)})",
                )
        return dict(table)

    def eval_splits(
        self, chosen: tuple[str, ...] | None, targets, languages
    ) -> dict[str, tuple[str, ...]]:
        """Per target, the splits it is scored on: the chosen ones it offers
        in at least one of its chosen languages (each scored in the
        languages that have it: XTREME has no XQuAD dev set but SQuAD's
        English one, engine.tasks.qa), or its own split. A target that offers
        none of the chosen splits is an error."""
        out: dict[str, tuple[str, ...]] = {}
        for target in targets:
            task = get_task(target, self.tasks)
            if chosen is None:
                out[target] = (task.eval_split,)
                continue
            offered = tuple(
                split
                for split in chosen
                if any(task.source.has(split, lang) for lang in languages[target])
            )
            if not offered:
                have = [
                    split
                    for split in ("validation", "test")
                    if any(task.source.has(split, lg) for lg in languages[target])
                ]
                raise ConfigProblem(
                    ("eval_splits",),
                    f"target '{target}' has no {' or '.join(chosen)} split in "
                    "its chosen languages"
                    + (f"; it offers {', '.join(have)}" if have else ""),
                )
            out[target] = offered
        return out

    def group(self, name: str, table: GroupTable) -> TaskGroup:
        """[groups.<name>]: intermediate tasks trained together (multi-task)."""
        loc = ("groups", name)
        if name in REGISTRY or name in self.tasks:
            raise ConfigProblem(loc, f"'{name}' is a task name; name the group apart")
        if name == BASELINE:
            raise ConfigProblem(
                loc,
                f"'{BASELINE}' names the runs without an intermediate stage; "
                "name the group apart",
            )
        for member in table.tasks:
            task = self.lookup(member, (*loc, "tasks"))
            self.check_intermediate(task, (*loc, "tasks"))
        return TaskGroup(name=name, **dict(table))

    def one_model_family(self, intermediate, groups, targets) -> None:
        """Encoder tasks train an encoder with heads, code tasks a causal LM:
        one experiment is one or the other (engine.tasks.kinds' family)."""
        names = [
            m for c in intermediate for m in (groups[c].tasks if c in groups else (c,))
        ]
        where = {n: ("intermediate",) for n in names} | {
            t: ("targets",) for t in targets
        }
        kinds = {n: self.lookup(n, where[n]).kind for n in where}
        first = next(iter(kinds))
        family = kind_info(kinds[first]).family
        for name, kind in kinds.items():
            other = kind_info(kind).family
            if other != family:
                raise ConfigProblem(
                    where[name],
                    f"task '{name}' needs {_FAMILY_NEEDS.get(other, other)}, but "
                    f"'{first}' is a {kinds[first]} task "
                    f"({_FAMILY_NEEDS.get(family, family)}); put them in separate "
                    "experiments",
                )

    # -- the model ----------------------------------------------------------
    def model(self, text: str, trust_remote_code: bool) -> str:
        if text in BUILTIN_MODELS:
            return text
        resolved = self.model_reference(text)
        try:
            for filename in ("config.json", "tokenizer_config.json"):
                model_json(resolved, filename)  # parses, or names file and line
            code = remote_code_message(resolved)
        except InputError as exc:
            raise ConfigProblem(("model",), str(exc)) from None
        if code and not trust_remote_code:
            raise ConfigProblem(("model",), code)
        # Its weights (safetensors only) are checked when the run loads it,
        # still before the run is registered (engine.models.loading).
        return resolved

    def model_reference(self, text: str) -> str:
        """A local model folder (absolute) or a hub id; ConfigProblem if it
        is neither."""
        looks_like_path = text.startswith(("/", ".", "~")) or text.count("/") > 1
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = self.base / p
        if _exists(p, ("model",)):
            if not (p / "config.json").is_file():
                raise ConfigProblem(
                    ("model",),
                    f"'{p}' is not a model directory (no config.json); expected a "
                    "folder written by save_pretrained, a hub id such as "
                    "'FacebookAI/xlm-roberta-base', or 'xlt-tiny'",
                )
            return str(p)
        if looks_like_path or not _HUB_ID.match(text):
            raise ConfigProblem(
                ("model",),
                f"model directory '{p}' does not exist; expected a local folder, a "
                "hub id such as 'FacebookAI/xlm-roberta-base', or the built-in "
                f"'xlt-tiny'{did_you_mean(text, BUILTIN_MODELS)}",
            )
        near = did_you_mean(text, BUILTIN_MODELS)
        if near and "/" not in text and cached_hub_file(text, "config.json") is None:
            # "xlt-tiyn" is a typo, not a hub model: said now, not after the
            # hub client's retries (or its offline error) at run time.
            raise ConfigProblem(
                ("model",),
                f"unknown model '{text}'{near} (built-in models: "
                f"{', '.join(BUILTIN_MODELS)}; otherwise a local folder or a hub "
                "id such as 'FacebookAI/xlm-roberta-base')",
            )
        return text  # a hub id, fetched (or found in the hub cache) at run time

    # -- files ----------------------------------------------------------------
    def path(self, text: str, loc: tuple) -> str:
        """An existing file or folder; relative to the config file's folder."""
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = self.base / p
        if not _exists(p, loc):
            near = ""
            if p.parent.is_dir():
                near = did_you_mean(p.name, [c.name for c in p.parent.iterdir()])
            raise ConfigProblem(
                loc,
                f"file '{p}' does not exist{near} "
                "(relative paths are read from the config file's folder)",
            )
        return str(p)

    def task_files(
        self, table: FilesTable, loc: tuple, train_language: str, kind: str
    ) -> dict[tuple[str, str], str]:
        suffixes = (*DATA_SUFFIXES, *kind_info(kind).extra_suffixes)
        files: dict[tuple[str, str], str] = {}
        for split, value in table:
            if value is None:
                continue
            # A bare path is the training language's; a table maps language -> path.
            per_language = value if isinstance(value, dict) else {train_language: value}
            for lang, text in per_language.items():
                key = (*loc, split, lang) if isinstance(value, dict) else (*loc, split)
                resolved = self.path(text, key)
                if Path(resolved).suffix.lower() not in suffixes:
                    raise ConfigProblem(
                        key,
                        f"'{Path(resolved).name}' is not a data file; expected one "
                        f"of {', '.join(suffixes)}",
                    )
                files[(split, lang)] = resolved
        return files

    # -- [data.<task>] ----------------------------------------------------------
    def data(self, name: str, table: DataTable) -> TaskSpec:
        """[data.<task>]: read a registered task from a hub mirror or revision,
        from local files in its row format (files), or, for data fetched by
        hand, from the folder it was put in (path)."""
        loc = ("data", name)
        if name not in REGISTRY:
            raise ConfigProblem(
                loc, f"unknown task '{name}'{did_you_mean(name, REGISTRY)}"
            )
        task = REGISTRY[name]
        if table.files is not None or isinstance(task.source, ManualSource):
            on_disk = self.local_data(task, table, loc)
            return self.translated(on_disk, table.train_languages, loc)
        if not isinstance(task.source, HubSource):
            if table.path is not None and isinstance(task.source, CompositeSource):
                raise ConfigProblem(
                    (*loc, "path"),
                    f"task '{name}' is read from several datasets "
                    f"({task.source.describe()}); one path cannot replace them: "
                    f"give local files instead ([data.{name}.files])",
                )
            raise ConfigProblem(
                loc, f"task '{name}' ships its own data; there is nothing to set"
            )
        source = task.source
        if table.path is not None:
            text = table.path
            local = Path(text).expanduser()
            if not local.is_absolute():
                local = self.base / local
            if _exists(local, (*loc, "path")):
                text = str(local)
            elif text.startswith(("/", ".", "~")):
                self.path(text, (*loc, "path"))  # raises with a hint
            source = dataclasses.replace(source, path=text)
        if table.revision is not None:
            if Path(source.path).is_dir():
                raise ConfigProblem(
                    (*loc, "revision"),
                    "a revision applies to hub datasets; the local folder "
                    f"'{source.path}' has none (drop 'revision')",
                )
            source = dataclasses.replace(source, revision=table.revision)
        task = dataclasses.replace(task, source=source)
        return self.translated(task, table.train_languages, loc)

    def local_data(self, task: TaskSpec, table: DataTable, loc: tuple) -> TaskSpec:
        """[data.<task>] files = {...}, or path = the folder of a manual task."""
        if table.revision is not None or (table.path and table.files):
            raise ConfigProblem(
                loc,
                "give 'files' (local files) or 'path' (a folder), not both, and "
                "no 'revision' with local data",
            )
        try:
            if table.files is not None:
                files = self.task_files(
                    table.files, (*loc, "files"), task.train_language, task.kind
                )
            elif table.path is not None:
                folder = self.path(table.path, (*loc, "path"))
                files = resolve_manual_folder(task, folder)
            else:
                raise InputError(manual_data_message(task))
            return with_local_files(task, files)
        except InputError as exc:
            raise ConfigProblem(loc, str(exc)) from None

    # -- [tasks.<name>] ---------------------------------------------------------
    def custom_task(self, name: str, t: CustomTaskTable) -> TaskSpec:
        loc = ("tasks", name)
        if name in REGISTRY:
            raise ConfigProblem(
                loc,
                f"'{name}' is a built-in task; give the custom task another name, "
                f"or use [data.{name}] to read the built-in one from local files",
            )
        if name == BASELINE:
            raise ConfigProblem(
                loc,
                f"'{BASELINE}' names the runs without an intermediate stage; "
                "give the custom task another name",
            )
        info = kind_info(t.kind)
        if info.named_labels and t.labels is None:
            raise ConfigProblem(loc, "missing required key 'labels'")
        row_format = self.choice(
            t.row_format or info.row_formats[0], info.row_formats, (*loc, "row_format")
        )
        if info.text_fields:
            # Classification reads named text columns, one per text of a row.
            row_format = ""
            default = ("text",) if info.text_fields == 1 else ("text_a", "text_b")
            text_fields = t.text_fields or default
            if len(text_fields) != info.text_fields:
                raise ConfigProblem(
                    (*loc, "text_fields"),
                    f"a {t.kind} task reads {info.text_fields} text field(s), "
                    f"got {len(text_fields)}",
                )
        else:
            if t.text_fields is not None:
                raise ConfigProblem(
                    (*loc, "text_fields"),
                    f"a {t.kind} task reads rows in its row_format, not text fields "
                    f"(row formats: {', '.join(info.row_formats)})",
                )
            text_fields = ()
        metric = self.choice(
            t.metric or info.metrics[0], info.metrics, (*loc, "metric")
        )
        files = self.task_files(t.files, (*loc, "files"), t.train_language, t.kind)
        test_langs = tuple(lang for (split, lang) in files if split == "test")
        languages = t.languages or test_langs or (t.train_language,)
        for lang in languages:
            if test_langs and ("test", lang) not in files:
                raise ConfigProblem(
                    (*loc, "languages"),
                    f"language '{lang}' has no test file in [tasks.{name}.files.test]"
                    f"{did_you_mean(lang, test_langs)}",
                )
        # Embedding kinds (retrieval) never train: no training file needed.
        trains = info.target_mode != EMBED_AND_SCORE
        training = self.training_languages(
            files, t.train_languages, t.train_language, loc
        )
        has_train = bool(training)
        if trains and not has_train:
            raise ConfigProblem(
                (*loc, "files"),
                f"missing 'train' (the {t.train_language} training file)",
            )
        roles = t.roles
        if roles is None:
            found: tuple[Role, ...] = ("intermediate",) if has_train else ()
            if (test_langs and has_train) or not trains:
                found += ("target",)
            roles = found
        return TaskSpec(
            name=name,
            kind=t.kind,
            family="custom",
            labels=t.labels or (),
            languages=languages,
            roles=roles,
            metric=metric,
            train_language=t.train_language,
            train_languages=training if training != (t.train_language,) else (),
            eval_split="test" if test_langs else "validation",
            description=f"Custom task from {self.file.name}",
            allows_no_answer=metric == "squad_v2",
            source=LocalSource(
                files=files,
                text_fields=text_fields,
                label_field=t.label_field or info.label_field,
                row_format=row_format,
            ),
        )

    # -- translated training data ------------------------------------------------
    def training_languages(
        self,
        files: Mapping[tuple[str, str], str],
        chosen: tuple[str, ...] | None,
        train_language: str,
        loc: tuple,
    ) -> tuple[str, ...]:
        """The languages whose training files are concatenated: `chosen`
        (train_languages), each with a file, or every language files.train
        lists. A training file of a language left out is refused, not
        silently ignored."""
        listed = tuple(lang for split, lang in files if split == "train")
        if chosen is None:
            return listed
        for lang in chosen:
            if lang not in listed:
                raise ConfigProblem(
                    (*loc, "train_languages"),
                    f"language '{lang}' has no training file in [{_dotted(loc)}."
                    f"files.train]{did_you_mean(lang, listed)} (training files: "
                    f"{', '.join(listed) or 'none'})",
                )
        for lang in listed:
            if lang not in chosen:
                raise ConfigProblem(
                    (*loc, "files", "train", lang),
                    f"'{lang}' has a training file but is not one of "
                    f"train_languages ({', '.join(chosen)}); add it there or "
                    "remove the file",
                )
        return chosen

    def translated(
        self, task: TaskSpec, chosen: tuple[str, ...] | None, loc: tuple
    ) -> TaskSpec:
        """A registered task trained on several languages' training data
        (translate-train): local files per language, or the hub's own
        per-language training splits (XNLI's machine-translated MultiNLI,
        PAWS-X's machine-translated training pairs)."""
        source = task.source
        if isinstance(source, LocalSource):
            training = self.training_languages(
                source.files, chosen, task.train_language, loc
            )
        elif chosen is None:
            return task
        elif not isinstance(source, HubSource):
            raise ConfigProblem(
                (*loc, "train_languages"),
                f"task '{task.name}' reads its training data from several "
                "datasets in one language; give the translated training data as "
                f'[data.{task.name}] files.train = {{ <language> = "<file>" }}',
            )
        else:
            training = chosen
            for lang in training:
                self.hub_training_data(task, source, lang, loc)
        if training in ((), (task.train_language,)):
            return task
        return dataclasses.replace(task, train_languages=training)

    def hub_training_data(
        self, task: TaskSpec, source: HubSource, lang: str, loc: tuple
    ) -> None:
        """The hub source holds `lang`'s own training data (not the training
        language's read again under another name)."""
        have = [lg for lg in source.configs if source.has("train", lg)]
        if not source.has("train", lang):
            raise ConfigProblem(
                (*loc, "train_languages"),
                f"task '{task.name}' has no '{lang}' training data on the hub"
                f"{did_you_mean(lang, have)} (it has: {', '.join(have) or 'none'}); "
                f'give it as [data.{task.name}] files.train.{lang} = "<file>"'
                + _TRANSLATIONS,
            )

        def read(lg: str) -> tuple:
            return (source.config_for("train", lg), source.id_prefix("train", lg))

        if lang != task.train_language and read(lang) == read(task.train_language):
            raise ConfigProblem(
                (*loc, "train_languages"),
                f"task '{task.name}' reads every language's training data from "
                f"one {task.train_language} set on the hub ({source.path}, config "
                f"{read(lang)[0]!r}): there is no translated copy to read for "
                f"'{lang}'; give one as [data.{task.name}] files.train.{lang} = "
                '"<file>"' + _TRANSLATIONS,
            )

    def choice(self, value: str, choices: tuple, loc: tuple) -> str:
        if value not in choices:
            raise ConfigProblem(loc, not_one_of(value, choices))
        return value


def _dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)
