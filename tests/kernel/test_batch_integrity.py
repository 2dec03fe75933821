"""`grader grade` loses no grade and leaves nothing behind, whatever the submissions or the
instructor's keyboard do.

* Submissions are read, never followed: links to the course's reference, linked folders, a
  link to /etc/shadow, FIFOs, hard links, links inside a student's folder — each refused with
  a message of its own, everything else graded normally.
* Student ids are unique and reversible; a collision is an error before anything is graded.
* Ctrl-C / SIGTERM stop cleanly (exit 130 / 143, one line, no traceback, finished results kept,
  nothing in flight recorded, no process left); a second Ctrl-C exits at once; a re-run grades
  the rest. A failure on the grader's side is retried by the next run. A grader killed with
  SIGKILL leaves no fork server or kernel behind.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from nbfactory import reference_path, variant

from grader.course import load_course

NB = "conv-layer.ipynb"
FULL = load_course().get("conv-layer").max_score  # the reference's score
WRONG = {"    return d + 1": "    return d"}  # min-kernel-size (1 point) fails: FULL - 1
# So that notebooks are in flight when a signal comes, each with a process of its own to kill.
SLOW = ["import subprocess, time\nsubprocess.Popen(['sleep', '317'])\ntime.sleep(0.5)"]


def grade_command(subs, out, *extra) -> list[str]:
    return [
        sys.executable,
        "-m",
        "grader",
        "grade",
        str(subs),
        "--assignment",
        "conv-layer",
        "--out",
        str(out),
        "--cell-timeout",
        "10",
        *extra,
    ]


def run_grade(subs, out, *extra, expect=0) -> subprocess.CompletedProcess:
    proc = subprocess.run(grade_command(subs, out, *extra), capture_output=True, text=True, timeout=600)
    assert proc.returncode == expect, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def start_grade(subs, out, *extra) -> subprocess.Popen:
    """In a session of its own, as a terminal's foreground job: Ctrl-C goes to its group."""
    return subprocess.Popen(
        grade_command(subs, out, *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def results(out) -> dict[str, dict]:
    folder = out / "results"
    if not folder.exists():
        return {}
    return {n[:-5]: json.loads((folder / n).read_text()) for n in os.listdir(folder) if n.endswith(".json")}


def mtimes(out) -> dict[str, int]:
    folder = out / "results"
    return {n: (folder / n).stat().st_mtime_ns for n in os.listdir(folder) if n.endswith(".json")}


def gradebook(out) -> dict[str, dict]:
    with open(out / "grades.csv", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def wait_for_results(proc, out, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(results(out)) < count:
        assert proc.poll() is None, f"grader ended early: {proc.stderr.read()[-2000:] if proc.stderr else ''}"
        assert time.monotonic() < deadline, "no result in time"
        time.sleep(0.05)


# ----------------------------------------------------------------------------- processes
def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every process below `root` (kernels in their own namespaces included), by pid, with its start time."""
    parents: dict[int, list[int]] = {}
    starts = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            parents.setdefault(info[0], []).append(int(entry))
            starts[int(entry)] = info[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found and child in starts:
                found[child] = starts[child]
                todo.append(child)
    return found


def survivors(processes: dict[int, int], within: float = 5.0) -> list[str]:
    """The processes of `processes` still running after `within` seconds (zombies are dead)."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for pid, start in processes.items():
            info = _stat(pid)
            if info is not None and info[2] == start and info[1] != "Z":
                alive.append(f"{pid}: {_cmdline(pid)[:120]}")
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def kill_all(processes: dict[int, int]) -> None:
    """SIGKILL each of `processes` that is still the process it was: pids are reused quickly
    here (pid_max is 32768 and the suite forks thousands of kernels), and a pid recycled by
    another test's warm parent must never be killed in its place."""
    for pid, start in processes.items():
        info = _stat(pid)
        if info is not None and info[2] == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def wait_for_descendants(pid: int, minimum: int, timeout: float = 120) -> dict[int, int]:
    """The grader's process tree once it has at least `minimum` processes (server, kernels)."""
    deadline = time.monotonic() + timeout
    while True:
        found = descendants(pid)
        if len(found) >= minimum or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def interrupt_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("grader:") and "interrupted" in line]


@pytest.fixture
def slow_class(tmp_path):
    """Eight correct notebooks that take half a second each (a batch still running when the
    first result is written, whatever the test does next)."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(8):
        variant(NB, subs, append=SLOW, name=f"s{i}.ipynb")
    return subs


# ----------------------------------------------------------------------------- read, never followed
def test_links_special_files_and_hard_links_are_refused_the_rest_graded(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    reference = reference_path(NB)
    # the attacks
    (subs / "alice").mkdir()
    (subs / "alice" / NB).symlink_to(reference)  # full marks before
    (subs / "bobby").symlink_to(os.path.dirname(reference))  # a student folder that is reference/
    (subs / "dave.ipynb").symlink_to("/etc/shadow")
    # a hard link to (a stand-in for) a course file: linking the real one would change the course's
    # own reference notebook (nlink 2) for every test running beside this one
    course_copy = tmp_path / "course-copy.ipynb"
    shutil.copy(reference, course_copy)
    os.link(course_copy, subs / "erin.ipynb")
    os.mkfifo(subs / "fifo.ipynb")
    # neighbours: a folder whose extra files are links, loops, FIFOs; a linked .ipynb_checkpoints
    gil = subs / "gil"
    gil.mkdir()
    variant(
        NB,
        gil,
        append=[
            "import os\nseen = {n for n in os.listdir('.') if not n.startswith('.')}\n"
            "assert seen <= {'conv-layer.ipynb', 'data', 'k.txt'}, seen\nassert open('k.txt').read() == '1 -2 1'"
        ],
    )
    (gil / "k.txt").write_text("1 -2 1")
    (gil / "data").mkdir()
    (gil / "data" / "x.txt").write_text("x")
    (gil / "reference.py").symlink_to(os.path.join(os.path.dirname(reference), "conv_layer.py"))
    (gil / "root").symlink_to("/")
    (gil / "loop").symlink_to(".")
    os.mkfifo(gil / "pipe")
    (gil / ".ipynb_checkpoints").symlink_to(os.path.dirname(reference))
    # names the old ids merged
    variant(NB, subs, name="Zoë.ipynb")
    variant(NB, subs, WRONG, name="Zoé.ipynb")
    for folder, change in (("bob", None), ("carol x", WRONG), ("carol_x", None)):
        (subs / folder).mkdir()
        variant(NB, subs / folder, change)
    variant(NB, subs, WRONG, name="bob!.ipynb")

    out = tmp_path / "out"
    run_grade(subs, out, "-j", "2")
    got = results(out)
    assert sorted(got) == sorted(
        [
            "Zo%C3%A9",
            "Zo%C3%AB",
            "alice",
            "bob",
            "bob%21",
            "bobby",
            "carol%20x",
            "carol_x",
            "dave",
            "erin",
            "fifo",
            "gil",
        ]
    )
    refused = {
        "alice": f"alice/{NB} is a symbolic link",
        "bobby": "bobby is a symbolic link",
        "dave": "dave.ipynb is a symbolic link",
        "erin": "erin.ipynb has 2 hard links",
        "fifo": "fifo.ipynb is a FIFO, not a regular file",
    }
    for student, message in refused.items():
        data = got[student]
        assert (data["score"], data["status"], data["max_score"]) == (0, "error", FULL), student
        assert data["errors"][0]["message"].startswith(message), data["errors"]
        assert data["submission"]["final"] is True
    scores = {s: d["score"] for s, d in got.items() if s not in refused}
    assert scores == {
        "Zo%C3%AB": FULL,
        "Zo%C3%A9": FULL - 1,
        "bob": FULL,
        "bob%21": FULL - 1,
        "carol%20x": FULL - 1,
        "carol_x": FULL,
        "gil": FULL,
    }
    gil_errors = got["gil"]["errors"]
    assert {e["kind"] for e in gil_errors} == {"refused-file"}, gil_errors
    assert sorted(e["message"].split(" ")[0] for e in gil_errors) == [
        "gil/loop",
        "gil/pipe",
        "gil/reference.py",
        "gil/root",
    ]
    assert got["Zo%C3%AB"]["submission"]["name"] == "Zoë.ipynb"
    rows = gradebook(out)
    assert rows["Zo%C3%AB"]["total"] == f"{FULL:g}" and rows["Zo%C3%A9"]["total"] == f"{FULL - 1:g}"
    summary = (out / "summary.md").read_text()
    for student in [*refused, "gil"]:
        assert f"* `{student}`:" in summary


def test_the_kernel_gets_the_students_own_files_only_hard_links_left_out(tmp_path):
    subs = tmp_path / "subs"
    (subs / "hana" / "data").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("the answer")
    os.link(secret, subs / "hana" / "notes.txt")  # the same data as a file that is not hers
    (subs / "hana" / "data" / "x.txt").write_text("x")
    variant(
        NB,
        subs / "hana",
        append=["import os\nassert not os.path.exists('notes.txt'), 'staged'\nassert open('data/x.txt').read() == 'x'"],
    )
    out = tmp_path / "out"
    run_grade(subs, out)
    hana = results(out)["hana"]
    assert [e["kind"] for e in hana["errors"]] == ["refused-file"], hana["errors"]
    assert hana["score"] == FULL and hana["errors"][0]["message"].startswith("hana/notes.txt has 2 hard links")


def test_colliding_student_ids_stop_before_anything_is_graded(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    variant(NB, subs, name="bob.ipynb")
    (subs / "bob").mkdir()
    variant(NB, subs / "bob")
    variant(NB, subs, name="Cy.ipynb")
    variant(NB, subs, name="cy.ipynb")
    out = tmp_path / "out"
    proc = run_grade(subs, out, expect=2)
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("grader: student ids collide")
    assert "'bob/' and 'bob.ipynb'" in line and "'Cy.ipynb' and 'cy.ipynb'" in line
    assert not results(out)


def test_student_option_regrades_just_that_student_and_the_limits_are_in_the_resume_key(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ann", "ben", "Zoë"):
        variant(NB, subs, name=f"{name}.ipynb")
    out = tmp_path / "out"
    run_grade(subs, out)
    before = mtimes(out)
    variant(NB, subs, WRONG, name="ann.ipynb")  # changed: a plain re-run would regrade it
    run_grade(subs, out, "--student", "Zoë")  # the name works as well as the id
    after = mtimes(out)
    assert [n for n in before if after[n] != before[n]] == ["Zo%C3%AB.json"]
    assert gradebook(out)["ann"]["total"] == f"{FULL:g}"  # kept as it was
    run_grade(subs, out, "--student", "ann")
    assert gradebook(out)["ann"]["total"] == f"{FULL - 1:g}" and len(gradebook(out)) == 3
    proc = run_grade(subs, out, "--student", "nobody", expect=2)
    assert "--student nobody: no such student" in proc.stderr
    # other limits: every result is stale
    again = mtimes(out)
    run_grade(subs, out, "--cell-timeout", "11")
    assert all(mtimes(out)[n] != again[n] for n in again)


# ----------------------------------------------------------------------------- stopping
def test_ctrl_c_stops_cleanly_and_a_rerun_grades_the_rest(slow_class, tmp_path):
    out = tmp_path / "out"
    proc = start_grade(slow_class, out, "-j", "2")
    wait_for_results(proc, out, 1)
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground group
    stopped = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - stopped < 15
    assert "Traceback" not in stderr and len(interrupt_lines(stderr)) == 1, stderr
    assert "run the same command again" in interrupt_lines(stderr)[0]
    assert not survivors(tree), "left running after Ctrl-C"
    kept = results(out)
    assert 1 <= len(kept) < 8
    for student, data in kept.items():  # only whole, final, real results: nothing in flight
        assert data["score"] == FULL and data["status"] == "ok" and data["submission"]["final"], student
    assert not [n for n in os.listdir(out / "results") if n.startswith(".")]
    assert sorted(gradebook(out)) == sorted(kept)
    before = mtimes(out)
    run_grade(slow_class, out, "-j", "2")
    after = mtimes(out)
    assert sorted(after) == [f"s{i}.json" for i in range(8)]
    assert all(after[n] == before[n] for n in before), "finished results were graded again"
    assert {r["total"] for r in gradebook(out).values()} == {f"{FULL:g}"}


def test_sigterm_is_handled_like_ctrl_c(slow_class, tmp_path):
    out = tmp_path / "out"
    proc = start_grade(slow_class, out, "-j", "2")
    wait_for_results(proc, out, 1)
    tree = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)  # the grader alone, as a job scheduler would
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and len(interrupt_lines(stderr)) == 1, stderr
    assert not survivors(tree)
    assert all(d["score"] == FULL and d["submission"]["final"] for d in results(out).values())


def test_a_second_ctrl_c_exits_at_once(slow_class, tmp_path):
    out = tmp_path / "out"
    proc = start_grade(slow_class, out, "-j", "2")
    wait_for_results(proc, out, 1)
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    stopped = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - stopped < 5, stderr
    assert "Traceback" not in stderr and 1 <= len(interrupt_lines(stderr)) <= 2, stderr
    assert not survivors(tree)
    assert all(d["score"] == FULL and d["submission"]["final"] for d in results(out).values())


def test_ctrl_c_during_start_up_prints_one_line(slow_class, tmp_path):
    out = tmp_path / "out"
    proc = start_grade(slow_class, out)
    wait_for_descendants(proc.pid, 1, timeout=30)  # the warm parent has just started: it imports torch
    time.sleep(0.2)
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "Aborted" not in stderr, stderr
    assert len(interrupt_lines(stderr)) == 1, stderr
    assert not survivors(tree)
    assert not results(out)


def test_ctrl_c_while_kernels_boot_in_the_pool(slow_class, tmp_path):
    """The first kernels are booting (the pool starts j+1 ahead) when the warm parent is ready."""
    out = tmp_path / "out"
    proc = start_grade(slow_class, out, "-j", "2")
    tree = wait_for_descendants(proc.pid, 3)  # the warm parent and its first kernels
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert len(interrupt_lines(stderr)) == 1, stderr
    assert not survivors(tree)
    assert all(d["score"] == FULL and d["submission"]["final"] for d in results(out).values())


def test_a_dead_kernel_server_is_retried_by_the_next_run_not_recorded_as_zero(slow_class, tmp_path):
    out = tmp_path / "out"
    proc = start_grade(slow_class, out, "-j", "1")
    wait_for_results(proc, out, 1)
    kill_all(
        descendants(proc.pid)
    )  # the warm parent and its kernels die: the grader's machinery fails, not the notebooks
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    got = results(out)
    assert len(got) == 8
    retry = [s for s, d in got.items() if not d["submission"]["final"]]
    assert retry, "nothing was marked for a retry"
    for student in retry:
        assert got[student]["status"] == "error"
    for student in set(got) - set(retry):
        assert got[student]["score"] == FULL
    assert "run the same command again" in stderr.replace("\n", " ")
    before = mtimes(out)
    run_grade(slow_class, out)
    after = results(out)
    assert all(d["score"] == FULL and d["submission"]["final"] for d in after.values())
    changed = {n[:-5] for n, t in mtimes(out).items() if t != before[n]}
    assert changed == set(retry)


def test_a_killed_grader_leaves_no_fork_server_or_kernel_behind(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(3):  # each starts a child of its own, then waits
        variant(
            NB,
            subs,
            append=["import subprocess\nsubprocess.Popen(['sleep', '313'])\nimport time\ntime.sleep(30)"],
            name=f"k{i}.ipynb",
        )
    out = tmp_path / "out"
    proc = start_grade(subs, out, "-j", "2")
    deadline = time.monotonic() + 120
    while True:
        tree = descendants(proc.pid)
        sleeping = [p for p in tree if _cmdline(p).startswith("sleep 313")]
        if len(sleeping) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sleeping, "the notebooks never started their child"
    proc.kill()  # SIGKILL to the grader alone: none of its handlers runs
    proc.wait()
    left = survivors(tree, within=5)
    kill_all(tree)  # whatever happens, leave nothing to the next test
    assert not left, "left running after the grader was killed"


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
