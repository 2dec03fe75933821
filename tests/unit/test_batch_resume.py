"""`run_batch` without kernels: what is final, what a re-run keeps, `--student`, stopping.

The grading function is a stand-in (an async callable, as the local Grader and Dask are), so
these tests are about the batch's bookkeeping only: the resume key (notebook, the student's
other files, rubric, engine, limits), results that are not final (a failure on the grader's
side), and a stop request that records nothing in flight.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from grader import batch
from grader.batch import BatchWriter, Stop, run_batch
from grader.limits import Limits
from grader.results import PASSED, CheckResult, GradeResult, NotebookError
from grader.staging import discover

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """summary.md is written as always; its two PNGs (matplotlib, ~0.3 s) are not needed here."""
    from grader.reporters import summary

    monkeypatch.setattr(summary, "_plots", lambda *args: None)


@pytest.fixture
def rubric(rubrics):
    return rubrics["conv-layer"]


@pytest.fixture
def layout(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ada", "bob", "cyd"):
        (subs / f"{name}.ipynb").write_text(NOTEBOOK)
    (subs / "dee").mkdir()
    (subs / "dee" / "conv-layer.ipynb").write_text(NOTEBOOK)
    (subs / "dee" / "k.txt").write_text("1")
    return subs, tmp_path / "out"


def full_marks(rubric, sub) -> GradeResult:
    checks = [CheckResult(c.id, c.exercise, c.points, c.points, PASSED, c.hidden) for c in rubric.checks]
    return GradeResult(rubric.id, os.path.basename(sub.notebook), rubric.max_score, checks=checks)


class Grading:
    """A stand-in for LocalGrading: records who it graded; `broken` students fail on our side."""

    def __init__(self, rubric, broken=(), raises=()):
        self.rubric = rubric
        self.broken = set(broken)
        self.raises = set(raises)
        self.graded: list[str] = []

    async def __call__(self, sub) -> GradeResult:
        await asyncio.sleep(0)
        self.graded.append(sub.student)
        if sub.student in self.raises:
            raise RuntimeError("the grader tripped")
        if sub.student in self.broken:
            result = GradeResult(self.rubric.id, "x.ipynb", self.rubric.max_score)
            result.errors.append(NotebookError("internal-error", "could not start a kernel: boom"))
            return result
        return full_marks(self.rubric, sub)


def run(subs, out, rubric, grading, **kw):
    found = discover(str(subs), rubric.notebook)
    kw.setdefault("resume", True)
    kw.setdefault("limits", Limits())
    return asyncio.run(run_batch(found, rubric, BatchWriter(str(out), rubric), grading, jobs=2, **kw))


def stored(out, student) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text())


def test_results_record_the_resume_key_and_finality(layout, rubric):
    subs, out = layout
    outcome = run(subs, out, rubric, Grading(rubric))
    assert sorted(outcome.records) == ["ada", "bob", "cyd", "dee"] and outcome.graded == 4
    meta = stored(out, "dee")["submission"]
    assert meta["name"] == "dee" and meta["final"] is True
    assert meta["engine"] == batch.engine_fingerprint() and meta["engine"].startswith(batch.__version__ + "+")
    assert meta["limits"] == {**Limits().__dict__} and meta["rubric_sha256"] == batch.rubric_fingerprint(rubric)
    assert len(meta["sha256"]) == 64 and len(meta["files_sha256"]) == 64
    assert (out / "grades.csv").exists() and (out / "summary.md").exists()


def test_a_rerun_keeps_everything_that_is_current(layout, rubric):
    subs, out = layout
    run(subs, out, rubric, Grading(rubric))
    again = Grading(rubric)
    outcome = run(subs, out, rubric, again)
    assert again.graded == [] and outcome.skipped == 4


def test_a_failure_on_the_graders_side_is_not_final_and_is_graded_again(layout, rubric):
    subs, out = layout
    outcome = run(subs, out, rubric, Grading(rubric, broken={"bob"}, raises={"cyd"}))
    assert outcome.retry == 2
    assert stored(out, "bob")["submission"]["final"] is False and stored(out, "bob")["status"] == "error"
    assert stored(out, "cyd")["submission"]["final"] is False
    assert "grading failed: RuntimeError: the grader tripped" in stored(out, "cyd")["errors"][0]["message"]
    summary = (out / "summary.md").read_text()
    assert "`bob`: could not start a kernel: boom (not final: the next run grades it again)" in summary
    again = Grading(rubric)
    run(subs, out, rubric, again)
    assert sorted(again.graded) == ["bob", "cyd"]
    assert stored(out, "bob")["score"] == rubric.max_score and stored(out, "bob")["submission"]["final"] is True


@pytest.mark.parametrize("change", ["limits", "engine", "rubric", "notebook", "own files", "old result"])
def test_a_changed_resume_key_regrades(layout, rubric, monkeypatch, change):
    subs, out = layout
    run(subs, out, rubric, Grading(rubric))
    limits = Limits()
    expected = ["ada", "bob", "cyd", "dee"]
    if change == "limits":
        limits = Limits(cell_timeout=5)
    elif change == "engine":
        monkeypatch.setattr(batch, "_ENGINE", ["9.9.9+changed"])
    elif change == "rubric":
        monkeypatch.setattr(batch, "rubric_fingerprint", lambda r: "changed")
    elif change == "notebook":
        (subs / "bob.ipynb").write_text(NOTEBOOK + " ")
        expected = ["bob"]
    elif change == "own files":
        (subs / "dee" / "k.txt").write_text("2")
        expected = ["dee"]
    elif change == "old result":  # written before results said whether they were final
        data = stored(out, "cyd")
        del data["submission"]["final"]
        (out / "results" / "cyd.json").write_text(json.dumps(data))
        expected = ["cyd"]
    again = Grading(rubric)
    run(subs, out, rubric, again, limits=limits)
    assert sorted(again.graded) == expected


def test_refused_submissions_are_final_and_regraded_once_fixed(layout, rubric, tmp_path):
    subs, out = layout
    target = tmp_path / "elsewhere.ipynb"
    target.write_text(NOTEBOOK)
    (subs / "eve.ipynb").symlink_to(target)
    grading = Grading(rubric)
    run(subs, out, rubric, grading)
    assert "eve" not in grading.graded
    eve = stored(out, "eve")
    assert eve["submission"]["final"] is True and eve["score"] == 0 and eve["status"] == "error"
    assert eve["errors"][0]["message"].startswith("eve.ipynb is a symbolic link")
    (subs / "eve.ipynb").unlink()
    (subs / "eve.ipynb").write_text(NOTEBOOK)
    again = Grading(rubric)
    run(subs, out, rubric, again)
    assert again.graded == ["eve"] and stored(out, "eve")["score"] == rubric.max_score


def test_refused_files_of_a_folder_are_listed_in_its_result(layout, rubric, tmp_path):
    subs, out = layout
    secret = tmp_path / "secret.py"
    secret.write_text("x = 1")
    (subs / "dee" / "helper.py").symlink_to(secret)
    run(subs, out, rubric, Grading(rubric))
    dee = stored(out, "dee")
    assert dee["score"] == rubric.max_score and dee["status"] == "ok"
    assert [e["kind"] for e in dee["errors"]] == ["refused-file"]
    assert dee["errors"][0]["message"].startswith("dee/helper.py is a symbolic link")
    assert "`dee`: dee/helper.py is a symbolic link" in (out / "summary.md").read_text()


def test_only_grades_the_named_students_and_keeps_the_others_as_they_are(layout, rubric):
    subs, out = layout
    run(subs, out, rubric, Grading(rubric, broken={"bob"}))
    (subs / "ada.ipynb").write_text(NOTEBOOK + " ")  # changed, but not asked for
    again = Grading(rubric)
    outcome = run(subs, out, rubric, again, only={"cyd"})
    assert again.graded == ["cyd"] and outcome.graded == 1 and outcome.skipped == 3
    assert sorted(outcome.records) == ["ada", "bob", "cyd", "dee"]
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 5 and any(r.startswith("bob,") and r.endswith(",error") for r in rows)
    # --student regrades even a current result
    again = Grading(rubric)
    run(subs, out, rubric, again, only={"dee"})
    assert again.graded == ["dee"]


class Stalling:
    """Grades `fast` at once; everyone else hangs until cancelled — or, with `stubborn`,
    ignores the cancellation and comes back with the error a stop used to cause."""

    def __init__(self, rubric, stop, fast, stubborn=False):
        self.rubric, self.stop, self.fast, self.stubborn = rubric, stop, fast, stubborn
        self.started: list[str] = []
        self.closed = False

    async def __call__(self, sub):
        self.started.append(sub.student)
        if sub.student in self.fast:
            return full_marks(self.rubric, sub)
        asyncio.get_running_loop().call_soon(self.stop.request, 2)  # Ctrl-C while this one runs
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            if not self.stubborn:
                raise
        result = GradeResult(self.rubric.id, "x.ipynb", self.rubric.max_score)
        result.errors.append(NotebookError("kernel-died", "the kernel died in cell 5"))
        return result

    async def aclose(self):
        self.closed = True


@pytest.mark.parametrize("stubborn", [False, True])
def test_a_stop_records_nothing_in_flight(layout, rubric, stubborn):
    subs, out = layout
    stop = Stop()
    grading = Stalling(rubric, stop, fast={"ada"}, stubborn=stubborn)
    found = discover(str(subs), rubric.notebook)
    writer = BatchWriter(str(out), rubric)
    outcome = asyncio.run(run_batch(found, rubric, writer, grading, jobs=1, resume=True, limits=Limits(), stop=stop))
    assert outcome.interrupted == 2 and outcome.in_flight == 1 and grading.closed
    assert sorted(os.listdir(out / "results")) == ["ada.json"]  # bob was in flight: not recorded
    assert grading.started == ["ada", "bob"]  # nothing new started after the stop
    assert (out / "grades.csv").read_text().count("\n") == 2 and not (out / "summary.md").exists()
    again = Grading(rubric)
    run(subs, out, rubric, again)
    assert sorted(again.graded) == ["bob", "cyd", "dee"]


def test_a_bug_of_ours_outside_grading_still_surfaces(layout, rubric, monkeypatch):
    subs, out = layout

    def broken_write(self, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BatchWriter, "write_result", broken_write)
    with pytest.raises(OSError, match="No space left"):
        run(subs, out, rubric, Grading(rubric))


def test_stale_temporary_files_of_a_killed_run_are_removed(layout, rubric):
    subs, out = layout
    (out / "results").mkdir(parents=True)
    (out / "results" / ".grader-abc123").write_text("{half")
    run(subs, out, rubric, Grading(rubric))
    assert not [n for n in os.listdir(out / "results") if n.startswith(".")]


def test_an_interruption_python_cannot_propagate_is_dropped_quietly_and_the_stop_stays_requested(monkeypatch, capsys):
    """A signal that lands in a callback Python cannot raise from (an import lock's weakref
    callback, a __del__) would print "Exception ignored in" and a traceback: the command's
    hook drops that one exception, the stop stays requested, and any other goes on as before."""
    import signal
    import sys
    import types

    from grader.commands.grade import _Interrupted, _Signals

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signals = _Signals(Stop())
    try:
        signals.install()
        with pytest.raises(_Interrupted):
            signals._outside_loop(signal.SIGINT, None)
        assert signals.stop.requested
        sys.unraisablehook(types.SimpleNamespace(exc_value=_Interrupted(signal.SIGINT)))
        other = types.SimpleNamespace(exc_value=ValueError("a real problem"))
        sys.unraisablehook(other)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert seen == [other]
    assert capsys.readouterr().err == ""
