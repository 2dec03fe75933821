"""Benchmark: how long a student waits for feedback.

1. `grader.check(EXERCISE)` inside a running notebook (a real Jupyter kernel driven by
   nbclient, with the solved conv-layer notebook's code run first): the first check of the
   session (it starts the grader process, which imports torch and the course) and the warm
   checks after it (the goal: <= 1 s), timed inside the kernel.
2. A cold `grader check examples/submission.ipynb` from a terminal (whole command).

    python bench/notebook_check.py [--exercise ex3] [--warm 10] [--cold 3]

The machines are shared: each figure is printed for every run, with the best and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def in_notebook(exercise: str, warm: int) -> tuple[float, list[float]]:
    reference = nbformat.read(os.path.join(ROOT, "reference", "conv-layer.ipynb"), as_version=4)
    cells = [nbformat.v4.new_code_cell(c.source) for c in reference.cells if c.cell_type == "code"]
    timing = f"""
import json, time, grader
times = []
for _ in range({warm + 1}):
    started = time.perf_counter()
    report = grader.check({exercise!r})
    times.append(time.perf_counter() - started)
assert report.max_score > 0
print(json.dumps(times))
"""
    cells.append(nbformat.v4.new_code_cell(timing))
    nb = nbformat.v4.new_notebook(cells=cells)
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": folder}}).execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    times = json.loads(out.strip().splitlines()[-1])
    return times[0], times[1:]


def cold_check() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grader", "check", "examples/submission.ipynb"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exercise", default="ex3")
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()
    first, warm = in_notebook(args.exercise, args.warm)
    print(
        f"grader.check({args.exercise!r}) in a notebook: first {first:.3f} s; warm best {min(warm):.3f} s, "
        f"median {statistics.median(warm):.3f} s  [warm runs: {', '.join(f'{t:.3f}' for t in warm)}]"
    )
    colds = [cold_check() for _ in range(args.cold)]
    print(
        f"cold `grader check examples/submission.ipynb`: best {min(colds):.2f} s, median "
        f"{statistics.median(colds):.2f} s  [runs: {', '.join(f'{t:.2f}' for t in colds)}]"
    )


if __name__ == "__main__":
    main()
