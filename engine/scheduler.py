"""Which of a plan's stages may run now: the plan's DAG, walked as stages end.

A stage is ready once every stage that writes what it `reads` is done: a
target starts as soon as its intermediate checkpoint exists, the baseline's
targets (which read only the pretrained model) at once. A stage that fails
fails its dependents, and only them: every other stage still runs and keeps
its result.

Which ready stage goes first: the one heading the longest chain of stages
still to run (critical path first, the classic list-scheduling rule; Graham
1969, Hu 1961), then the one more stages wait for, then one whose
checkpoint has just been made over one that needs none (a target starts as
soon as its intermediate checkpoint exists), then plan order. In a grid
that means every intermediate stage before any target, so the targets that
need a checkpoint are not all left for the end: with the plan's order
(baseline targets first) two workers ran the demo grid as 4 stages on one and
2 on the other, idle while the last checkpoint trained. Stage counts, not
estimated times: an intermediate stage is the longer one in the published
grid anyway (MNLI, SQuAD against the targets), and a count needs no data.

Light module: no torch; the executors (engine.executors) and the runner use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.pipeline import Stage

WAITING, RUNNING, DONE, FAILED, SKIPPED = (
    "waiting",
    "running",
    "done",
    "failed",
    "skipped",  # never ran: a stage it needs failed
)


@dataclass
class StageScheduler:
    """The state of every stage of a plan, and the next one to hand out."""

    stages: Sequence[Stage]
    state: dict[str, str] = field(init=False)
    _writer: dict[str, str] = field(init=False)  # key -> id of the stage writing it
    _priority: dict[str, tuple[int, int, int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.state = {s.id: WAITING for s in self.stages}
        self._writer = {s.key: s.id for s in self.stages if s.kind == "intermediate"}
        self._priority = self._priorities()

    def needs(self, stage: Stage) -> list[str]:
        """Ids of the stages of this plan whose outputs `stage` reads. A key no
        stage of the plan writes is already in the workspace (or is the
        pretrained model): nothing to wait for."""
        return [self._writer[k] for k in stage.reads if k in self._writer]

    def ready(self) -> list[Stage]:
        """Stages that may start now, in the order to start them."""
        ready = [
            s
            for s in self.stages
            if self.state[s.id] == WAITING
            and all(self.state[n] == DONE for n in self.needs(s))
        ]
        return sorted(ready, key=lambda s: self._priority[s.id])

    def take(self) -> Stage | None:
        """The first ready stage, marked running; None if none is ready."""
        ready = self.ready()
        if not ready:
            return None
        self.state[ready[0].id] = RUNNING
        return ready[0]

    def _priorities(self) -> dict[str, tuple[int, int, int, int]]:
        """Sort key per stage id: (-longest chain it heads, -stages that
        need it directly or not, -stages it waited for in a chain, plan
        position)."""
        dependents: dict[str, list[str]] = {s.id: [] for s in self.stages}
        for s in self.stages:
            for needed in self.needs(s):
                dependents[needed].append(s.id)
        chain: dict[str, int] = {}
        below: dict[str, set[str]] = {}

        def walk(stage_id: str) -> None:  # a DAG of a few hundred stages at most
            if stage_id in chain:
                return
            after = dependents[stage_id]
            for d in after:
                walk(d)
            chain[stage_id] = 1 + max((chain[d] for d in after), default=0)
            below[stage_id] = set(after).union(*(below[d] for d in after))

        for s in self.stages:
            walk(s.id)
        by_id = {s.id: s for s in self.stages}
        depth: dict[str, int] = {}

        def above(stage_id: str) -> int:
            if stage_id not in depth:
                needed = self.needs(by_id[stage_id])
                depth[stage_id] = 1 + max(map(above, needed), default=-1)
            return depth[stage_id]

        return {
            s.id: (-chain[s.id], -len(below[s.id]), -above(s.id), position)
            for position, s in enumerate(self.stages)
        }

    def done(self, stage: Stage) -> None:
        self.state[stage.id] = DONE

    def again(self, stage: Stage) -> None:
        """A stage to run again (its worker died): ready as before."""
        self.state[stage.id] = WAITING

    def failed(self, stage: Stage) -> list[Stage]:
        """Mark `stage` failed and every stage that needs it, directly or not,
        skipped; return the skipped ones (plan order)."""
        self.state[stage.id] = FAILED
        lost = {stage.id}
        skipped: list[Stage] = []
        changed = True
        while changed:  # plans are small: a fixed point beats a graph library
            changed = False
            for s in self.stages:
                if self.state[s.id] == WAITING and lost & set(self.needs(s)):
                    self.state[s.id] = SKIPPED
                    lost.add(s.id)
                    skipped.append(s)
                    changed = True
        return sorted(skipped, key=self.stages.index)

    @property
    def running(self) -> list[str]:
        return [i for i, s in self.state.items() if s == RUNNING]

    @property
    def finished(self) -> bool:
        """Nothing is running and nothing is left that could still start."""
        return not self.running and not self.ready()

    def count(self, state: str) -> int:
        return sum(1 for s in self.state.values() if s == state)
