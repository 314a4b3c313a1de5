"""`xlt-engine`: the headless command line. Thin: parse, call, print.

Exit codes: 0 success, 1 the run failed (or was cancelled), 2 bad input.
Bad input never shows a traceback: one message that names the file, key or
line, what was expected and the nearest valid value.
"""

from __future__ import annotations

import difflib
import json
import logging
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime
from functools import wraps
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.atomic import disk_full_error, disk_full_message
from engine.control import EXIT_FAILED, EXIT_INPUT
from engine.display import duration_text, run_duration, status_markup
from engine.errors import Cancelled, InputError, did_you_mean
from engine.store import Store
from engine.workspace import Workspace

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="xlt engine: intermediate-task transfer experiments, headless.",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default $XLT_HOME or ~/.xlt)."
    ),
]
# The bootstrap's settings (results --ci, compare); unset: SignificanceSettings'.
ResamplesOpt = Annotated[
    int | None,
    typer.Option("--resamples", help="Bootstrap resamples (default 1000)."),
]
BootstrapSeedOpt = Annotated[
    int | None,
    typer.Option("--bootstrap-seed", help="The bootstrap's seed (default 0)."),
]
CorrectionOpt = Annotated[
    str | None,
    typer.Option(
        "--correction",
        help="holm (default), bh (Benjamini-Hochberg) or none, over each "
        "table's comparisons.",
    ),
]


# `xlt-engine --workspace DIR run CFG`: the global option, before the command.
# The command's own --workspace, after it, wins when both are given.
_global_options: dict[str, str | None] = {"workspace": None}


@app.callback()
def _global(workspace: WorkspaceOpt = None) -> None:
    """xlt engine: intermediate-task transfer experiments, headless."""
    _global_options["workspace"] = workspace


def _workspace(workspace: str | None) -> str | None:
    return workspace if workspace is not None else _global_options["workspace"]


def handles_input_errors(fn: Callable) -> Callable:
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            _print_further_problems(exc)
            raise typer.Exit(code=EXIT_INPUT) from None
        except Exception as exc:
            # A full disk is no bad input, and no bug either: say so, exit 1.
            full = disk_full_error(exc)
            if full is None:
                raise
            err.print(f"[red]error:[/red] {escape(disk_full_message(full))}")
            raise typer.Exit(code=EXIT_FAILED) from None
        finally:
            _print_store_warnings()

    return wrapper


# A config with many bad values: the first is the error line, this many more
# follow it; the rest are counted (fixing the first few often fixes more).
FURTHER_PROBLEMS_SHOWN = 10


def _print_further_problems(exc: InputError) -> None:
    # Loaded already whenever a config was read: no cost to the other commands.
    from engine.config.loading import ConfigProblems

    if not isinstance(exc, ConfigProblems):
        return
    further = exc.further_lines()
    for line in further[:FURTHER_PROBLEMS_SHOWN]:
        err.print(f"  also: {escape(line)}", highlight=False)
    if len(further) > FURTHER_PROBLEMS_SHOWN:
        err.print(
            f"  ... and {len(further) - FURTHER_PROBLEMS_SHOWN} more", highlight=False
        )


# Stores opened by the command running: what reading them skipped (damaged
# lines, an empty runs file) is said once, after the command's own output.
_opened_stores: list[Store] = []


def _open_store(workspace: str | None) -> Store:
    store = Store(Workspace.open(_workspace(workspace)))
    _opened_stores.append(store)
    return store


def _print_table(table: Table) -> None:
    """A table at its full width when piped or redirected: a file or `less -S`
    has no 80 columns to fit, and a cut cell ("fail…") loses data. On a
    terminal rich fits it to the window as usual."""
    if out.is_terminal:
        out.print(table)
        return
    from rich.measure import Measurement

    wide = out.options.update(width=100_000, max_width=100_000)
    needed = Measurement.get(out, wide, table).maximum
    # print(width=) is capped at the console's width: a console of the width.
    Console(
        file=out.file, width=max(needed, out.width), highlight=False, soft_wrap=True
    ).print(table)


def _print_store_warnings() -> None:
    while _opened_stores:
        for message in _opened_stores.pop().warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(message)}")


@app.command()
@handles_input_errors
def run(
    config: Annotated[str, typer.Argument(help="Experiment file (TOML).")],
    workspace: WorkspaceOpt = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Use this run id; the run is in the store at once (as starting), "
            "and a start that fails is recorded there.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan and what it costs; train nothing."
        ),
    ] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain progress lines even on a terminal.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With --dry-run: the plan as JSON (every stage: kind, task, "
            "seed, languages, splits, hyperparameters, key, reused).",
        ),
    ] = False,
    allow_code_execution: Annotated[
        bool,
        typer.Option(
            "--allow-code-execution",
            help="Run generated programs (sandboxed) to score code targets.",
        ),
    ] = False,
    devices: Annotated[
        str | None,
        typer.Option(
            "--devices",
            help="Run stages side by side, one worker per device: cuda:0,cuda:1 "
            "or cpu,cpu, or all (every visible GPU). Replaces the file's "
            "device/devices.",
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            # escape: rich would read [ray] as a style and drop it.
            help=escape(
                "Where stages run: local (this machine) or ray (a Ray cluster; "
                "pip install 'xlt[ray]'). Replaces the file's executor."
            ),
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="The Ray cluster to join (host:port, or auto); default: a Ray "
            "instance started for the run here.",
        ),
    ] = None,
) -> None:
    """Run an experiment: intermediate stages, target stages, zero-shot evaluation."""
    from engine.control import check_run_id, new_run_id
    from engine.launch import StartingRun, execute, prepare

    if as_json and not dry_run:
        raise InputError(
            "--json: only with --dry-run (a run's progress as JSON is its "
            "event stream, runs/<run id>/events.jsonl)"
        )
    workspace = _workspace(workspace)
    ws = Workspace.open(workspace)
    rid = check_run_id(run_id) if run_id else None
    # Whoever chose the id (the TUI) looks the run up by it: register it before
    # loading anything, so that every way this start can end is on record.
    starting = StartingRun(ws, rid, config) if rid and not dry_run else None
    try:
        with starting or nullcontext():
            prepared = prepare(
                config,
                ws,
                dry_run=dry_run,
                allow_code_execution=allow_code_execution,
                starting=starting,
                devices=devices,
                executor=executor,
                ray_address=ray_address,
            )
            if dry_run and as_json:
                _print_plan_json(prepared)
                return
            if dry_run:
                _print_dry_run(prepared)
                return
            from engine.console import ConsoleReporter
            from engine.events import to_log

            rid = rid or new_run_id(prepared.config.name)
            reporter = ConsoleReporter(out, plain=True if plain else None)
            # Loading torch, the device and the tokenizer comes before the
            # run's first event: say so, or the first seconds are silent.
            reporter.print(
                f"starting run {escape(rid)}: loading {escape(prepared.config.model)}"
                " and the device ..."
            )
            listeners: list[Callable[[dict[str, Any]], None]] = [reporter]
            if starting is None:
                # engine.log tells the run's story (the console's is gone with
                # the terminal). Not for a run started with --run-id, as the
                # TUI starts them: its Monitor shows the events and engine.log
                # side by side, and would show each line twice.
                listeners.append(to_log(logging.getLogger("xlt.run")))
            code = execute(prepared, rid, listeners=listeners, starting=starting)
    except (Cancelled, KeyboardInterrupt):
        err.print("cancelled before the run started; nothing was trained")
        raise typer.Exit(code=EXIT_FAILED) from None
    if code == 0:
        out.print(
            f"results: xlt-engine results --run {rid}"
            + (f" --workspace {ws.root}" if workspace else "")
        )
    raise typer.Exit(code=code)


def _print_dry_run(prepared) -> None:
    _print_plan(prepared)
    _print_cost(_estimate(prepared), several=bool(prepared.config.devices))
    for line in _split_coverage(prepared.config):
        out.print(f"[dim]{escape(line)}[/dim]")
    for message in prepared.missing_data.values():
        err.print(f"[yellow]needs data:[/yellow] {escape(message)}")
    if prepared.config.is_code:
        _print_contamination(prepared.config)
    for message in prepared.notices:
        err.print(f"[yellow]before running:[/yellow] {escape(message)}")


def _estimate(prepared):
    from engine.cost import device_name, estimate

    config = prepared.config
    return estimate(prepared.plan, config, prepared.workspace, device_name(config))


def _print_cost(cost, several: bool = False) -> None:
    """Estimated time per stage this run computes, and where it came from."""
    if not cost.stages:
        out.print("time estimate: nothing to compute, every stage is reused")
        return
    out.print(f"time estimate per stage, {escape(cost.source)}:")
    width = max(len(s.stage) for s in cost.stages)
    for s in cost.stages:
        work = []
        if s.train_examples:
            work.append(f"trains on {s.train_examples:,} examples")
        if s.eval_examples:
            work.append(f"scores {s.eval_examples:,}")
        when = f"~{duration_text(s.seconds)}" if s.seconds is not None else "unknown"
        note = f"  ({s.note})" if s.note else ""
        out.print(
            f"  {escape(s.stage):<{width}}  {when:>9}  "
            f"{escape(', '.join(work))}{escape(note)}"
        )
    total = cost.total_seconds
    if total is not None:
        out.print(
            f"  total ~{duration_text(total)} (estimate"
            + ("" if cost.complete else ", of the stages estimated")
            + ("; on several devices stages run side by side" if several else "")
            + ")"
        )


def _split_coverage(config) -> list[str]:
    """Targets scored on a split in only some of their languages."""
    lines = []
    for target, splits in config.eval_splits.items():
        task, chosen = config.task(target), config.languages[target]
        for split in splits:
            lacking = [lg for lg in chosen if not task.source.has(split, lg)]
            if lacking and split != task.eval_split:
                lines.append(
                    f"{target}: {split} in {len(chosen) - len(lacking)} of "
                    f"{len(chosen)} languages (none for {', '.join(lacking)})"
                )
    return lines


def _print_plan_json(prepared) -> None:
    """The plan for scripts: one object, every stage with what decides it."""
    from engine.cost import as_record

    plan = prepared.plan
    document = {
        "name": prepared.config.name,
        "model": prepared.config.model,
        "summary": plan.summary(),
        "stages": plan.as_records(detail=True),
        "missing_data": dict(prepared.missing_data),
        "notices": list(prepared.notices),
        "cost": as_record(_estimate(prepared)),
    }
    if prepared.config.is_code:
        from engine.codeeval.overlap_report import plan_ngram_overlap

        document["contamination"] = plan_ngram_overlap(prepared.config).as_dict()
    print(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def _print_contamination(config) -> None:
    from engine.codeeval.contamination import check_plan_contamination

    report = check_plan_contamination(config)
    if not report.overlaps:
        out.print(
            "contamination check: no intermediate task trains on problems that a "
            "target evaluates"
        )
    for message in report.messages():
        verdict = (
            "allowed (allow_contamination = true)"
            if (config.allow_contamination)
            else "refused"
        )
        out.print(f"contamination check: {verdict}: {escape(message)}")
    for note in report.notes():
        out.print(f"contamination check: unchecked: {escape(note)}")
    from engine.codeeval.overlap_report import plan_ngram_overlap

    for line in plan_ngram_overlap(config).messages():
        out.print(f"n-gram overlap: {escape(line)}")


def _print_plan(prepared) -> None:
    from engine.pipeline import IntermediateStage

    cfg, plan = prepared.config, prepared.plan
    table = Table(
        title=f"plan for '{cfg.name}' · model {cfg.model}", header_style="bold"
    )
    for col in ("#", "stage", "seed", "action", "key"):
        table.add_column(col)
    for i, stage in enumerate(plan.stages, start=1):
        if isinstance(stage, IntermediateStage):
            what = f"intermediate  {stage.task}"
            if stage.members and stage.members != (stage.task,):
                what += f" ({' + '.join(stage.members)})"
            action = "reuse checkpoint" if stage.reused else "train"
        else:
            what = (
                f"target        {stage.target} ← {stage.intermediate}  "
                f"[{len(stage.languages)} languages · {', '.join(stage.splits)}]"
            )
            pending = len(stage.pending)
            if stage.reused:
                action = "reuse results"
            elif stage.trains and stage.model_reused:
                action = f"evaluate {pending} (kept model)"
            else:
                action = stage.action
        table.add_row(str(i), what, str(stage.seed), action, stage.key[:12])
    _print_table(table)
    s = plan.summary()
    out.print(
        f"{s['trainings']} trainings to run ({s['intermediate_trainings']} "
        f"intermediate, {s['target_trainings']} target); "
        f"{s['reused_checkpoints']} checkpoints, "
        f"{s['reused_target_models']} target models and "
        f"{s['reused_target_results']} target results reused; "
        f"{s['retrieval_evaluations']} retrieval evaluations without training; "
        + (
            f"{s['generation_evaluations']} code generation evaluations; "
            if s["generation_evaluations"]
            else ""
        )
        + f"{s['pending_evaluations']} of {s['evaluations']} zero-shot "
        "evaluations to run."
    )
    out.print(_where_stages_run(cfg))


def _where_stages_run(cfg) -> str:
    """The dry run's line on workers: executor, devices, DDP groups."""
    if cfg.executor == "ray":
        where = (
            f"on the Ray cluster at {cfg.ray_address}"
            if cfg.ray_address
            else ("on a Ray instance started for the run here")
        )
        devices = ", ".join(cfg.devices) if cfg.devices else "all (every GPU)"
        text = f"stages run {where}; devices {devices}"
    elif cfg.devices:
        text = (
            f"stages run side by side: one worker per device ({', '.join(cfg.devices)})"
        )
    else:
        text = f"stages run one after another on {cfg.device}"
    if cfg.gpus_per_stage > 1:
        text += f"; each stage trains on {cfg.gpus_per_stage} devices (torch DDP)"
    return text + "."


@app.command()
@handles_input_errors
def runs(
    workspace: WorkspaceOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON array of run records.")
    ] = False,
) -> None:
    """List the runs in the workspace, newest last."""
    store = _open_store(workspace)
    records = store.runs()
    if as_json:
        out.print_json(json.dumps(records, default=str))
        return
    if not records:
        out.print("no runs yet: start one with xlt-engine run CONFIG")
        return
    table = Table(header_style="bold")
    table.add_column("run", no_wrap=True)
    for col in ("name", "status", "stages", "started", "duration", "device"):
        table.add_column(col)
    now = datetime.now().timestamp()
    for r in records:
        started = r.get("started_at")
        duration = run_duration(r, now)
        table.add_row(
            r["id"],
            r.get("name", ""),
            status_markup(r["status"]),
            f"{r.get('stages_done', 0)}/{r.get('stages_total', '?')}",
            datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M")
            if started
            else "",
            duration_text(duration) if duration is not None else "",
            str(r.get("device", "")),
        )
    _print_table(table)


@app.command()
@handles_input_errors
def results(
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="Run id (default: the latest finished run with results; if "
            "none finished, the latest run with results).",
        ),
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target task.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json, markdown or latex.")
    ] = "table",
    xtreme: Annotated[
        bool,
        typer.Option(
            "--xtreme",
            help="The paper's table: a column per XTREME task, the group scores "
            "and the overall score.",
        ),
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="validation or test: the split the tables show (default: "
            "validation when the run has validation results, else test; csv "
            "and json: every split, each record naming its own).",
        ),
    ] = None,
    select_on: Annotated[
        str | None,
        typer.Option(
            "--select-on",
            help="With --xtreme: add the row 'best per target', per task the "
            "intermediate task with the best score on this split, shown with "
            "its test scores. Only 'validation': choosing on test and "
            "reporting test overstates the result.",
        ),
    ] = None,
    gap: Annotated[
        bool,
        typer.Option(
            "--gap",
            help="Code targets: the English-to-language gap, score(en) - "
            "score(language), per intermediate, and its change against the "
            "baseline's gap (negative: transfer narrowed it).",
        ),
    ] = False,
    ci: Annotated[
        bool,
        typer.Option(
            "--ci",
            help="Each change against the baseline with its 95% interval from a "
            "paired bootstrap over the test examples (and seeds), marked * when "
            "significant after the --correction; csv/json gain the fields.",
        ),
    ] = False,
    resamples: ResamplesOpt = None,
    bootstrap_seed: BootstrapSeedOpt = None,
    correction: CorrectionOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Zero-shot results: one row per intermediate choice, one column per language."""
    from engine import report
    from engine.tasks import REGISTRY

    if fmt not in report.FORMATS:
        raise InputError(
            f"--format: '{fmt}' is not one of {', '.join(report.FORMATS)}"
            f"{did_you_mean(fmt, report.FORMATS)}"
        )
    _check_split_options(split, select_on, xtreme)
    settings = _significance_settings(ci, resamples, bootstrap_seed, correction)
    if ci and xtreme and select_on is not None:
        raise InputError(
            "--ci: the 'best per target' row picks a different intermediate per "
            "task, so it has no one paired comparison; use --ci --xtreme without "
            "--select-on"
        )
    store = _open_store(workspace)
    all_records = store.results()
    if run is None:
        run = _default_results_run(store, all_records, target, fmt)
        if run is None:
            out.print("[]")
            return
    elif store.get_run(run) is None:
        known = [r["id"] for r in store.runs()]
        raise InputError(
            f"--run: no run '{run}' in this workspace{did_you_mean(run, known)}"
        )
    records = [r for r in all_records if r["run_id"] == run]
    run_record = store.get_run(run) or {}
    if not records:
        # Asking for the scores of a run that has none is a bad argument
        # (exit 2, DESIGN.md "CLI contract"); exit 1 is kept for `run`.
        status = run_record.get("status", "unknown")
        raise InputError(
            f"--run: run '{run}' ({status}) has no results: it stopped before "
            "scoring any target"
            + (f" ({run_record['error']})" if run_record.get("error") else "")
            + "; runs with results: "
            + (", ".join(dict.fromkeys(r["run_id"] for r in all_records)) or "none")
        )
    targets = list(dict.fromkeys(r["target"] for r in records))
    if target is not None:
        if target not in targets:
            raise InputError(
                f"--target: run '{run}' has no results for '{target}'; "
                f"its targets: {', '.join(nearest_first(target, targets))}"
            )
        records = [r for r in records if r["target"] == target]
        targets = [target]
    if split is not None:
        present = report.splits_in(records)
        if split not in present:
            raise InputError(
                f"--split: run '{run}' has no {split} results"
                + (f" for '{target}'" if target else "")
                + f" (it has: {', '.join(present) or 'none'})"
            )
    # A table pasted into a paper or a notebook says where it came from.
    source = report.source_line(
        run,
        run_record.get("status", "unknown"),
        list(dict.fromkeys(str(r["model"]) for r in records)),
        fmt,
    )
    if gap:
        if xtreme or ci:
            raise InputError("--gap: a table of its own; leave out --xtreme and --ci")
        gap_split = split or report.default_split(records) or ""
        _print_gap(report.of_split(records, gap_split), gap_split, fmt)
        return
    if xtreme:
        sig = (workspace, settings) if ci else None
        _print_xtreme(records, run, fmt, split, select_on, source, sig)
        return
    if fmt in ("json", "csv"):
        # Raw records, one per seed, language and split; --split keeps one.
        rows = report.of_split(records, split) if split else records
        if ci:
            rows = _with_significance(rows, workspace, settings)
        if fmt == "csv":
            sys.stdout.write(report.records_csv(rows))
            return
        provenance = (store.get_run(run) or {}).get("provenance")
        rows = [{**r, "provenance": provenance} for r in rows]
        sys.stdout.write(report.records_json(rows) + "\n")
        return
    if fmt == "table":
        out.print(f"run {run} ({run_record.get('status', '')})")
    else:
        sys.stdout.write(source + "\n\n")
    for name in targets:
        order = REGISTRY[name].languages if name in REGISTRY else ()
        of_target = [r for r in records if r["target"] == name]
        shown = split or report.default_split(of_target)
        if not report.of_split(of_target, shown or ""):
            have = ", ".join(report.splits_in(of_target))
            out.print(f"{name}: no {shown} results (it has: {have})")
            continue
        table = report.pivot(of_target, name, order, split=shown)
        how = report.split_caption(table.split, chosen_by_default=split is None)
        _print_results_table(table, of_target, how, fmt, workspace, settings, ci)


def _print_gap(records: list[dict], split: str, fmt: str) -> None:
    """The English-gap view (engine.codegen.english_gap) of one split."""
    from engine import report
    from engine.codegen.english_gap import english_gap, missing_anchor

    rows = english_gap(records)
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    if fmt == "csv":
        sys.stdout.write(report.records_csv(rows))
        return
    if fmt != "table":
        raise InputError("--gap: --format table, csv or json")
    table = Table(
        title=f"English-to-language gap · {split} split",
        header_style="bold",
        caption="gap = score(en) - score(language), x100; change = gap - the "
        "baseline's gap (negative: the intermediate narrowed it)",
    )
    for column in ("target", "intermediate", "language", "metric"):
        table.add_column(column)
    for column in ("en", "score", "gap", "baseline gap", "change"):
        table.add_column(column, justify="right")

    def points(value: float | None, sign: str = "") -> str:
        return "–" if value is None else f"{value * 100:{sign}.1f}"

    for r in rows:
        table.add_row(
            r["target"], r["intermediate"], r["language"], r["metric"],
            points(r["score_en"]), points(r["score"]), points(r["gap"], "+"),
            points(r["baseline_gap"], "+"), points(r["gap_change"], "+"),
        )  # fmt: skip
    _print_table(table)
    for name in missing_anchor(records):
        out.print(f"{name}: no English score (its own or a translate-test row): no gap")


def _significance_settings(
    ci: bool, resamples: int | None, seed: int | None, correction: str | None
):
    """The bootstrap settings given on the command line, the defaults (in
    SignificanceSettings, the one place they are set) for the rest."""
    from engine.significance import SignificanceSettings

    if not ci and (resamples, seed, correction) != (None, None, None):
        raise InputError(
            "--resamples, --bootstrap-seed and --correction apply to the "
            "intervals; add --ci"
        )
    settings = SignificanceSettings()
    return replace(
        settings,
        n_resamples=settings.n_resamples if resamples is None else resamples,
        seed=settings.seed if seed is None else seed,
        correction=settings.correction if correction is None else correction,
    )


def _with_significance(rows: list[dict], workspace: str | None, settings) -> list:
    """csv/json rows with their cell's significance fields, per (target, split)."""
    from engine import significance
    from engine.significance_report import with_fields

    ws = Workspace.open(_workspace(workspace))
    finder = significance.PredictionsFinder(ws)
    sigs = {
        (t, sp): significance.target_significance(
            rows, ws, t, sp, settings, finder=finder
        )
        for t, sp in dict.fromkeys(
            (r["target"], str(r.get("split") or "test")) for r in rows
        )
    }
    return with_fields(rows, sigs)


def _print_results_table(
    table, records: list[dict], how: str, fmt: str, workspace, settings, ci: bool
) -> None:
    """One target's table. Collapse marks and reference levels are shown
    always (reading the predictions is cheap); intervals only with --ci (the
    bootstrap takes seconds per table)."""
    from engine import report
    from engine import significance_report as sr
    from engine.significance import target_significance

    ws = Workspace.open(_workspace(workspace))
    sig = target_significance(
        records, ws, table.target, table.split, settings, with_intervals=ci
    )
    legend = sr.legend_lines(sig, ci)
    text_of = sr.ci_cell_text(table, sig) if ci else sr.flag_cell_text(table, sig)
    note = f"{how}; change against the baseline" + (" [interval]" if ci else "")
    if fmt == "table":
        _print_table(sr.render_rich_ci(table, sig, how, ci))
    elif fmt == "markdown":
        text = report.render_markdown(table, cell_text=text_of, note=note)
        sys.stdout.write(text + sr.markdown_legend(legend) + "\n")
    else:
        text = report.render_latex(table, cell_text=text_of, note=note)
        sys.stdout.write(text + sr.latex_legend(legend) + "\n")


@app.command()
@handles_input_errors
def compare(
    a: Annotated[
        str, typer.Argument(help="A: a run id, or RUN:INTERMEDIATE (r1:baseline).")
    ],
    b: Annotated[
        str, typer.Argument(help="B: a run id, or RUN:INTERMEDIATE (r1:mnli).")
    ],
    target: Annotated[str | None, typer.Option("--target", help="Target task.")] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="validation or test (default: validation when both "
            "have it, else test).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or json.")
    ] = "table",
    resamples: ResamplesOpt = None,
    bootstrap_seed: BootstrapSeedOpt = None,
    correction: CorrectionOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """B - A per target and language, with its interval and p-value, on the
    examples both evaluated (paired bootstrap). Two runs compare each
    intermediate choice they share; RUN:INTERMEDIATE picks one choice."""
    from engine import report
    from engine import significance_report as sr
    from engine.significance import compare_choices

    formats = ("table", "csv", "json")
    if fmt not in formats:
        raise InputError(
            f"--format: '{fmt}' is not one of {', '.join(formats)}"
            f"{did_you_mean(fmt, formats)}"
        )
    _check_split_options(split, None, False)
    settings = _significance_settings(True, resamples, bootstrap_seed, correction)
    store = _open_store(workspace)
    records = store.results()
    runs = [str(r["id"]) for r in store.runs()]
    side_a = _compare_side(a, "A", runs, records)
    side_b = _compare_side(b, "B", runs, records)
    recs_a = _side_records(side_a, records)
    recs_b = _side_records(side_b, records)
    if target is not None:
        have = list(dict.fromkeys(r["target"] for r in recs_a + recs_b))
        if target not in have:
            raise InputError(
                f"--target: neither {a} nor {b} has results for '{target}'; "
                f"their targets: {', '.join(nearest_first(target, have)) or 'none'}"
            )
        recs_a = [r for r in recs_a if r["target"] == target]
        recs_b = [r for r in recs_b if r["target"] == target]
    shown = split or report.default_split(recs_a + recs_b) or "test"
    recs_a, recs_b = report.of_split(recs_a, shown), report.of_split(recs_b, shown)
    from engine.significance import compare_pairs

    pairs = compare_pairs(side_a[1], side_b[1], recs_a, recs_b)
    if not pairs:
        raise InputError(
            f"{a} and {b} have no (target, language"
            + (", intermediate" if side_a[1] is None and side_b[1] is None else "")
            + f") in common on the {shown} split; A has "
            f"{_cells_text(recs_a)}, B has {_cells_text(recs_b)}"
        )
    ws = Workspace.open(_workspace(workspace))
    comparison = compare_choices(pairs, ws, shown, settings, a, b)
    rows = sr.comparison_rows(comparison)
    if fmt == "csv":
        sys.stdout.write(sr.comparison_csv(rows))
    elif fmt == "json":
        sys.stdout.write(sr.comparison_json(comparison, rows) + "\n")
    else:
        metrics = {r["target"]: str(r["metric"]) for r in recs_a}
        _print_table(sr.render_comparison(comparison, lambda t: metrics.get(t, "")))


def _compare_side(
    spec: str, name: str, runs: list[str], records: list[dict]
) -> tuple[str, str | None]:
    """(run id, intermediate or None) of a `compare` argument."""
    if spec in runs:
        return spec, None
    run, _, choice = spec.rpartition(":")
    if not run or run not in runs:
        wrong = run or spec
        raise InputError(
            f"{name}: no run '{wrong}' in this workspace; expected RUN or "
            f"RUN:INTERMEDIATE; runs: {', '.join(nearest_first(wrong, runs)) or 'none'}"
        )
    of_run = [r["intermediate"] for r in records if r["run_id"] == run]
    choices = list(dict.fromkeys(of_run))
    if choice not in choices:
        raise InputError(
            f"{name}: run '{run}' has no results for intermediate '{choice}'; its "
            f"choices: {', '.join(nearest_first(choice, choices)) or 'none'}"
        )
    return run, choice


def _side_records(side: tuple[str, str | None], records: list[dict]) -> list[dict]:
    run, choice = side
    return [
        r
        for r in records
        if r["run_id"] == run and (choice is None or r["intermediate"] == choice)
    ]


def _cells_text(recs: list[dict]) -> str:
    cells = list(dict.fromkeys(f"{r['target']}/{r['language']}" for r in recs))
    return ", ".join(cells[:6]) + (" ..." if len(cells) > 6 else "") or "none"


def _default_results_run(
    store: Store, all_records: list[dict], target: str | None, fmt: str
) -> str | None:
    """The latest *finished* run with results (for `target` if given): a run
    still going, or one that died half-way, is shown only when asked for with
    --run, or when no finished run has results (said on stderr). None: there
    are no results and the format is json (an empty array, for scripts)."""
    every_target = list(dict.fromkeys(r["target"] for r in all_records))
    if target is not None and all_records and target not in every_target:
        raise InputError(
            f"--target: no run has results for '{target}'; targets with "
            f"results: {', '.join(nearest_first(target, every_target))}"
        )
    with_results = {
        x["run_id"] for x in all_records if target is None or x["target"] == target
    }
    candidates = [r for r in store.runs() if r["id"] in with_results]
    if not candidates:
        if fmt == "json":
            return None
        raise InputError(
            "no results yet; run an experiment first: xlt-engine run CONFIG"
        )
    finished = [r for r in candidates if r.get("status") == "finished"]
    if finished:
        latest = max(finished, key=lambda r: r.get("ended_at") or 0)
        return str(latest["id"])
    latest = candidates[-1]
    err.print(
        f"[yellow]note:[/yellow] no finished run has results; showing run "
        f"{escape(latest['id'])} ({latest.get('status', 'unknown')})"
    )
    return str(latest["id"])


def nearest_first(word: str, choices: list[str]) -> list[str]:
    """`choices` ordered by likeness to `word` (the likeliest meant first)."""
    return sorted(
        choices, key=lambda c: -difflib.SequenceMatcher(None, word, c).ratio()
    )


def _check_split_options(
    split: str | None, select_on: str | None, xtreme: bool
) -> None:
    from engine.report import SPLITS

    if split is not None and split not in SPLITS:
        raise InputError(
            f"--split: '{split}' is not one of {', '.join(SPLITS)}"
            f"{did_you_mean(split, SPLITS)}"
        )
    if select_on is None:
        return
    if select_on == "test":
        raise InputError(
            "--select-on test: refused. Choosing the best intermediate task on "
            "test scores and then reporting those test scores overstates them "
            "(the test set would be used for model selection); use "
            "--select-on validation"
        )
    if select_on != "validation":
        raise InputError(
            f"--select-on: '{select_on}' is not a split to select on; expected "
            "'validation'"
        )
    if not xtreme:
        raise InputError("--select-on: applies to the XTREME table; add --xtreme")
    if split is not None and split != "test":
        raise InputError(
            f"--select-on validation reports test scores; --split {split} "
            "contradicts it (drop --split, or use --split test)"
        )


def _print_xtreme(
    records: list[dict],
    run: str,
    fmt: str,
    split: str | None,
    select_on: str | None,
    source: str = "",
    significance: tuple[str | None, Any] | None = None,
) -> None:
    """The XTREME table; `significance` (workspace, settings): with --ci, each
    change with its interval (engine.significance.xtreme_significance)."""
    from engine import report
    from engine import significance_report as sr
    from engine import xtreme_report as xr

    ours = [r for r in records if r["target"] in xr.xtreme.XTREME_TASKS]
    if not ours:
        raise InputError(
            f"run '{run}' has no results for an XTREME target task "
            "(xnli, pawsx, udpos, panx, xquad, mlqa, tydiqa, bucc2018, tatoeba)"
        )
    selection = None
    if select_on is not None:
        missing = xr.missing_for_selection(ours)
        if missing:
            raise InputError(
                f"--select-on validation: run '{run}' has no "
                f"{' and no '.join(missing)} results for its XTREME targets; "
                "choosing needs both (score them with eval_splits = "
                '["validation", "test"] in the config)'
            )
        table, selection = xr.best_per_target(ours)
        if not selection.chosen:
            raise InputError(
                f"--select-on validation: no target of run '{run}' can be "
                "chosen for: " + xr.selection_caption(selection).split("; ", 1)[-1]
            )
        how = report.split_caption(table.split)
    else:
        shown = split or report.default_split(ours) or ""
        table = xr.xtreme_pivot(ours, shown)
        how = report.split_caption(shown, chosen_by_default=split is None)
    sig = None
    if significance is not None:
        from engine.significance import xtreme_significance

        workspace, settings = significance
        ws = Workspace.open(_workspace(workspace))
        sig = xtreme_significance(ours, ws, table.split, settings)
    if fmt in ("json", "csv"):
        cells: list[dict[str, Any]] = []
        for (row, col), cell in table.cells.items():
            item = {
                "intermediate": row,
                "column": col,
                "split": table.split,
                "mean": cell.mean,
                "std": cell.std,
                "delta": cell.delta,
                "values": cell.values,
                "covered": cell.coverage[0] if cell.coverage else None,
                "of": cell.coverage[1] if cell.coverage else None,
                "comparable": not cell.not_comparable,
                "not_comparable": "; ".join(cell.not_comparable) or None,
            }
            if selection is not None and row == xr.BEST:
                item["chosen"] = cell.label or None
                if fmt == "json":
                    item["selected_on"] = xr.selection_record(selection, col)
            if sig is not None:
                item.update(sig.fields(row, col))
            cells.append(item)
        if fmt == "json":
            sys.stdout.write(json.dumps(cells, indent=1) + "\n")
        else:
            import csv
            import io

            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(cells[0]) if cells else [])
            writer.writeheader()
            for c in cells:
                writer.writerow({**c, "values": " ".join(map(str, c["values"]))})
            sys.stdout.write(buf.getvalue())
        return
    note = f"{how}; {xr.caption(table)}"
    if selection is not None:
        note += f"; {xr.selection_caption(selection)}"
    if sig is not None:  # with --ci: intervals, marks and the legend
        legend = sr.legend_lines(sig, True)
        text_of = sr.ci_cell_text(table, sig)
        note += "; change against the baseline [interval]"
        if fmt == "table":
            out.print(escape(xr.caption(table)))
            _print_table(sr.render_rich_ci(table, sig, how, True))
        elif fmt == "markdown":
            text = report.render_markdown(table, cell_text=text_of, note=note)
            sys.stdout.write(source + "\n\n" + text + sr.markdown_legend(legend) + "\n")
        else:
            text = report.render_latex(table, cell_text=text_of, note=note)
            sys.stdout.write(source + "\n\n" + text + sr.latex_legend(legend) + "\n")
        return
    if fmt == "table":
        caption = f"{xr.caption(table)}; second line: change against the baseline"
        if selection is not None:
            caption += f"\n{xr.selection_caption(selection)}"
        _print_table(report.render_rich(table, caption=caption, split_note=how))
    elif fmt == "markdown":
        sys.stdout.write(
            source + "\n\n" + report.render_markdown(table, note=note) + "\n"
        )
    else:
        sys.stdout.write(source + "\n\n" + report.render_latex(table, note=note) + "\n")


@app.command()
@handles_input_errors
def tasks(
    config: Annotated[
        str | None,
        typer.Argument(
            help=escape(
                "Experiment file (TOML): list its custom tasks ([tasks.NAME]) too."
            )
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON array of task records.")
    ] = False,
) -> None:
    """List the built-in tasks (and a config's custom tasks): kind, role,
    languages, metric and data source."""
    from engine.tasks import REGISTRY, all_tasks

    records = [t.as_dict() for t in all_tasks()]
    custom: list[dict[str, Any]] = []
    if config is not None:
        from engine.config import load_config

        loaded = load_config(config)
        custom = [
            {**t.as_dict(), "defined_in": config}
            for name, t in loaded.tasks.items()
            if name not in REGISTRY
        ]
        records += custom
    if as_json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
        return
    caption = "xlt-engine tasks --json for all fields"
    if config is not None:
        caption = (
            f"rows marked *: the {len(custom)} custom tasks of {config}; " + caption
            if custom
            else f"{config} defines no custom tasks; " + caption
        )
    table = Table(header_style="bold", caption=caption)
    table.add_column("task", no_wrap=True)
    for col in ("kind", "role", "languages", "metric"):
        table.add_column(col)
    table.add_column("source", overflow="fold")
    kinds = {
        "classification": "sentence",
        "pair_classification": "pair",
        "multiple_choice": "choice",
        "span_qa": "span QA",
        "tagging": "tagging",
        "retrieval": "retrieval",
    }
    for t in records:
        langs = t["languages"]
        shown = " ".join(langs) if len(langs) <= 7 else f"{len(langs)} langs"
        table.add_row(
            t["name"] + (" *" if "defined_in" in t else ""),
            kinds.get(t["kind"], t["kind"]),
            "both" if len(t["roles"]) == 2 else t["roles"][0],
            shown,
            t["metric"],
            t["source"],
        )
    _print_table(table)


@app.command()
@handles_input_errors
def cancel(
    run_id: Annotated[str, typer.Argument(help="The run to stop.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Ask a running run to stop at its next safe point; finished results are kept."""
    store = _open_store(workspace)
    record = store.get_run(run_id)
    if record is None:
        known = [r["id"] for r in store.runs()]
        raise InputError(
            f"no run '{run_id}' in this workspace{did_you_mean(run_id, known)}"
        )
    from engine.control import request_stop

    out.print(request_stop(record))


@app.command()
@handles_input_errors
def codeeval(
    task: Annotated[
        str, typer.Option("--task", help="Code task whose tests score the samples.")
    ],
    samples: Annotated[
        str,
        typer.Option(
            "--samples", help='JSONL file: one {"task_id", "completion"} per line.'
        ),
    ],
    k: Annotated[
        str, typer.Option("--k", help="pass@k for these k (comma-separated).")
    ] = "1,10",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every verdict.")
    ] = False,
    allow_code_execution: Annotated[
        bool,
        typer.Option(
            "--allow-code-execution",
            help="Run the completions as programs (sandboxed). Off by default.",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Score generated code: run each completion against the task's tests in a
    sandbox and report pass@k."""
    from engine.codeeval import problems_for_task
    from engine.codeeval.execute import read_samples

    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise InputError(f"--k: expected positive integers like 1,10; got '{k}'")
    problems = problems_for_task(task, workspace=_workspace(workspace))
    sample_list = read_samples(samples, problems, task)
    if not allow_code_execution:
        raise InputError(
            f"code execution is off: codeeval runs each of the {len(sample_list)} "
            f"completions in {samples} as a Python program on this machine "
            "(sandboxed: its own process and temporary directory, resource "
            "limits, no network where the OS allows). Turn it on with "
            "--allow-code-execution."
        )
    raise typer.Exit(code=_codeeval_report(task, problems, sample_list, ks, as_json))


def _codeeval_report(task, problems, sample_list, ks, as_json) -> int:
    import os

    from engine.codeeval.execute import check_completions, pass_counts, status_counts
    from engine.codeeval.passk import left_out_ks, mean_pass_at_k
    from engine.codeeval.sandbox import last_isolation

    workers = max(1, min(8, os.cpu_count() or 1))
    err.print(f"running {len(sample_list)} programs, {workers} at a time ...")
    results = check_completions(problems, sample_list, workers=workers)
    counts = pass_counts(results)
    scores = mean_pass_at_k(counts, ks)
    left_out = left_out_ks(counts, ks)
    statuses = status_counts(results)
    isolation = last_isolation()
    per_problem = sorted(n for n, _ in counts.values())
    unsampled = len(problems) - len(counts)
    broken = [r for r in results if r.verdict.reason.startswith("the sandbox could")]
    if as_json:
        report = {
            "task": task,
            "samples": len(results),
            "problems_scored": len(counts),
            "problems_without_samples": unsampled,
            "samples_per_problem": {"min": per_problem[0], "max": per_problem[-1]},
            "pass_at_k": scores,
            "left_out_k": {f"pass@{k}": why for k, why in left_out.items()},
            "status_counts": statuses,
            "sandbox": isolation.summary() if isolation else None,
            "network_isolated": bool(isolation and isolation.net_ns),
            "sandbox_notes": list(isolation.notes) if isolation else [],
            "results": [r.as_dict() for r in results],
        }
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    else:
        spread = (
            f"{per_problem[0]} per problem"
            if per_problem[0] == per_problem[-1]
            else f"{per_problem[0]} to {per_problem[-1]} per problem"
        )
        out.print(
            f"[bold]{escape(task)}[/bold]: {len(results)} samples of "
            f"{len(counts)} problems ({spread})"
            + (f"; {unsampled} problems without samples, not scored" * bool(unsampled))
        )
        if isolation:
            out.print(f"sandbox: {escape(isolation.summary())}")
        for name, value in scores.items():
            out.print(f"{name:<9} {value:.4f}")
        for k_left, why in left_out.items():
            out.print(f"[yellow]pass@{k_left} left out:[/yellow] {escape(why)}")
        out.print(" · ".join(f"{status} {n}" for status, n in statuses.items()))
        not_passed = [r for r in results if not r.verdict.passed]
        for r in not_passed[:5]:
            out.print(
                f"  {escape(r.task_id)} #{r.completion_index} {r.verdict.status}: "
                f"{escape(r.verdict.reason)}"
            )
        if len(not_passed) > 5:
            out.print(f"  ... {len(not_passed) - 5} more (--json lists every verdict)")
    if broken:
        err.print(f"[red]error:[/red] {escape(broken[0].verdict.reason)}")
        return 1
    return 0


@app.command()
@handles_input_errors
def plot(
    kind: Annotated[
        str,
        typer.Argument(
            help="main | languages | validation-vs-gain | learning-curve",
        ),
    ],
    run: Annotated[str, typer.Option("--run", help="The run to draw.")],
    target: Annotated[
        str | None,
        typer.Option("--target", help="languages: the target task to draw."),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage", help="learning-curve: the stage id (see the run's events)."
        ),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(
            "--order",
            help="languages: TOML/JSON/CSV file of language -> value (distance "
            "from English, pretraining size); drawn in increasing order.",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="png | svg | pdf (default png).")
    ] = "png",
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="File to write (default: exports/)."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Draw one of the paper's figures of a run as PNG, SVG or PDF."""
    from pathlib import Path

    from engine.figures import FIGURE_FORMATS
    from engine.figures.canvas import save
    from engine.figures.from_run import draw

    if fmt not in FIGURE_FORMATS:
        raise InputError(
            f"--format: '{fmt}' is not one of {', '.join(FIGURE_FORMATS)}"
            f"{did_you_mean(fmt, FIGURE_FORMATS)}"
        )
    ws, data = _run_data(run, workspace)
    figure = draw(kind, data, target=target, stage=stage, order=order)
    if output is None:
        what = "-".join(p for p in (kind, target, stage) if p).replace("/", "_")
        path = ws.export_file(f"{run}-{what}.{fmt}")
    else:
        path = Path(output)
    out.print(str(save(figure, path, fmt)))


@app.command()
@handles_input_errors
def report(
    run: Annotated[str, typer.Argument(help="The run to report.")],
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="HTML file (default: exports/)."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write one self-contained HTML file of a run: tables, figures, config,
    provenance. Opens in any browser, offline."""
    from pathlib import Path

    from engine.atomic import write_text_atomic
    from engine.html_report import build_report

    ws, data = _run_data(run, workspace)
    path = Path(output) if output else ws.export_file(f"{run}-report.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, build_report(data))
    out.print(str(path))


def _run_data(run: str, workspace: str | None):
    from engine.figures.run_data import load_run

    ws = Workspace.open(_workspace(workspace))
    store = _open_store(workspace)
    record = store.get_run(run)
    if record is None:
        known = [r["id"] for r in store.runs()]
        raise InputError(f"no run '{run}' in this workspace{did_you_mean(run, known)}")
    data = load_run(ws, store, record)
    for warning in data.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    return ws, data


def main() -> None:
    app()


if __name__ == "__main__":
    main()
