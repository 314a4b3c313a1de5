"""`xlt-engine`: the headless command line. Thin: parse, call, print.

Exit codes: 0 success, 1 the run failed (or was cancelled), 2 bad input.
Bad input never shows a traceback: one message that names the file, key or
line, what was expected and the nearest valid value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
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


def handles_input_errors(fn: Callable) -> Callable:
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
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


# Stores opened by the command running: what reading them skipped (damaged
# lines, an empty runs file) is said once, after the command's own output.
_opened_stores: list[Store] = []


def _open_store(workspace: str | None) -> Store:
    store = Store(Workspace.open(workspace))
    _opened_stores.append(store)
    return store


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
) -> None:
    """Run an experiment: intermediate stages, target stages, zero-shot evaluation."""
    from engine.control import check_run_id, new_run_id
    from engine.launch import StartingRun, execute, prepare

    if as_json and not dry_run:
        raise InputError(
            "--json: only with --dry-run (a run's progress as JSON is its "
            "event stream, runs/<run id>/events.jsonl)"
        )
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
            )
            if dry_run and as_json:
                _print_plan_json(prepared)
                return
            if dry_run:
                _print_dry_run(prepared)
                return
            from engine.console import ConsoleReporter

            rid = rid or new_run_id(prepared.config.name)
            reporter = ConsoleReporter(out, plain=True if plain else None)
            code = execute(prepared, rid, listeners=[reporter], starting=starting)
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
    for line in _split_coverage(prepared.config):
        out.print(f"[dim]{escape(line)}[/dim]")
    for message in prepared.missing_data.values():
        err.print(f"[yellow]needs data:[/yellow] {escape(message)}")
    if prepared.config.is_code:
        _print_contamination(prepared.config)
    for message in prepared.notices:
        err.print(f"[yellow]before running:[/yellow] {escape(message)}")


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
    plan = prepared.plan
    document = {
        "name": prepared.config.name,
        "model": prepared.config.model,
        "summary": plan.summary(),
        "stages": plan.as_records(detail=True),
        "missing_data": dict(prepared.missing_data),
        "notices": list(prepared.notices),
    }
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
    out.print(table)
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
    out.print(table)


@app.command()
@handles_input_errors
def results(
    run: Annotated[
        str | None,
        typer.Option("--run", help="Run id (default: the latest run with results)."),
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
    store = _open_store(workspace)
    all_records = store.results()
    if run is None:
        with_results = {
            x["run_id"] for x in all_records if target is None or x["target"] == target
        }
        runs_with = [r["id"] for r in store.runs() if r["id"] in with_results]
        if not runs_with:
            if fmt == "json":
                out.print("[]")
                return
            raise InputError(
                "no results yet"
                + (f" for target '{target}'" if target else "")
                + "; run an experiment first: xlt-engine run CONFIG"
            )
        run = runs_with[-1]
    elif store.get_run(run) is None:
        known = [r["id"] for r in store.runs()]
        raise InputError(
            f"--run: no run '{run}' in this workspace{did_you_mean(run, known)}"
        )
    records = [r for r in all_records if r["run_id"] == run]
    targets = list(dict.fromkeys(r["target"] for r in records))
    if target is not None:
        if target not in targets:
            raise InputError(
                f"--target: run '{run}' has no results for '{target}'"
                f"{did_you_mean(target, targets)} "
                f"(targets: {', '.join(targets) or 'none'})"
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
    if xtreme:
        _print_xtreme(records, run, fmt, split, select_on)
        return
    if fmt in ("json", "csv"):
        # Raw records, one per seed, language and split; --split keeps one.
        rows = report.of_split(records, split) if split else records
        if fmt == "csv":
            sys.stdout.write(report.records_csv(rows))
            return
        provenance = (store.get_run(run) or {}).get("provenance")
        rows = [{**r, "provenance": provenance} for r in rows]
        sys.stdout.write(report.records_json(rows) + "\n")
        return
    status = (store.get_run(run) or {}).get("status", "")
    if fmt == "table":
        out.print(f"run {run} ({status})")
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
        if fmt == "table":
            out.print(report.render_rich(table, split_note=how))
        elif fmt == "markdown":
            note = f"{how}; change against the baseline"
            sys.stdout.write(report.render_markdown(table, note=note) + "\n")
        else:
            note = f"{how}; change against the baseline"
            sys.stdout.write(report.render_latex(table, note=note) + "\n")


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
    records: list[dict], run: str, fmt: str, split: str | None, select_on: str | None
) -> None:
    from engine import report
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
    if fmt == "table":
        caption = f"{xr.caption(table)}; second line: change against the baseline"
        if selection is not None:
            caption += f"\n{xr.selection_caption(selection)}"
        out.print(report.render_rich(table, caption=caption, split_note=how))
    elif fmt == "markdown":
        sys.stdout.write(report.render_markdown(table, note=note) + "\n")
    else:
        sys.stdout.write(report.render_latex(table, note=note) + "\n")


@app.command()
def tasks(
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON array of task records.")
    ] = False,
) -> None:
    """List the built-in tasks: kind, role, languages, metric and data source."""
    from engine.tasks import all_tasks

    records = [t.as_dict() for t in all_tasks()]
    if as_json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
        return
    table = Table(header_style="bold", caption="xlt-engine tasks --json for all fields")
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
            t["name"],
            kinds.get(t["kind"], t["kind"]),
            "both" if len(t["roles"]) == 2 else t["roles"][0],
            shown,
            t["metric"],
            t["source"],
        )
    out.print(table)


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
    problems = problems_for_task(task, workspace=workspace)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
