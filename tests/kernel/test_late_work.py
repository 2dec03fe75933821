"""Late work end to end: `grader grade --deadline … --late-penalty 10%/day` on real notebooks
takes 10% per day begun from a late notebook (its file time, or the instructor's CSV, which
wins), keeps the policy for the next run, and `--no-late-policy` gives the raw scores back.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from nbfactory import variant

from grader.course import load_course

NB = "conv-layer.ipynb"
FULL = load_course().get("conv-layer").max_score  # the reference's score
WRONG = {"    return d + 1": "    return d"}  # min-kernel-size (1 point) fails: FULL - 1
DEADLINE = datetime(2024, 3, 1, 23, 59, tzinfo=UTC)


def grade(subs, out, *extra) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "grader", "grade", str(subs), "--assignment", "conv-layer", "--out", str(out)]
    proc = subprocess.run([*command, "--cell-timeout", "10", *extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def gradebook(out) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def g(number: float) -> str:
    """A number as grades.csv writes it."""
    return f"{round(number, 6):g}"


def modified(path: str, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_a_notebook_two_days_late_loses_20_percent_and_the_policy_stays_until_removed(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    modified(variant(NB, subs, name="alice.ipynb"), DEADLINE - timedelta(hours=1))
    modified(variant(NB, subs, name="bob.ipynb"), DEADLINE + timedelta(days=1, hours=1))  # 2 days begun
    modified(variant(NB, subs, WRONG, name="carol.ipynb"), DEADLINE + timedelta(days=30))  # the CSV wins
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\ncarol,2024-03-02T09:00:00+01:00\n")  # 1 day late
    policy = ["--deadline", "2024-03-01T23:59Z", "--late-penalty", "10%/day", "--submitted-at", str(times)]

    first = grade(subs, out, *policy)
    rows = gradebook(out)
    late = ("raw", "days_late", "late_penalty", "late_source", "total", "percent")
    full, wrong = FULL, FULL - 1
    assert [rows["alice"][c] for c in late] == [g(full), "0", "0%", "mtime", g(full), "100.0"]
    assert [rows["bob"][c] for c in late] == [g(full), "2", "20%", "mtime", g(full * 0.8), "80.0"]
    # carol: one point short, then 10% off that
    carol = [g(wrong), "1", "10%", "csv", g(wrong * 0.9), f"{100 * wrong * 0.9 / full:.1f}"]
    assert [rows["carol"][c] for c in late] == carol
    warnings = [line for line in first.stderr.splitlines() if "late work" in line]
    assert len(warnings) == 1 and warnings[0] == (
        "grader: warning: late work: 2 submission times are only the notebook file's time "
        "(a copy or download may change it); --submitted-at CSV gives exact times"
    )
    assert (out / "late-policy.json").exists()

    kept = grade(subs, out)  # no options: the policy of the folder applies; nothing is graded again
    assert f"applying the late policy kept in {out / 'late-policy.json'}" in kept.stderr
    assert gradebook(out) == rows

    grade(subs, out, "--no-late-policy")
    rows = gradebook(out)
    assert "raw" not in rows["bob"] and not (out / "late-policy.json").exists()
    assert [rows[s]["total"] for s in ("alice", "bob", "carol")] == [g(FULL), g(FULL), g(FULL - 1)]
