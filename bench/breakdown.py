"""Benchmark: where `grader grade`'s time goes, per notebook.

Runs the real command on the batch benchmark's class of conv-layer submissions with the phase
recorder on (`D2L_GRADER_PHASES`, grader/phases.py) and psutil watching the process tree, then
prints, per notebook:

* the wall time of each phase as the grader sees it (median and mean over the notebooks):
  preparing the plan, getting a confined kernel (with a pool, one booted ahead), the
  student's cells, the harness cell, stopping the kernel, waiting for the judge, judging,
  writing the result;
* the CPU time of each process: the grader, the warm parent (forking, confining), the kernels
  (reaped into the warm parent's children times: start-up, cells, harness), the judge and the
  plot process (the summary's plots, `grader/reporters/plot_process.py`), per notebook after
  the first one began, and the whole command's CPU, start-ups included;
* the command's start-up (until the first notebook begins) and its end (after the last).

    python bench/breakdown.py [--submissions 40] [--jobs 1 2] [--protocols pipe jupyter]

`--protocols pipe jupyter` times the same class with the default pipe kernels and with
ipykernels driven over ZeroMQ (D2L_GRADER_KERNEL_PROTOCOL=jupyter), one after the other.

With -j 1 the phases add up to the time per notebook; with more jobs they overlap, and the
whole command's seconds per notebook is the figure that counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from batch_speed import make_submissions  # noqa: E402

PHASES = ["prepare", "kernel start", "cells", "harness", "kernel stop", "waiting for the judge", "judging", "report"]


def _times(process: psutil.Process) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its reaped children)."""
    t = process.cpu_times()
    return t.user + t.system, t.children_user + t.children_system


def run(folder: str, jobs: int, log: str, protocol: str = "pipe") -> dict:
    out = tempfile.mkdtemp(prefix="breakdown-out-")
    env = {**os.environ, "D2L_GRADER_PHASES": log, "D2L_GRADER_KERNEL_PROTOCOL": protocol}
    command = [sys.executable, "-m", "grader", "grade", folder, "--assignment", "conv-layer", "--out", out]
    command += ["-j", str(jobs)]
    started = time.time()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    seen: dict[int, tuple[str, float, float]] = {}  # pid -> (role, own, children), last sample
    history: list[tuple[float, dict[str, float]]] = []  # (when, CPU by role so far)
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            servers = {}
            plotting = set()
            for p in tree:
                try:
                    argv = p.cmdline()
                    # bubblewrap's own command line names the server too: only python is the server
                    is_server = "grader.forkserver" in argv and "bwrap" not in os.path.basename(argv[0])
                    servers[p.pid] = is_server, p.ppid()
                    if "grader.reporters.plot_process" in argv:
                        plotting.add(p.pid)
                except (psutil.Error, IndexError):
                    pass
            for p in tree:
                try:
                    own, children = _times(p)
                except psutil.Error:
                    continue
                if p.pid == root.pid:
                    role = "grader"
                elif p.pid in plotting or seen.get(p.pid, ("",))[0] == "plots":
                    role = "plots"  # the summary's plots, drawn aside at nice 19 (its second plot's child reaped by it)
                elif p.pid in servers and servers[p.pid][0]:
                    parent_is_server = servers.get(servers[p.pid][1], (False, 0))[0]
                    role = "judge or kernel" if parent_is_server else "warm parent"
                else:
                    role = "other"
                seen[p.pid] = (role, own, children)
            history.append((time.time(), _by_role(seen)))
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    ended = time.time()
    done.set()
    thread.join()
    if code not in (0, 1):
        raise SystemExit(f"grader grade failed with exit code {code}")
    cpu = _by_role(seen)
    with open(log, encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    graded = [r for r in records if "phases" in r]
    writes = [r["write"] for r in records if "write" in r]
    first = min(r["began"] for r in graded)
    # the CPU spent before the first notebook began (imports, the warm parent, the judge's start)
    before = next((snapshot for when, snapshot in reversed(history) if when <= first), dict.fromkeys(cpu, 0.0))
    return {
        "wall": ended - started,
        "startup": min(r["began"] for r in graded) - started if graded else float("nan"),
        "tail": ended - max(r["began"] + r["total"] for r in graded) if graded else float("nan"),
        "graded": graded,
        "writes": writes,
        "cpu": cpu,
        "cpu_before": before,
    }


def _by_role(seen: dict[int, tuple[str, float, float]]) -> dict[str, float]:
    cpu = {"grader": 0.0, "warm parent": 0.0, "kernels": 0.0, "judge": 0.0, "plots": 0.0}
    for role, own, children in seen.values():
        if role == "grader":
            cpu["grader"] += own
        elif role == "plots":
            cpu["plots"] += own + children
        elif role == "warm parent":
            cpu["warm parent"] += own
            cpu["kernels"] += children  # kernels are reaped by the warm parent
        elif role == "judge or kernel" and own > 0.5:  # the judge lives for the whole batch
            cpu["judge"] += own
    return cpu


def report(jobs: int, count: int, result: dict, protocol: str = "pipe") -> None:
    graded = result["graded"]
    kernels = "pipe kernels" if protocol == "pipe" else "ipykernels (D2L_GRADER_KERNEL_PROTOCOL=jupyter)"
    print(
        f"\n== grader grade -j {jobs}, {kernels}: {count} notebooks, {result['wall']:.2f} s, "
        f"{result['wall'] / count:.3f} s/nb"
    )
    print(f"   start-up until the first notebook: {result['startup']:.2f} s; after the last: {result['tail']:.2f} s")
    print(f"   {'phase (wall, per notebook)':<28} {'median':>8} {'mean':>8}")
    for phase in PHASES:
        values = [r["phases"].get(phase, 0.0) for r in graded]
        print(f"   {phase:<28} {statistics.median(values) * 1000:>6.1f}ms {statistics.mean(values) * 1000:>6.1f}ms")
    if result["writes"]:
        w = result["writes"]
        print(
            f"   {'writing the result':<28} {statistics.median(w) * 1000:>6.1f}ms {statistics.mean(w) * 1000:>6.1f}ms"
        )
    totals = [r["total"] for r in graded]
    print(
        f"   {'one notebook, end to end':<28} {statistics.median(totals) * 1000:>6.1f}ms {statistics.mean(totals) * 1000:>6.1f}ms"
    )
    keys = ("kernel_cpu_at_start", "kernel_cpu_after_cells", "kernel_cpu_after_harness")
    ran = [r for r in graded if all(r.get(k) is not None for k in keys)]
    if ran:  # notebooks that reached the harness (a file that is no notebook starts no kernel)
        start, cells, harness = (statistics.median(r[k] for r in ran) * 1000 for k in keys)
        print(
            f"   kernel CPU from its fork (median of {len(ran)}): {start:.1f} ms when it is handed over, "
            f"{cells:.1f} ms after the cells, {harness:.1f} ms after the harness"
        )
    print(f"   {'CPU per notebook, by process':<28} (after the first notebook began; before it, in all)")
    total = 0.0
    for role, seconds in result["cpu"].items():
        before = result["cpu_before"].get(role, 0.0)
        total += seconds - before
        print(f"   {role:<28} {(seconds - before) / count * 1000:>6.1f}ms   (start-up {before:.2f} s)")
    print(f"   {'all processes':<28} {total / count * 1000:>6.1f}ms")
    # A process's start-up does not stop when the first notebook begins (the warm parent is still
    # importing torch then, the plot process matplotlib): the whole command's CPU is the sum.
    everything = sum(result["cpu"].values())
    print(f"   {'all processes, whole command':<28} {everything / count * 1000:>6.1f}ms   ({everything:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=["pipe", "jupyter"],
        default=["pipe"],
        help="how the grader talks to its kernels (pipe: the default; jupyter: ipykernel over ZeroMQ)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="breakdown-") as folder:
        subs = os.path.join(folder, "subs")
        make_submissions(subs, args.submissions)
        count = len(os.listdir(subs))
        for jobs in args.jobs:
            for protocol in args.protocols:  # taking turns, so both meet the same load
                log = os.path.join(folder, f"phases-{jobs}-{protocol}.jsonl")
                report(jobs, count, run(subs, jobs, log, protocol), protocol)


if __name__ == "__main__":
    main()
