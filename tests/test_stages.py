"""A stage is a self-contained unit of work: its description survives being
sent to another process, which runs it with an environment of its own (built
from the resolved config) and writes the same outputs into the workspace."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

from engine.config import load_config, parse_config
from engine.pipeline import IntermediateStage, TargetStage, make_plan
from engine.workspace import Workspace
from tests.conftest import REPO

WORKER = textwrap.dedent(
    """\
    import json, pickle, sys
    from engine.config import parse_config
    from engine.stages import StageEnvironment, execute_stage
    from engine.workspace import Workspace

    config_table, source, stages, root = pickle.load(sys.stdin.buffer)
    config = parse_config(config_table, source)  # the resolved config, as sent
    out = []
    env = StageEnvironment.for_run(
        config, Workspace.open(root), "worker-run",
        emit_event=lambda type, **fields: out.append({"type": type, **fields}),
        record_score=lambda stage, score, reused: out.append(
            {"type": "score", "stage": stage.id, **score.as_dict()}
        ),
        should_stop=lambda: False,
        device="cpu",
    )
    for stage in stages:
        out.append({"type": "end", "stage": stage.id, **execute_stage(stage, env)})
    json.dump(out, sys.stdout, default=str)
    """
)


def test_stage_descriptions_pickle_and_carry_what_they_need(experiment, tmp_path):
    config = load_config(experiment(epochs=1))
    plan = make_plan(config, Workspace.open(tmp_path / "ws"))
    for stage in plan.stages:
        copy = pickle.loads(pickle.dumps(stage))
        assert copy == stage
        assert copy.hparams is not None
    inter, target = plan.stages[1], plan.stages[2]
    assert isinstance(inter, IntermediateStage) and isinstance(target, TargetStage)
    assert [t.name for t in inter.member_tasks] == ["sent"]
    assert target.target_task is not None and target.target_task.name == "sent"
    assert target.reads == (inter.key,)  # it needs the intermediate checkpoint


def test_a_worker_process_runs_stages_from_their_pickled_descriptions(
    experiment, tmp_path
):
    config = load_config(experiment(epochs=1, languages=("en", "de")))
    ws = Workspace.open(tmp_path / "ws")
    plan = make_plan(config, ws)
    # The baseline's target, then the intermediate stage and the target that
    # reads its checkpoint: what a scheduler would hand out in that order.
    stages = list(plan.stages)
    payload = pickle.dumps(
        (config.to_toml_dict(), config.source_file, stages, str(ws.root))
    )
    done = subprocess.run(
        [sys.executable, "-c", WORKER],
        input=payload,
        capture_output=True,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    out = json.loads(done.stdout)
    scores = [e for e in out if e["type"] == "score"]
    assert {(s["stage"], s["language"]) for s in scores} == {
        (s.id, lang)
        for s in stages
        if isinstance(s, TargetStage)
        for lang in s.languages
    }
    # Outputs landed in the workspace, so the plan now reuses every stage.
    again = make_plan(parse_config(config.to_toml_dict(), config.source_file), ws)
    assert all(s.reused for s in again.stages)
    inter = next(s for s in stages if isinstance(s, IntermediateStage))
    meta = json.loads(ws.checkpoint_marker(inter.key).read_text())
    assert meta["run_id"] == "worker-run" and meta["key"] == inter.key
