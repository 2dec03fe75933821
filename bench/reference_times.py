"""Benchmark: how long each assignment's reference notebook takes to grade.

The chapter-7 issue's bound is 10 s per reference notebook on this (2-core) machine. Two
figures per assignment, each the best and the median of `--repeat` runs:

* cold: a whole `grader check reference/X.ipynb --format json` command, as a student runs it
  (interpreter start, torch import, the warm parent, the kernel, the judge);
* warm: `Grader.grade` in one long-lived grader, as `grader grade` pays it per notebook once
  the batch is under way.

    python bench/reference_times.py [ID ...] [--repeat 3] [--limit 10]

Exit 1 when an assignment's best cold time is over the limit or its reference does not score
full marks. The machines are shared: every run is printed, not only the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def cold(notebook: str) -> tuple[float, float, float]:
    """(wall seconds, score, max score) of one `grader check` command."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", notebook, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return wall, 0.0, -1.0
    return wall, float(report["score"]), float(report["max_score"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="assignments (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=10.0, help="seconds allowed per reference notebook")
    args = parser.parse_args()

    from grader.course import load_course
    from grader.grading import Grader

    course = load_course(ROOT)
    chosen = [course.get(i) for i in args.ids] if args.ids else list(course.assignments.values())
    rows = []
    with Grader(course=course) as grader:
        for rubric in chosen:
            notebook = course.reference_notebook(rubric)
            colds, warms, full = [], [], True
            for _ in range(args.repeat):
                wall, score, max_score = cold(notebook)
                colds.append(wall)
                full = full and score == max_score
                started = time.perf_counter()
                result = grader.grade(notebook, rubric)
                warms.append(time.perf_counter() - started)
                full = full and result.score == result.max_score
            print(
                f"{rubric.id:<20} cold {' '.join(f'{t:5.2f}' for t in colds)} s   "
                f"warm {' '.join(f'{t:5.2f}' for t in warms)} s   {'100%' if full else 'NOT FULL MARKS'}",
                flush=True,
            )
            rows.append((rubric, colds, warms, full))
    print()
    print(
        f"{'assignment':<20} {'section':<8} {'cold best':>10} {'cold median':>12} {'warm best':>10} {'warm median':>12}"
    )
    failed = 0
    for rubric, colds, warms, full in rows:
        over = min(colds) > args.limit
        failed += over or not full
        mark = "" if full and not over else ("  OVER THE LIMIT" if over else "  NOT FULL MARKS")
        print(
            f"{rubric.id:<20} {rubric.section:<8} {min(colds):>9.2f}s {statistics.median(colds):>11.2f}s "
            f"{min(warms):>9.2f}s {statistics.median(warms):>11.2f}s{mark}"
        )
    print(f"\nlimit: {args.limit:g} s per reference notebook (cold `grader check`); {failed} over it or short of 100%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
