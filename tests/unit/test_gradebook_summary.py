"""What `grader grade` leaves for the instructor: grades.csv, summary.md and two plots.

Hand-made batch records for one of the course's assignments (whichever comes first), four
students: everything right, one check wrong, an unreadable file, a timeout.
"""

from __future__ import annotations

import csv
import io
import os
import statistics

import pytest

from grader.batch import BatchRecord
from grader.export import read_gradebook
from grader.reporters import gradebook, summary
from grader.results import ERROR, FAILED, PASSED, CheckResult, GradeResult, ManualItem, NotebookError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rubric(rubrics):
    rubric = next(iter(rubrics.values()))
    assert len(rubric.checks) >= 3, "these tests need a first, a last and a middle check"
    return rubric


def _result(rubric, student: str, passed: set[str], errors: list[NotebookError] = ()) -> GradeResult:
    checks = [
        CheckResult(
            c.id,
            c.exercise,
            float(c.points) if c.id in passed else 0.0,
            float(c.points),
            PASSED if c.id in passed else (ERROR if errors else FAILED),
            c.hidden,
            "" if c.id in passed else "wrong",
        )
        for c in rubric.checks
    ]
    return GradeResult(rubric.id, f"{student}.ipynb", rubric.max_score, checks=checks, errors=list(errors))


@pytest.fixture(scope="module")
def records(rubric) -> list[BatchRecord]:
    ids = [c.id for c in rubric.checks]
    first, last = ids[0], ids[-1]
    alice = _result(rubric, "alice", set(ids))
    bob = _result(rubric, "bob", set(ids) - {last}, [NotebookError("cell-error", "cell 3 raised ZeroDivisionError", 3)])
    carol = GradeResult(
        rubric.id,
        "carol.ipynb",
        rubric.max_score,
        errors=[NotebookError("invalid-notebook", "carol.ipynb: not a notebook (invalid JSON at line 1)")],
    )
    dan = _result(rubric, "dan", {first}, [NotebookError("cell-timeout", "cell 5 exceeded the 60 s time limit", 5)])
    return [
        BatchRecord(s, r, "sha-" + s, "rubric-sha")
        for s, r in zip(("alice", "bob", "carol", "dan"), (alice, bob, carol, dan), strict=True)
    ]


def _points(rubric, check_id: str) -> float:
    return next(float(c.points) for c in rubric.checks if c.id == check_id)


def _expected_totals(rubric) -> dict[str, float]:
    first, last = rubric.checks[0].id, rubric.checks[-1].id
    return {
        "alice": rubric.max_score,
        "bob": rubric.max_score - _points(rubric, last),
        "carol": 0.0,
        "dan": _points(rubric, first),
    }


# ----------------------------------------------------------------------------- grades.csv
def test_gradebook_has_a_column_per_check_then_totals_and_status(rubric, records):
    rows = list(csv.reader(io.StringIO(gradebook.render_csv(rubric, records))))
    # Per free-text item its points and its comment, empty until marked.
    manual = [column for m in rubric.manual for column in (f"manual:{m.id}", f"manual:{m.id}:comment")]
    assert rows[0] == ["student", *(c.id for c in rubric.checks), *manual, "total", "max", "percent", "status"]
    assert [r[0] for r in rows[1:]] == ["alice", "bob", "carol", "dan"]
    assert len({len(r) for r in rows}) == 1


def test_gradebook_rows_hold_each_students_points_total_percent_and_status(rubric, records):
    table = {r["student"]: r for r in csv.DictReader(io.StringIO(gradebook.render_csv(rubric, records)))}
    totals = _expected_totals(rubric)
    for student, total in totals.items():
        row = table[student]
        assert float(row["total"]) == total
        assert float(row["max"]) == rubric.max_score
        assert row["percent"] == f"{100 * total / rubric.max_score:.1f}"
        assert sum(float(row[c.id]) for c in rubric.checks) == total
    assert {s: table[s]["status"] for s in totals} == {"alice": "ok", "bob": "ok", "carol": "error", "dan": "timeout"}
    first, last = rubric.checks[0], rubric.checks[-1]
    assert float(table["dan"][first.id]) == first.points and float(table["bob"][last.id]) == 0
    assert {float(table["carol"][c.id]) for c in rubric.checks} == {0.0}  # no checks ran: zeros, not blanks


def test_gradebook_is_what_the_lms_export_reads(rubric, records, tmp_path):
    (tmp_path / "grades.csv").write_text(gradebook.render_csv(rubric, records), encoding="utf-8")
    rows = read_gradebook(str(tmp_path))
    assert {r.student: r.total for r in rows} == _expected_totals(rubric)
    assert {r.max for r in rows} == {rubric.max_score}
    assert [r.student for r in rows if not r.graded] == ["carol", "dan"]


def test_gradebook_of_no_students_is_just_the_header(rubric):
    assert gradebook.render_csv(rubric, []).splitlines() == [",".join(gradebook.header(rubric))]


# ----------------------------------------------------------------------------- summary
@pytest.fixture(scope="module")
def summary_dir(rubric, records, tmp_path_factory):
    out = tmp_path_factory.mktemp("summary")
    summary.write(str(out), rubric, records)
    return out


def _expected_rates(rubric) -> dict[str, float]:
    """alice passes everything, bob all but the last check, dan only the first, carol nothing."""
    first, last = rubric.checks[0].id, rubric.checks[-1].id
    rates = {c.id: 2 / 4 for c in rubric.checks}
    rates[first], rates[last] = 3 / 4, 1 / 4
    return rates


def test_summary_writes_the_markdown_and_both_plots_and_nothing_else(summary_dir):
    assert sorted(os.listdir(summary_dir)) == ["pass_rates.png", "score_histogram.png", "summary.md"]
    for name in ("pass_rates.png", "score_histogram.png"):
        assert (summary_dir / name).read_bytes().startswith(PNG_MAGIC)
    markdown = (summary_dir / "summary.md").read_text(encoding="utf-8")
    assert "![score histogram](score_histogram.png)" in markdown
    assert "![pass rate per check](pass_rates.png)" in markdown


def test_summary_plots_are_images_matplotlib_can_read_back(summary_dir):
    import matplotlib.image

    for name in ("pass_rates.png", "score_histogram.png"):
        height, width, _channels = matplotlib.image.imread(str(summary_dir / name)).shape
        assert height > 100 and width > 100


def test_summary_counts_submissions_by_status_and_states_the_score_spread(rubric, summary_dir):
    lines = (summary_dir / "summary.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {rubric.section} {rubric.title} — class summary"
    assert "* submissions: 4 (ok 2, error 1, timeout 1)" in lines
    totals = list(_expected_totals(rubric).values())
    assert (
        f"* score out of {rubric.max_score:g}: mean {statistics.mean(totals):.2f}, "
        f"median {statistics.median(totals):g}, min {min(totals):g}, max {max(totals):g}"
    ) in lines


def test_summary_lists_checks_from_the_least_passed_with_their_pass_rates(rubric, summary_dir):
    lines = (summary_dir / "summary.md").read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| exercise")]
    rates = _expected_rates(rubric)
    rows = [line.strip("|").split("|") for line in table]
    order = [r[1].strip() for r in rows]
    assert (order[0], order[-1]) == (rubric.checks[-1].id, rubric.checks[0].id)  # what the class failed first
    shown = [float(r[4].strip().rstrip("%")) / 100 for r in rows]
    assert shown == sorted(shown) and len(rows) == len(rubric.checks)
    for check in rubric.checks:
        (row,) = [r for r in rows if r[1].strip() == check.id]
        assert [x.strip() for x in row] == [
            check.exercise,
            check.id,
            f"{check.points:g}",
            "yes" if check.hidden else "no",
            f"{100 * rates[check.id]:.0f}%",
        ]


def test_summary_pass_rates_are_the_share_of_students_passing(rubric, records):
    assert summary.pass_rates(rubric, records) == _expected_rates(rubric)


def test_summary_names_every_notebook_with_a_problem_cell_errors_included(summary_dir):
    markdown = (summary_dir / "summary.md").read_text(encoding="utf-8")
    problems = markdown.split("## Notebook problems\n", 1)[1].strip().splitlines()
    assert problems == [
        "* `bob`: cell 3 raised ZeroDivisionError",
        "* `carol`: carol.ipynb: not a notebook (invalid JSON at line 1)",
        "* `dan`: cell 5 exceeded the 60 s time limit",
    ]


def test_summary_problem_lines_are_inert_markdown_and_say_what_is_not_final(rubric):
    result = GradeResult(
        rubric.id,
        "eve.ipynb",
        rubric.max_score,
        errors=[NotebookError("cell-error", "cell 1 raised X: <img src=x>\n| a |")],
    )
    assert summary.problem_lines(BatchRecord("eve", result, "", "")) == [
        "* `eve`: cell 1 raised X: \\<img src=x\\> \\| a \\|"
    ]
    retry = GradeResult(rubric.id, "fay.ipynb", rubric.max_score, errors=[NotebookError("internal-error", "boom")])
    assert summary.problem_lines(BatchRecord("fay", retry, "", "", final=False)) == [
        "* `fay`: boom (not final: the next run grades it again)"
    ]
    assert summary.problem_lines(BatchRecord("gus", GradeResult(rubric.id, "g.ipynb", rubric.max_score), "", "")) == []


def test_summary_lists_the_students_to_look_at_one_line_each_before_the_problems(summary_dir):
    markdown = (summary_dir / "summary.md").read_text(encoding="utf-8")
    section = markdown.split("## Students to look at\n", 1)[1].split("## Notebook problems", 1)[0]
    assert section.strip().splitlines() == [
        "* `bob`: error (cell 3)",
        "* `carol`: unusable notebook",
        "* `dan`: timeout (cell 5)",
    ]


def test_a_student_to_look_at_gets_every_reason_most_serious_first_with_its_cells(rubric):
    """A timeout can sit beside full marks; an empty free-text answer is invisible in the score."""
    result = _result(
        rubric,
        "eve",
        {c.id for c in rubric.checks},
        [
            NotebookError("cell-error", "cell 7 raised ValueError", 7),
            NotebookError("cell-timeout", "cell 9 exceeded the 60 s time limit", 9),
            NotebookError("cell-error", "cell 2 raised KeyError", 2),
            NotebookError("memory-limit", "cell 4 exceeded the memory limit (4 GiB)", 4),
            NotebookError("wrong-assignment", "this is the pooling notebook"),
            NotebookError("kernel-died", "the kernel died in cell 11", 11),
        ],
    )
    result.manual = [
        ManualItem("why_this", "ex1", "Why?", "Because."),
        ManualItem("proof", "ex2", "Prove it.", "   "),
        ManualItem("form-of-w", "ex3", "What is W?", ""),
    ]
    assert summary.look_at_reasons(BatchRecord("eve", result, "", "", final=False)) == [
        "wrong assignment",
        "kernel died (cell 11)",
        "timeout (cell 9)",
        "memory limit hit (cell 4)",
        "error (cells 2, 7)",
        "missing free-text answers: proof, form-of-w",
        "not final (the next run grades it again)",
    ]
    clean = _result(rubric, "gus", {c.id for c in rubric.checks})
    clean.manual = [ManualItem("why_this", "ex1", "Why?", "Because.")]
    assert summary.look_at_reasons(BatchRecord("gus", clean, "", "")) == []


def test_students_to_look_at_are_sorted_by_their_gradebook_id(rubric):
    def missing_answer(student):
        result = _result(rubric, student, set())
        result.manual = [ManualItem("essay", "ex1", "Discuss.", "")]
        return BatchRecord(student, result, "", "")

    records = [missing_answer(s) for s in ("zoe", "Zo%C3%AB", "adam")]
    assert summary.look_at_lines(records) == [
        f"* `{s}`: missing free-text answers: essay" for s in ("Zo%C3%AB", "adam", "zoe")
    ]


def test_pass_rate_plot_puts_the_least_passed_check_at_the_top(rubric, records):
    import matplotlib.pyplot as plt

    rates = summary.pass_rates(rubric, records)
    scores = [r.result.score for r in records]
    fig = summary.pass_rate_figure(summary.plot_data(rubric, scores, summary.by_pass_rate(rubric, rates), rates))
    (ax,) = fig.axes
    fig.canvas.draw()
    top_to_bottom = sorted(ax.get_yticklabels(), key=lambda label: label.get_position()[1])
    if not ax.yaxis_inverted():
        top_to_bottom.reverse()
    shown = [rates[label.get_text()] for label in top_to_bottom]
    plt.close(fig)
    assert shown == sorted(shown) and top_to_bottom[0].get_text() == rubric.checks[-1].id


def test_score_histogram_counts_students_in_whole_numbers(rubric, records):
    import matplotlib.pyplot as plt

    rates = summary.pass_rates(rubric, records)
    scores = [r.result.score for r in records]
    fig = summary.histogram_figure(summary.plot_data(rubric, scores, rubric.checks, rates))
    (ax,) = fig.axes
    fig.canvas.draw()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    plt.close(fig)
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_summary_of_an_empty_batch_still_writes_every_file(rubric, tmp_path):
    summary.write(str(tmp_path), rubric, [])
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "* submissions: 0 (ok 0, error 0, timeout 0)" in markdown
    assert "score out of" not in markdown and "## Notebook problems" not in markdown
    assert "## Students to look at" not in markdown
    assert sorted(os.listdir(tmp_path)) == ["pass_rates.png", "score_histogram.png", "summary.md"]
