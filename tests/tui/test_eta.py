"""The Monitor's overall ETA (issue 15 item 6): smoothed, never below the
running stage's own ETA."""

from __future__ import annotations

import pytest

from xlt_tui.monitor_state import MonitorState

STAGE = "target/x/from-baseline/seed1"
T0 = 1_000_000.0  # the clock at the start of the run


def step(t: float, progress: float, eta_s: float) -> dict:
    return {
        "type": "step",
        "t": T0 + t,
        "stage": STAGE,
        "progress": progress,
        "eta_s": eta_s,
    }


def one_stage_run() -> MonitorState:
    state = MonitorState()
    state.apply({"type": "plan", "t": T0, "stages": [{"id": STAGE}]})
    state.apply({"type": "stage_start", "t": T0, "stage": STAGE})
    return state


def test_the_overall_eta_does_not_halve_within_seconds_after_a_slow_start():
    """A minute of model loading before the first step, then 1% a second.
    The mean since the start said 99 min at the first step and 50 min a
    second later; the run has about 100 s left."""
    state = one_stage_run()
    etas = []
    for i in range(1, 11):
        t = 60.0 + i
        state.apply(step(t, 0.01 * i, 100.0 - i))
        etas.append(state.overall_eta(now=T0 + t))
    measured = etas[1:]  # from the second step: a rate is known
    assert all(eta is not None for eta in measured)
    for before, after in zip(measured, measured[1:], strict=False):
        assert 0.8 < after / before < 1.0  # counting down, no jumps
    assert etas[-1] == pytest.approx(90.0)


def test_the_overall_eta_is_never_below_the_running_stages():
    state = one_stage_run()
    for i in range(1, 6):
        # Fast progress so far, but the engine knows the stage has 500 s left
        # (its later steps are longer: evaluation at the end of the epoch).
        state.apply(step(float(i), 0.1 * i, 500.0))
    assert state.stage_eta(now=T0 + 5.0) == pytest.approx(500.0)
    assert state.overall_eta(now=T0 + 5.0) >= state.stage_eta(now=T0 + 5.0)
