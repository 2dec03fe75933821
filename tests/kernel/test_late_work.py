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

NB = "conv-layer.ipynb"
WRONG = {"    return d + 1": "    return d"}  # min-kernel-size fails: 19/20
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
    assert [rows["alice"][c] for c in late] == ["20", "0", "0%", "mtime", "20", "100.0"]
    assert [rows["bob"][c] for c in late] == ["20", "2", "20%", "mtime", "16", "80.0"]
    assert [rows["carol"][c] for c in late] == ["19", "1", "10%", "csv", "17.1", "85.5"]
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
    assert [rows[s]["total"] for s in ("alice", "bob", "carol")] == ["20", "20", "19"]
