"""Late work in the gradebook: `raw`, `days_late`, `late_penalty`, `late_source` and a `total`
after the penalty; the policy kept in `late-policy.json` for every later rewrite of the
gradebook (`grader manual`, `grader review`); the notebook's time recorded with its result but
never part of the resume key; and `grader grade`'s late options refused in one line, before
anything starts. Every number is exact; no kernel is started.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from grader import cli
from grader.batch import BatchRecord, BatchWriter, record_from_json, run_batch
from grader.export import read_gradebook
from grader.lateness import LatenessError
from grader.limits import Limits
from grader.manual import GradedBatch, ManualError
from grader.reporters import gradebook
from grader.reporters.gradebook import LateRules, read_late_rules, write_late_rules
from grader.results import FAILED, PASSED, CheckResult, GradeResult
from grader.staging import discover

DEADLINE = datetime(2024, 3, 1, 23, 59, tzinfo=UTC)
HOUR = 3600.0
DAY = 24 * HOUR
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture(scope="module")
def rubric(rubrics):
    return rubrics["conv-layer"]  # its checks' points (rubric.max_score); its free-text items are worth 0


@pytest.fixture(scope="module")
def scored(rubric):
    """conv-layer with each of its free-text items worth 2 points (max: the checks' points + 2 per item)."""
    manual = [m.model_copy(update={"points": 2.0}) for m in rubric.manual]
    return dataclasses.replace(rubric, manual=manual)


def g(number: float) -> str:
    """A number as the gradebook and the feedback write it."""
    return f"{round(number, 6):g}"


def worth(rubric) -> float:
    """What the gradebook's `max` holds: the checks' points and the free-text items' points."""
    return rubric.max_score + sum(m.points for m in rubric.manual)


def result(rubric, wrong: set[str] = frozenset()) -> GradeResult:
    checks = [
        CheckResult(
            c.id,
            c.exercise,
            0.0 if c.id in wrong else c.points,
            c.points,
            FAILED if c.id in wrong else PASSED,
            c.hidden,
        )
        for c in rubric.checks
    ]
    return GradeResult(rubric.id, "x.ipynb", rubric.max_score, checks=checks)


def record(rubric, student: str, *, late_by: float | None = None, name: str = "", wrong=frozenset()) -> BatchRecord:
    """A result whose notebook was last modified `late_by` seconds after the deadline (None: unknown)."""
    mtime = None if late_by is None else DEADLINE.timestamp() + late_by
    return BatchRecord(student, result(rubric, wrong), "sha", "rubric", name=name or f"{student}.ipynb", mtime=mtime)


def rows(text: str) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


def late_columns(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in ("raw", "days_late", "late_penalty", "late_source", "total", "max", "percent"))


def rules(**options) -> LateRules:
    return LateRules.from_options("2024-03-01T23:59Z", options.pop("penalty", "10%/day"), **options)


# ----------------------------------------------------------------------------- rendering
def test_late_columns_show_raw_days_penalty_and_source_and_the_total_is_after_the_penalty(rubric, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\ncarol,2024-03-04T10:00Z\nfay.ipynb,2024-03-02T00:30Z\n")
    first = rubric.checks[0].id
    first_points = f"{rubric.max_score - rubric.checks[0].points:g}"
    records = [
        record(rubric, "alice", late_by=-HOUR),
        record(rubric, "bob", late_by=DAY + HOUR),  # two days begun
        record(rubric, "carol", late_by=-DAY, wrong={first}),  # the CSV wins over the file: 3 days
        record(rubric, "xuerin_LATE_98765_4321_conv-layer", late_by=9 * DAY),  # Canvas: the LATE flag only
        record(rubric, "eve"),  # no time at all
        record(rubric, "fay", late_by=0),  # named in the CSV by its file name
    ]
    text = gradebook.render_csv(rubric, records, late=rules(times_file=str(times)))
    assert text.splitlines()[0].endswith(",raw,days_late,late_penalty,late_source,total,max,percent,status")
    got = rows(text)
    full = rubric.max_score
    assert late_columns(got["alice"]) == (g(full), "0", "0%", "mtime", g(full), g(full), "100.0")
    assert late_columns(got["bob"]) == (g(full), "2", "20%", "mtime", g(full * 0.8), g(full), "80.0")
    carol_total = g((rubric.max_score - rubric.checks[0].points) * 0.7)
    assert late_columns(got["carol"])[:5] == (first_points, "3", "30%", "csv", carol_total)
    assert got["carol"][first] == "0"
    canvas = late_columns(got["xuerin_LATE_98765_4321_conv-layer"])
    assert canvas == (g(full), "1", "10%", "canvas", g(full * 0.9), g(full), "90.0")
    assert late_columns(got["eve"]) == (g(full), "0", "0%", "unknown", g(full), g(full), "100.0")
    assert late_columns(got["fay"]) == (g(full), "1", "10%", "csv", g(full * 0.9), g(full), "90.0")


def test_the_cap_and_the_grace_period_apply(rubric):
    records = [record(rubric, "gil", late_by=10 * 60), record(rubric, "hal", late_by=9 * DAY)]
    got = rows(gradebook.render_csv(rubric, records, late=rules(penalty="15%/day", cap="50%", grace="15m")))
    full = rubric.max_score
    assert late_columns(got["gil"]) == (g(full), "0", "0%", "mtime", g(full), g(full), "100.0")
    assert late_columns(got["hal"]) == (g(full), "9", "50%", "mtime", g(full * 0.5), g(full), "50.0")


def test_the_penalty_takes_its_share_of_the_checks_and_the_free_text_marks_together(scored, tmp_path):
    from grader.manual import Mark, Marks

    marks = Marks(scored.id)
    marks.put("ivy", scored.manual[0].id, Mark(1.5, "fine"))
    text = gradebook.render_csv(scored, [record(scored, "ivy", late_by=HOUR)], marks, rules())
    row = rows(text)["ivy"]
    assert row[f"manual:{scored.manual[0].id}"] == "1.5"
    raw, late = scored.max_score + 1.5, (scored.max_score + 1.5) * 0.9  # the checks and the mark, × 0.9
    assert late_columns(row) == (
        g(raw),
        "1",
        "10%",
        "mtime",
        g(late),
        g(worth(scored)),
        f"{100 * late / worth(scored):.1f}",
    )


def test_without_a_policy_the_gradebook_has_no_late_columns(rubric):
    text = gradebook.render_csv(rubric, [record(rubric, "bob", late_by=5 * DAY)])
    assert "raw" not in text.splitlines()[0].split(",")
    assert rows(text)["bob"]["total"] == g(rubric.max_score)


def test_gradescope_times_count_and_the_lms_export_reads_the_total_after_the_penalty(rubric, tmp_path):
    kept = dataclasses.replace(rules(), gradescope={"submission_7": DEADLINE + timedelta(days=1, minutes=1)})
    (tmp_path / "grades.csv").write_text(gradebook.render_csv(rubric, [record(rubric, "submission_7")], late=kept))
    assert rows((tmp_path / "grades.csv").read_text())["submission_7"]["late_source"] == "gradescope"
    [row] = read_gradebook(str(tmp_path))
    assert (row.student, row.total, row.max) == ("submission_7", round(rubric.max_score * 0.8, 6), rubric.max_score)


# ----------------------------------------------------------------------------- late-policy.json
def test_the_policy_file_round_trips_with_the_deadline_resolved_to_its_offset(tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\nalice,2024-03-02T10:00+01:00\n")
    given = dataclasses.replace(
        LateRules.from_options("2024-03-01T23:59", "10%/day", "50%", "15m", str(times)),
        gradescope={"submission_1": DEADLINE},
    )
    write_late_rules(str(tmp_path), given)
    back = read_late_rules(str(tmp_path))
    assert back == given and back.policy == given.policy
    stored = json.loads((tmp_path / "late-policy.json").read_text())
    assert stored["deadline"] == datetime(2024, 3, 1, 23, 59).astimezone().isoformat()  # this machine's offset
    assert stored["submitted_at"] == {"alice": "2024-03-02T10:00:00+01:00"}
    assert read_late_rules(str(tmp_path / "elsewhere")) is None


@pytest.mark.parametrize(
    "content", ["{", '{"schema_version": 1, "deadline": "soon", "late_penalty": "10%/day"}', '{"schema_version": 9}']
)
def test_a_damaged_policy_file_is_refused_in_one_line(tmp_path, content):
    (tmp_path / "late-policy.json").write_text(content)
    with pytest.raises(LatenessError, match=r"late-policy\.json: not a") as caught:
        read_late_rules(str(tmp_path))
    assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- regeneration
def write_results(out, rubric, records: list[BatchRecord]) -> None:
    os.makedirs(out / "results", exist_ok=True)
    for rec in records:
        (out / "results" / f"{rec.student}.json").write_text(rec.to_json())


def test_a_mark_given_after_grading_rewrites_the_gradebook_with_the_same_late_columns(scored, tmp_path):
    out = tmp_path / "graded"
    write_results(out, scored, [record(scored, "ivy", late_by=HOUR), record(scored, "jon", late_by=-HOUR)])
    write_late_rules(str(out), rules())
    batch = GradedBatch.open(str(out), scored)
    batch.set_mark("ivy", scored.manual[0].id, 1.5, "late, but good")
    got = rows((out / "grades.csv").read_text())
    full, most = scored.max_score, worth(scored)
    raw, late = full + 1.5, (full + 1.5) * 0.9
    assert late_columns(got["ivy"]) == (g(raw), "1", "10%", "mtime", g(late), g(most), f"{100 * late / most:.1f}")
    assert late_columns(got["jon"]) == (g(full), "0", "0%", "mtime", g(full), g(most), f"{100 * full / most:.1f}")


def test_feedback_shows_the_score_the_gradebook_has_and_why_it_is_lower(scored, tmp_path):
    from grader.feedback import render_markdown

    out = tmp_path / "graded"
    write_results(out, scored, [record(scored, "ivy", late_by=DAY + HOUR), record(scored, "jon", late_by=-HOUR)])
    write_late_rules(str(out), rules())
    batch = GradedBatch.open(str(out), scored)
    batch.set_mark("ivy", scored.manual[0].id, 1.5)
    gradebook_row = rows((out / "grades.csv").read_text())["ivy"]
    ivy = render_markdown(batch, "ivy")
    assert f"Score: {gradebook_row['total']}/{gradebook_row['max']} ({gradebook_row['percent']}%)" in ivy
    assert f"late 2 days: 20% off {g(scored.max_score + 1.5)}" in ivy
    jon = render_markdown(batch, "jon")
    full, most = scored.max_score, worth(scored)
    assert f"Score: {g(full)}/{g(most)} ({100 * full / most:.1f}%)" in jon and "% off" not in jon


def test_a_damaged_policy_stops_a_mark_before_anything_is_written(scored, tmp_path):
    out = tmp_path / "graded"
    write_results(out, scored, [record(scored, "ivy", late_by=HOUR)])
    (out / "late-policy.json").write_text("{")
    batch = GradedBatch.open(str(out), scored)
    with pytest.raises(ManualError, match=r"late-policy\.json: not a late policy"):
        batch.set_mark("ivy", scored.manual[0].id, 1.5)
    assert not (out / "manual.json").exists()


# ----------------------------------------------------------------------------- the batch records the time
@pytest.fixture
def no_plots(monkeypatch):
    """summary.md is written as always; its plots (matplotlib) are not needed here."""
    from grader.reporters import summary

    monkeypatch.setattr(summary, "_plots", lambda *args: None)


class FullMarks:
    def __init__(self, rubric):
        self.rubric, self.graded = rubric, []

    async def __call__(self, sub) -> GradeResult:
        self.graded.append(sub.student)
        return result(self.rubric)


def run(subs, out, rubric, grading) -> None:
    found = discover(str(subs), rubric.notebook)
    asyncio.run(run_batch(found, rubric, BatchWriter(str(out), rubric), grading, jobs=1, resume=True, limits=Limits()))


def test_the_notebooks_time_is_recorded_but_a_new_time_alone_regrades_nothing(rubric, tmp_path, no_plots):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "kim").mkdir()
    for path in (subs / "ann.ipynb", subs / "kim" / "conv-layer.ipynb"):
        path.write_text(NOTEBOOK)
        os.utime(path, (DEADLINE.timestamp() + 2 * DAY,) * 2)
    write_late_rules(str(out), rules())
    run(subs, out, rubric, FullMarks(rubric))

    def stored(student):
        return json.loads((out / "results" / f"{student}.json").read_text())

    assert stored("kim")["submission"]["mtime"] == DEADLINE.timestamp() + 2 * DAY
    assert rows((out / "grades.csv").read_text())["ann"]["total"] == g(rubric.max_score * 0.8)  # 2 days: 20% off
    os.utime(subs / "ann.ipynb", (DEADLINE.timestamp() - DAY,) * 2)  # touched back: earlier
    os.utime(subs / "kim" / "conv-layer.ipynb", (DEADLINE.timestamp() + 9 * DAY,) * 2)  # downloaded again: later
    again = FullMarks(rubric)
    run(subs, out, rubric, again)
    assert again.graded == []
    assert stored("ann")["submission"]["mtime"] == DEADLINE.timestamp() - DAY  # the earliest seen is kept
    assert stored("kim")["submission"]["mtime"] == DEADLINE.timestamp() + 2 * DAY
    assert record_from_json("ann", stored("ann")).mtime == DEADLINE.timestamp() - DAY
    got = rows((out / "grades.csv").read_text())
    assert (got["ann"]["total"], got["kim"]["total"]) == (g(rubric.max_score), g(rubric.max_score * 0.8))


def test_a_canvas_resubmission_is_the_same_student_for_resume_marks_and_the_late_flag(scored, tmp_path, no_plots):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "xuerin_98765_4321_conv-layer.ipynb").write_text(NOTEBOOK)
    write_late_rules(str(out), rules())
    run(subs, out, scored, FullMarks(scored))
    GradedBatch.open(str(out), scored).set_mark("xuerin_98765", scored.manual[0].id, 2, "kept")
    (subs / "xuerin_98765_4321_conv-layer.ipynb").unlink()  # the new download holds the resubmission only
    (subs / "xuerin_LATE_98765_4400_conv-layer-1.ipynb").write_text(NOTEBOOK.replace("[]", "[ ]", 1))
    again = FullMarks(scored)
    run(subs, out, scored, again)
    assert again.graded == ["xuerin_98765"]  # new bytes: graded again, under the same id
    assert os.listdir(out / "results") == ["xuerin_98765.json"]
    stored = json.loads((out / "results" / "xuerin_98765.json").read_text())
    assert stored["submission"]["name"] == "xuerin_LATE_98765_4400_conv-layer-1.ipynb"
    assert stored["marks"] == {scored.manual[0].id: {"points": 2.0, "comment": "kept"}}
    row = rows((out / "grades.csv").read_text())["xuerin_98765"]
    assert row[f"manual:{scored.manual[0].id}"] == "2" and row["late_source"] == "canvas"
    assert late_columns(row)[:4] == (g(scored.max_score + 2), "1", "10%", "canvas")  # the LATE flag of the file graded
    unchanged = FullMarks(scored)
    run(subs, out, scored, unchanged)
    assert unchanged.graded == []  # resumed: the same id finds its result


# ----------------------------------------------------------------------------- grader grade's options
@pytest.fixture(autouse=True)
def no_kernel(monkeypatch):
    """Any attempt to start the warm fork server (the thing that starts kernels) fails the test."""
    import grader.warm_parent

    def refuse(self, *args, **kwargs):
        raise AssertionError("a unit test tried to start the fork server")

    monkeypatch.setattr(grader.warm_parent.ForkServer, "__init__", refuse)


def grade(tmp_path, *options: str) -> Result:
    (tmp_path / "subs").mkdir(exist_ok=True)
    args = ["grade", str(tmp_path / "subs"), "--assignment", "conv-layer", "--out", str(tmp_path / "out"), *options]
    return CliRunner().invoke(cli.main, args, prog_name="grader")


def assert_refused(result: Result, expected: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [expected]


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            ["--deadline", "2024-03-01", "--late-penalty", "10%/day"],
            "grader: --deadline: '2024-03-01' is not a date and time (ISO 8601, e.g. 2024-03-01T23:59+01:00)",
        ),
        (
            ["--deadline", "2024-03-01T23:59Z", "--late-penalty", "10 points"],
            "grader: --late-penalty: '10 points' is not a late penalty such as 10%/day",
        ),
        (
            ["--deadline", "2024-03-01T23:59Z", "--late-penalty", "10%/day", "--late-cap", "150%"],
            "grader: --late-cap: '150%' is not a percentage from 0% to 100%",
        ),
        (
            ["--deadline", "2024-03-01T23:59Z", "--late-penalty", "10%/day", "--grace", "15"],
            "grader: --grace: '15' is not a duration such as 15m, 2h or 1d",
        ),
        (["--late-penalty", "10%/day"], "grader: --late-penalty needs --deadline"),
        (["--submitted-at", "times.csv"], "grader: --submitted-at needs --deadline"),
        (["--deadline", "2024-03-01T23:59Z"], "grader: --deadline needs --late-penalty (e.g. 10%/day)"),
        (
            ["--no-late-policy", "--deadline", "2024-03-01T23:59Z", "--late-penalty", "10%/day"],
            "grader: --no-late-policy cannot be combined with --deadline or the late-penalty options",
        ),
    ],
)
def test_unusable_late_options_exit_2_with_one_line_before_anything_starts(tmp_path, options, expected):
    assert_refused(grade(tmp_path, *options), expected)
    assert not (tmp_path / "out").exists()


def test_an_unusable_submission_times_file_names_itself_and_its_line(tmp_path):
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\nalice,yesterday\n")
    result = grade(
        tmp_path, "--deadline", "2024-03-01T23:59Z", "--late-penalty", "10%/day", "--submitted-at", str(times)
    )
    assert_refused(
        result,
        f"grader: --submitted-at: {times}: line 2: 'yesterday' is not a date and time "
        "(ISO 8601, e.g. 2024-03-01T23:59+01:00)",
    )


def test_a_damaged_kept_policy_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "late-policy.json").write_text("[]")
    result = grade(tmp_path)
    assert result.exit_code == 2 and result.stderr.startswith("grader: ") and "late-policy.json: not a" in result.stderr


def test_one_warning_line_counts_the_times_that_are_only_file_times_or_unknown(rubric, capsys):
    from grader.batch import BatchOutcome
    from grader.commands.grade import _warn_unreliable_times

    records = [record(rubric, "a", late_by=HOUR), record(rubric, "b"), record(rubric, "c", late_by=0)]
    _warn_unreliable_times(BatchOutcome({r.student: r for r in records}), rules())
    assert capsys.readouterr().err.splitlines() == [
        "grader: warning: late work: 2 submission times are only the notebook file's time "
        "(a copy or download may change it) and 1 is unknown (no penalty); --submitted-at CSV gives exact times"
    ]
    times = {r.student: DEADLINE for r in records}
    _warn_unreliable_times(BatchOutcome({r.student: r for r in records}), dataclasses.replace(rules(), times=times))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "marks, expected",
    [
        ("{", "not a marks file"),
        ('{"schema_version": 1, "assignment": "pooling", "marks": {}}', "holds marks for assignment 'pooling'"),
    ],
)
def test_damaged_or_foreign_marks_stop_the_batch_before_anything_is_graded(tmp_path, marks, expected):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text("{}")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manual.json").write_text(marks)
    result = grade(tmp_path)
    assert result.exit_code == 2, (result.exit_code, result.output)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("grader: ") and "manual.json" in line and expected in line
    assert not (tmp_path / "out" / "results").exists()
