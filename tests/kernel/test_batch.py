"""`grader grade`: same verdicts as `grader check`, resumable, Dask-capable, no leaks."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from nbfactory import from_cells, variant

from grader.course import load_course
from grader.grading import Grader

# its module fixtures grade many notebooks: computed once, on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_batch")

NB = "conv-layer.ipynb"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUBRIC = load_course().get("conv-layer")
FULL = RUBRIC.max_score


def total(*lost: str) -> str:
    """grades.csv's total for a notebook that fails the checks `lost` and passes the rest."""
    return f"{FULL - sum(c.points for c in RUBRIC.checks if c.id in lost):g}"


def corpus(folder) -> dict[str, str]:
    """Correct, wrong, broken, hostile and unusable submissions, one file per student."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "ada": variant(NB, folder, name="ada.ipynb"),
        "bob": variant(NB, folder, {"    return d + 1": "    return d"}, name="bob.ipynb"),
        "cyd": variant(
            NB, folder, {"W[i * ow + j] = block.reshape(-1)": "W[i * ow + j] = block.T.reshape(-1)"}, name="cyd.ipynb"
        ),
        "dee": variant(
            NB,
            folder,
            {"K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = nope"},
            name="dee.ipynb",
        ),
        "eve": variant(NB, folder, append=["import os\nos._exit(3)"], name="eve.ipynb"),
        "fay": variant(NB, folder, append=["while True:\n    pass"], name="fay.ipynb"),
        "gus": from_cells(folder, ["def corr2d(X, K):\n    return X"], name="gus.ipynb", assignment="conv-layer"),
        "ivy": from_cells(folder, ["def corr2d(X, K)\n    return X"], name="ivy.ipynb", assignment="conv-layer"),
    }
    # hostile: each scores its check only where the kernel is confined (so every path must confine alike)
    alone = "import os\nalone = [p for p in os.listdir('/proc') if p.isdigit()] == ['1']"
    made["jay"] = variant(
        NB, folder, append=[alone + "\ndef min_kernel_size(d):\n    return d + 1 if alone else d"], name="jay.ipynb"
    )
    course = os.path.join(ROOT, "reference", "conv_layer.py")
    peek = f"try:\n    open({course!r}).read()\n    seen = True\nexcept OSError:\n    seen = False"
    made["kim"] = variant(NB, folder, append=[peek + "\nif seen:\n    del integral_kernel"], name="kim.ipynb")
    (folder / "hal.ipynb").write_text("{ definitely not json")
    made["hal"] = str(folder / "hal.ipynb")
    return made


def run_grade(subs, out, *extra, wait=True):
    command = [
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
        "2",
        *extra,
    ]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


WALL_NOTE = re.compile(r" \(it waited [\d.]+ s of wall-clock time\)")


def comparable(data: dict) -> dict:
    """A result's JSON without its measurements, which differ run to run: execution_time, and
    whether a cell's CPU-time limit was reached through the wall-clock backstop (a busy loop
    gets less than a third of a core on a loaded machine: the same timeout, told how)."""
    assert data.get("execution_time", 0) >= 0
    kept = {k: v for k, v in data.items() if k != "execution_time"}
    kept["errors"] = [{**e, "message": WALL_NOTE.sub("", e["message"])} for e in data.get("errors", [])]
    return kept


def load_results(out) -> dict[str, dict]:
    results = {}
    for name in os.listdir(out / "results"):
        if name.endswith(".json"):
            data = json.loads((out / "results" / name).read_text())
            data.pop("submission")
            results[name[:-5]] = comparable(data)
    return results


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# session, not module: see "Expensive fixtures" in tests/conftest.py
@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory):
    subs = tmp_path_factory.mktemp("subs")
    made = corpus(subs)
    out = tmp_path_factory.mktemp("out")
    run_grade(subs, out, "-j", "2")
    return subs, made, out


def test_batch_results_equal_check_results_for_every_notebook(graded_corpus, rubrics):
    _subs, made, out = graded_corpus
    batch_results = load_results(out)
    assert sorted(batch_results) == sorted(made)
    # `grader check` path: a fresh Grader, no kernel pool, one notebook at a time
    from grader.limits import Limits

    defaults = Limits()
    limits = Limits(
        cell_timeout=2,
        timeout=defaults.timeout,
        memory=defaults.memory,
        output=defaults.output,
        total_output=4 * defaults.output,
    )
    with Grader(limits) as grader:
        for student, path in made.items():
            check = comparable(grader.grade(path, rubrics["conv-layer"]).to_dict())
            assert check == batch_results[student], student


def test_check_command_json_equals_batch_result(graded_corpus):
    _subs, made, out = graded_corpus
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", made["bob"], "--format", "json", "--cell-timeout", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert comparable(json.loads(proc.stdout)) == load_results(out)["bob"]


def test_gradebook_and_summary(graded_corpus, rubrics):
    _subs, _made, out = graded_corpus
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    rubric = rubrics["conv-layer"]
    assert list(read_csv(out / "grades.csv")[0]) == [
        "student",
        *(c.id for c in rubric.checks),
        *(column for m in rubric.manual for column in (f"manual:{m.id}", f"manual:{m.id}:comment")),
        "total",
        "max",
        "percent",
        "status",
    ]
    assert rows["ada"]["total"] == total() and rows["ada"]["status"] == "ok"
    assert rows["bob"]["total"] == total("min-kernel-size") and rows["bob"]["min-kernel-size"] == "0"
    assert rows["eve"]["status"] == "error" and rows["eve"]["total"] == "0"
    assert rows["fay"]["status"] == "timeout"
    assert rows["hal"]["status"] == "error" and rows["hal"]["percent"] == "0.0"
    summary = (out / "summary.md").read_text()
    assert "| ex3 | conv-matrix-example |" in summary and "submissions: 11" in summary
    # the hostile ones gained nothing: each kernel alone in its PID namespace, the course unreadable
    assert rows["jay"]["total"] == total() and rows["kim"]["total"] == total()
    assert rows["ivy"]["total"] == "0"  # a SyntaxError: no point at all, and listed with the other problems
    problems = summary.split("## Notebook problems", 1)[1]
    for student in ("dee", "eve", "fay", "hal", "ivy"):
        assert f"* `{student}`:" in problems, student
    assert "* `ivy`: cell 1 raised SyntaxError" in problems
    look_at = summary.split("## Students to look at", 1)[1].split("## Notebook problems", 1)[0]
    assert rows["fay"]["total"] == total() and "* `fay`: timeout (cell " in look_at  # full marks, still a look
    assert "* `ivy`: error (cell 1); missing free-text answers: " in look_at and "* `ada`:" not in look_at
    for png in ("score_histogram.png", "pass_rates.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interrupted_batch_resumes_without_loss_or_duplicates(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(14):
        variant(NB, subs, name=f"s{i:02d}.ipynb")
    out = tmp_path / "out"
    proc = run_grade(subs, out, "-j", "1", wait=False)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done = [n for n in os.listdir(out / "results")] if (out / "results").exists() else []
        if len([n for n in done if n.endswith(".json")]) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the instructor's laptop dies mid-batch
    proc.wait()
    before = {n: (out / "results" / n).stat().st_mtime_ns for n in os.listdir(out / "results") if n.endswith(".json")}
    assert 3 <= len(before) < 14
    for name in before:  # every file written before the kill is complete JSON
        json.loads((out / "results" / name).read_text())
    run_grade(subs, out, "-j", "2")
    after = {n: (out / "results" / n).stat().st_mtime_ns for n in os.listdir(out / "results") if n.endswith(".json")}
    assert sorted(after) == [f"s{i:02d}.json" for i in range(14)]
    assert all(after[n] == before[n] for n in before), "finished results were graded again"
    rows = read_csv(out / "grades.csv")
    assert sorted(r["student"] for r in rows) == [f"s{i:02d}" for i in range(14)]
    assert all(r["total"] == total() for r in rows)
    assert not [n for n in os.listdir(out / "results") if n.startswith(".tmp")]

    # a changed notebook is graded again, the rest is not
    variant(NB, subs, {"    return d + 1": "    return d"}, name="s05.ipynb")
    run_grade(subs, out, "-j", "2")
    again = {n: (out / "results" / n).stat().st_mtime_ns for n in after}
    assert [n for n in after if again[n] != after[n]] == ["s05.json"]
    assert {r["student"]: r["total"] for r in read_csv(out / "grades.csv")}["s05"] == total("min-kernel-size")
    # --no-resume grades everything again
    run_grade(subs, out, "-j", "2", "--no-resume")
    assert all((out / "results" / n).stat().st_mtime_ns != again[n] for n in again)


def test_student_folders_layout_with_their_own_files(tmp_path):
    subs = tmp_path / "submitted"
    for student in ("alice", "bob"):
        folder = subs / student
        folder.mkdir(parents=True)
        (folder / "kernel.txt").write_text("1 -2 1" if student == "alice" else "-1 2 -1")
        variant(
            NB,
            folder,
            {
                "K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = torch.tensor([[float(v) for v in open('kernel.txt').read().split()]])"
            },
            name="conv-layer.ipynb",
        )
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / "conv-layer-checkpoint.ipynb").write_text("{}")
    (subs / "carol").mkdir()  # submitted nothing
    out = tmp_path / "out"
    run_grade(subs, out)
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    assert rows["alice"]["total"] == total()
    assert rows["bob"]["total"] == total("second-derivative-kernel") and rows["bob"]["second-derivative-kernel"] == "0"
    assert rows["carol"]["status"] == "error"
    carol = json.loads((out / "results" / "carol.json").read_text())
    assert "no .ipynb notebook" in carol["errors"][0]["message"]


def test_state_cannot_leak_between_students_graded_by_the_same_parent(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    variant(
        NB,
        subs,
        name="a-polluter.ipynb",
        append=[
            "import builtins, torch, numpy\nbuiltins.LEAK = 'from a'\ntorch.ones = torch.zeros\nnumpy.pi = 3\n"
            "import os\nopen(os.path.expanduser('~/note.txt'), 'w').write('hi')\nGLOBAL_STATE = 1"
        ],
    )
    variant(
        NB,
        subs,
        name="b-victim.ipynb",
        append=[
            "import builtins, torch, numpy, os\nassert not hasattr(builtins, 'LEAK')\nassert torch.ones(1).item() == 1.0\n"
            "assert numpy.pi > 3.14\nassert 'GLOBAL_STATE' not in globals()\nassert not os.path.exists(os.path.expanduser('~/note.txt'))"
        ],
    )
    out = tmp_path / "out"
    run_grade(subs, out, "-j", "1")
    victim = json.loads((out / "results" / "b-victim.json").read_text())
    assert victim["errors"] == [] and victim["score"] == FULL


def test_dask_local_cluster_gives_the_same_gradebook(graded_corpus, tmp_path):
    distributed = pytest.importorskip("distributed")
    subs, _made, out = graded_corpus
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask_out = tmp_path / "dask-out"
        run_grade(subs, dask_out, "-j", "2", "--dask", cluster.scheduler_address)
    assert (dask_out / "grades.csv").read_text() == (out / "grades.csv").read_text()
    assert load_results(dask_out) == load_results(out)


def test_grade_rejects_bad_input(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(tmp_path / "nope"),
            "--assignment",
            "conv-layer",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no such folder" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(tmp_path),
            "--assignment",
            "nosuch",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "unknown assignment 'nosuch'" in proc.stderr


def test_this_modules_tests_share_one_worker(request):
    """`--dist loadgroup` keeps an xdist_group on one worker by suffixing node ids with the group;
    a pytest release that silently broke that (9.2, pytest-dev/pytest-xdist#1386) built this
    module's class twice and ran the corpora side by side. Fails if grouping stops again."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@test_batch"), request.node.nodeid
