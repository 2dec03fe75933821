"""Benchmark: `grader grade -j 2` against the naive path, measured in the same run.

The naive path is what a grader without a warm parent does: a fresh nbclient kernel per
notebook (`python -m ipykernel`, which imports torch again), run serially. It grades a
sample of the submissions (it is slow); both rates are per notebook.

    python bench/batch_speed.py [--submissions 100] [--naive-sample 10] [--jobs 2] [--repeat 3]

Prints notebooks/second for each path, their ratio, seconds per notebook, and the peak
memory of the whole `grader grade` process tree for half and all of the submissions
(flat means memory does not grow with the class size).

The machines are shared: another tenant's burst can slow any one run by half. Each path is
therefore timed `--repeat` times, the two paths taking turns, and the best run of each is
compared (as `timeit` does: interference only ever adds time). Every run is printed too.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import nbformat
import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MISTAKES = [
    {"W[i * ow + j] = block.reshape(-1)": "W[i * ow + j] = block.T.reshape(-1)"},
    {"    return d + 1": "    return d"},
    {"return torch.ones((1, n))": "return torch.ones((1, n)) / n"},
    {"torch.tensor([[1.0, -2.0, 1.0]])": "torch.tensor([[-1.0, 2.0, -1.0]])"},
    {"Y_diag_KT = corr2d(X_diag, K.T)": "Y_diag_KT = corr2d(X_diag, K)"},
]
BROKEN = [
    {"def corr2d_matmul(X, K):": "def corr2d_matmul(X, K):\n    raise ValueError('todo')\n\n\ndef _old(X, K):"},
    {"K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = undefined_name"},
]


def make_submissions(folder: str, count: int, seed: int = 0) -> None:
    """A realistic class: mostly correct, some wrong, some broken, a few unusable files."""
    rng = random.Random(seed)
    reference = nbformat.read(os.path.join(ROOT, "reference", "conv-layer.ipynb"), as_version=4)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        path = os.path.join(folder, f"student{i:03d}.ipynb")
        roll = i % 20
        if roll == 19:
            with open(path, "w") as f:
                f.write("{ not a notebook")
            continue
        nb = nbformat.from_dict(reference)
        edits = {}
        if roll < 12:  # correct, with a different diagonal image now and then
            if rng.random() < 0.5:
                edits = {
                    "X_diag = torch.tril(torch.ones(6, 6))": f"X_diag = torch.triu(torch.ones({rng.randint(3, 8)}, {rng.randint(3, 8)}))"
                }
        elif roll < 17:
            edits = MISTAKES[i % len(MISTAKES)]
        else:
            edits = BROKEN[i % len(BROKEN)]
        for cell in nb.cells:
            if cell.cell_type == "code":
                for old, new in edits.items():
                    cell.source = cell.source.replace(old, new)
        nbformat.write(nb, path)


def naive_grade(paths: list[str]) -> float:
    """Seconds per notebook for: fresh kernel, run cells, run the same harness, evaluate."""
    from nbclient import NotebookClient

    from grader.api import load_course
    from grader.execute import harness_cell_source, read_harness_output
    from grader.judging import evaluate
    from grader.planning import plan as make_plan

    rubric = load_course().get("conv-layer")
    plan = make_plan(rubric)
    started = time.perf_counter()
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            continue  # the unusable files cost nothing on either path
        token = secrets.token_hex(8)
        request = plan.request(token, 20)
        harness = nbformat.v4.new_code_cell(harness_cell_source(request))
        student_cells = list(nb.cells)
        nb.cells.append(harness)  # nbclient stores each executed cell back into the notebook
        client = NotebookClient(
            nb,
            kernel_name="python3",
            allow_errors=True,
            timeout=60,
            resources={"metadata": {"path": tempfile.mkdtemp()}},
        )
        replies: list = []
        client.on_cell_executed = lambda cell, cell_index, execute_reply, replies=replies: replies.append(execute_reply)
        with client.setup_kernel():
            for index, cell in enumerate(student_cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            execute = client.kc.execute  # the harness's results travel in the execute reply too
            client.kc.execute = functools.partial(execute, user_expressions={request["slot"]: request["slot"]})
            client.execute_cell(harness, len(nb.cells) - 1)
        fetched, _ = read_harness_output(harness.get("outputs", []), request, replies[-1] if replies else None)
        evaluate(plan, fetched, "no results")
    return (time.perf_counter() - started) / len(paths)


def fast_grade(folder: str, out: str, jobs: int, measure_memory: bool) -> tuple[float, int]:
    """Wall seconds of the real `grader grade` command, and the peak PSS of its process tree.

    Sampling memory reads every process's smaps, which costs CPU on a 2-core machine, so
    timing runs do not sample and memory runs are not timed.
    """
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        folder,
        "--assignment",
        "conv-layer",
        "--out",
        out,
        "-j",
        str(jobs),
    ]
    peak = [0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    done = threading.Event()

    def sample() -> None:
        # PSS splits pages shared copy-on-write between the warm parent and its kernels,
        # so the sum is the tree's real footprint (RSS would count torch once per kernel).
        root = psutil.Process(proc.pid)
        while not done.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_full_info().pss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak[0] = max(peak[0], total)
            time.sleep(0.25)

    thread = threading.Thread(target=sample, daemon=True)
    if measure_memory:
        thread.start()
    code = proc.wait()
    elapsed = time.perf_counter() - started
    done.set()
    if measure_memory:
        thread.join()
    if code != 0:
        raise SystemExit(f"grader grade failed with exit code {code}")
    return elapsed, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--naive-sample", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path; the best counts")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="d2l-bench-")
    try:
        full = os.path.join(work, "class")
        make_submissions(full, args.submissions)
        half = os.path.join(work, "half")
        os.makedirs(half)
        for name in sorted(os.listdir(full))[: args.submissions // 2]:
            shutil.copy(os.path.join(full, name), half)

        sample = [os.path.join(full, n) for n in sorted(os.listdir(full))[: args.naive_sample]]
        fast_runs, naive_runs = [], []
        for _ in range(max(1, args.repeat)):  # the two paths take turns, so both meet the same load
            fast_runs.append(fast_grade(full, os.path.join(work, "out-full"), args.jobs, measure_memory=False)[0])
            naive_runs.append(naive_grade(sample))
        _, peak_half = fast_grade(half, os.path.join(work, "out-half-mem"), args.jobs, measure_memory=True)
        _, peak_full = fast_grade(full, os.path.join(work, "out-full-mem"), args.jobs, measure_memory=True)
        fast_full, naive_per = min(fast_runs), min(naive_runs)

        fast_per = fast_full / args.submissions
        print(f"submissions: {args.submissions} conv-layer notebooks (correct, wrong, broken, unusable mixed)")
        print(
            f"naive  (fresh nbclient kernel per notebook, serial, {len(sample)} sampled): "
            f"{naive_per:.3f} s/notebook = {1 / naive_per:.2f} notebooks/s"
            f"  [runs: {', '.join(f'{r:.3f}' for r in naive_runs)}]"
        )
        print(
            f"grader grade -j {args.jobs} (whole command, start-up included): "
            f"{fast_full:.2f} s = {fast_per:.3f} s/notebook = {1 / fast_per:.2f} notebooks/s"
            f"  [runs: {', '.join(f'{r / args.submissions:.3f}' for r in fast_runs)} s/notebook]"
        )
        print(f"speed-up: {naive_per / fast_per:.1f}x")
        print(
            f"peak memory (PSS) of the grader process tree: {peak_half / 2**20:.0f} MiB for {args.submissions // 2} "
            f"submissions, {peak_full / 2**20:.0f} MiB for {args.submissions} "
            f"(ratio {peak_full / max(peak_half, 1):.2f})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
