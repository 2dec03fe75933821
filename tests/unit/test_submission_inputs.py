"""Hidden inputs per submission, and the bound on judging one check (no kernel)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np

from grader import harness
from grader.judging import evaluate
from grader.planning import plan, salted


def _inputs(the_plan, hidden: bool) -> dict[str, list]:
    return {
        p.spec.id: [np.asarray(a).tolist() for c in p.cases for a in c.args if isinstance(a, np.ndarray)]
        for p in the_plan.checks
        if p.spec.hidden == hidden
    }


def test_hidden_inputs_belong_to_one_submission_and_public_ones_to_all(course):
    rubric = course.get("conv-layer")
    assert salted(rubric)
    base = plan(rubric)
    alice, alice_again, bob = (
        plan(rubric, "a1" * 32, base),
        plan(rubric, "a1" * 32, base),
        plan(rubric, "b2" * 32, base),
    )
    assert _inputs(alice, hidden=True) == _inputs(alice_again, hidden=True)  # regrading: the same inputs
    assert _inputs(alice, hidden=True) != _inputs(bob, hidden=True)  # another notebook: others
    for check in ("corr2d-non-square", "corr2d-matmul-shapes"):
        assert _inputs(alice, hidden=True)[check] != _inputs(bob, hidden=True)[check], check
    assert _inputs(alice, hidden=False) == _inputs(bob, hidden=False) == _inputs(base, hidden=False)
    shared = {p.spec.id for p in alice.checks if any(p is q for q in base.checks)}
    assert shared == {p.spec.id for p in base.checks if not p.spec.hidden}  # cached expected values too
    keys = [f.key for f in alice.fetches]
    assert len(keys) == len(set(keys)) and {f.key for f in alice.fetches} == {f.key for f in base.fetches}


def test_a_request_carries_inputs_never_a_submissions_expected_values(course):
    rubric = course.get("conv-layer")
    the_plan = plan(rubric, "c3" * 32, plan(rubric))
    request = json.dumps(the_plan.request("t" * 32, 10))
    assert "expected" not in request and the_plan.request("t" * 32, 10)["slot"].startswith("_d2l_grader_results_")


def test_judging_one_check_is_bounded_in_time(course, monkeypatch):
    """A property function that never finishes costs its own check, after the limit."""
    rubric = course.get("conv-layer")
    the_plan = plan(rubric)
    stuck = next(p for p in the_plan.checks if p.spec.kind == "property")
    checks_module = rubric.load_checks()

    def forever(value, ctx):
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(checks_module, stuck.spec.property, forever)
    fetched = {}
    for fetch in the_plan.fetches:  # every answer present, as plain data
        harness._new_run()
        fetched[fetch.key] = {"status": "ok", "value": harness._encode(np.ones((6, 6), dtype=np.float32))}
    started = time.monotonic()
    results = {r.id: r for r in evaluate(the_plan, fetched, None, time_limit=0.5)}
    assert time.monotonic() - started < 30  # generous bound; the limit itself is 0.5 s
    assert results[stuck.spec.id].status == "error"
    assert "gave up judging this check after 0.5 s" in results[stuck.spec.id].message
    others = [r for r in results.values() if r.id != stuck.spec.id]
    assert others and not any("gave up" in r.message for r in others)


def test_judging_has_no_limit_off_the_main_thread(course):
    import threading

    rubric = course.get("why-conv")
    the_plan = plan(rubric)
    out = SimpleNamespace(results=None)
    thread = threading.Thread(target=lambda: setattr(out, "results", evaluate(the_plan, None, "no kernel", 1.0)))
    thread.start()
    thread.join()
    assert out.results and {r.status for r in out.results} == {"error"}


def test_an_outer_alarm_is_nested_not_lost():
    """pytest-timeout (or an embedding app) may have an alarm running: ours fires first and the
    outer one is re-armed with what is left of it; an outer alarm due sooner is left alone."""
    import signal

    import pytest

    from grader.judging import JudgeTimeout, _deadline

    previous = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        with pytest.raises(JudgeTimeout), _deadline(0.2):
            while True:
                time.sleep(0.01)
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 90 < left < 100
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with _deadline(5.0):  # the outer alarm is due first: ours is not installed
            assert signal.getitimer(signal.ITIMER_REAL)[0] <= 0.05
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
