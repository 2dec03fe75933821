"""Hostile and broken notebooks: every row of the security table, each graded for real.

Each test asserts the verdict, the message, and that grading finished within a bound
(the grader survived). Limits are small here (2 s cells, 1 GiB memory) to stay fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time

import nbformat
import pytest
from nbfactory import from_cells, lost, statuses, variant

from grader.execute import execute_notebook
from grader.grading import Grader
from grader.limits import Limits

NB = "conv-layer.ipynb"
HOSTILE_LIMITS = Limits(
    cell_timeout=2,
    timeout=12,
    harness_timeout=20,
    call_timeout=3,
    memory=1024**3,
    output=64 * 1024,
    total_output=256 * 1024,
    file_size=32 * 1024**2,
    processes=48,
)


# session, not module: see "Expensive fixtures" in tests/conftest.py
@pytest.fixture(scope="session")
def hostile():
    with Grader(HOSTILE_LIMITS) as g:
        yield g


def grade(hostile, rubrics, path, bound=40.0):
    started = time.monotonic()
    result = hostile.grade(path, rubrics["conv-layer"])
    assert time.monotonic() - started < bound, "grading took too long"
    return result


def cell_number(path, text):
    """1-based position (all cells counted) of the first cell containing `text`."""
    cells = nbformat.read(path, as_version=4).cells
    return next(i + 1 for i, c in enumerate(cells) if text in c.source)


def error_kinds(result):
    return [(e.kind, e.cell) for e in result.errors]


def fetch(hostile, cells, names, limits=HOSTILE_LIMITS):
    """Run code cells in a real confined kernel and read names back as plain data."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    request = {
        "token": "t0k3n",
        "slot": "_d2l_grader_results_t0k3n",
        "fetches": [{"key": n, "kind": "name", "name": n} for n in names],
        "probes": "",
    }
    scratch = hostile.new_scratch()

    async def run():
        kernel = await hostile.backend.start_kernel(scratch)
        return await execute_notebook(nb, kernel=kernel, limits=limits, harness_request=request)

    execution = asyncio.run(run())
    from grader import plaindata

    values = {}
    for name in names:
        entry = (execution.fetched or {}).get(name, {})
        values[name] = plaindata.decode(entry["value"]) if entry.get("status") == "ok" else None
    return execution, values


# ---------------------------------------------------------------- time
def test_infinite_loop_stops_at_the_cell_limit_and_the_rest_is_graded(hostile, rubrics, tmp_path):
    # the loop sits right after corr2d is defined; everything else still gets graded
    path = variant(
        NB, tmp_path, replace={"class Conv2D(nn.Module):": "while True:\n    pass\n\n\nclass Conv2D(nn.Module):"}
    )
    result = grade(hostile, rubrics, path)
    n = cell_number(path, "while True")
    assert ("cell-timeout", n) in error_kinds(result)
    assert f"cell {n} exceeded the 2 s time limit" in [e.message for e in result.errors]
    # corr2d (defined before) and the exercises (cells after) are graded; only what needed
    # the interrupted cell's own names (X, Y, K for Ex. 1 and 2) fails
    assert statuses(result)["corr2d-example"] == "passed"
    assert statuses(result)["conv-matrix-example"] == "passed"
    assert statuses(result)["min-kernel-size"] == "passed"


def test_a_loop_that_ignores_the_interrupt_ends_the_kernel(hostile, rubrics, tmp_path):
    loop = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass\n"
    path = variant(NB, tmp_path, append=[loop])
    result = grade(hostile, rubrics, path)
    kinds = error_kinds(result)
    assert kinds and kinds[-1][0] == "cell-timeout"
    assert "ignored the interrupt" in result.errors[-1].message
    assert {c.status for c in result.checks} == {"error"}
    assert all("ignored the interrupt" in c.message for c in result.checks)


def test_sleeping_in_every_cell_hits_the_notebook_limit(hostile, rubrics, tmp_path):
    path = from_cells(
        tmp_path,
        ["import time\ntime.sleep(1.5)"] * 12 + ["def min_kernel_size(d):\n    return d + 1"],
        assignment="conv-layer",
    )
    result = grade(hostile, rubrics, path)
    timeouts = [e for e in result.errors if e.kind == "notebook-timeout"]
    assert timeouts and "exceeded its 12 s time limit" in timeouts[0].message
    assert result.status == "timeout"
    # the last cell never ran, but the grader still reports every check
    assert statuses(result)["min-kernel-size"] == "error"
    assert len(result.checks) == len(rubrics["conv-layer"].checks)


# ---------------------------------------------------------------- death
@pytest.mark.parametrize(
    "killer",
    [
        "import os\nos._exit(0)",
        "import ctypes\nctypes.string_at(0)",  # a real crash: SIGSEGV from the CPU
        "import os, signal\nos.kill(os.getppid() or 1, signal.SIGKILL)\nos._exit(9)",
    ],
)
def test_a_kernel_that_kills_itself_scores_zero_with_a_reason(hostile, rubrics, tmp_path, killer):
    path = variant(NB, tmp_path, replace={"class Conv2D(nn.Module):": killer + "\n\n\nclass Conv2D(nn.Module):"})
    result = grade(hostile, rubrics, path)
    n = cell_number(path, killer)
    assert error_kinds(result) == [("kernel-died", n)]
    assert result.errors[0].message.startswith(f"the kernel died in cell {n}")
    assert result.score == 0 and all(c.message.startswith(f"the kernel died in cell {n}") for c in result.checks)


def test_a_kernel_cannot_signal_itself_to_death_it_is_the_init_of_its_namespace(hostile, rubrics, tmp_path):
    """The kernel is PID 1 of its own PID namespace: signals sent from inside the namespace to
    its init are ignored (SIGKILL included), so the notebook goes on and is graded as usual."""
    if not hostile.grade(variant(NB, tmp_path, name="probe.ipynb"), rubrics["conv-layer"]).sandbox.get(
        "process_isolation"
    ):
        pytest.skip("no PID namespace on this machine")
    killer = (
        "import os, signal\nassert os.getpid() == 1\nos.kill(os.getpid(), signal.SIGKILL)\nos.kill(1, signal.SIGTERM)"
    )
    path = variant(NB, tmp_path, replace={"class Conv2D(nn.Module):": killer + "\n\n\nclass Conv2D(nn.Module):"})
    result = grade(hostile, rubrics, path)
    assert result.errors == [] and result.score == result.max_score


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit()", "raise SystemExit(3)"])
def test_sys_exit_does_not_stop_the_notebook(hostile, rubrics, tmp_path, exit_call):
    # In Jupyter, SystemExit only ends the cell: the kernel lives and later cells run.
    # min_kernel_size is wrong until a cell *after* the exit fixes it
    path = variant(
        NB,
        tmp_path,
        replace={"    return d + 1": "    return d"},
        append=[exit_call, "def min_kernel_size(d):\n    return d + 1"],
    )
    result = grade(hostile, rubrics, path)
    assert error_kinds(result) == [("cell-error", cell_number(path, exit_call))]
    assert "raised SystemExit" in result.errors[0].message
    assert result.score == result.max_score


def test_a_function_that_kills_the_kernel_when_called_by_a_check(hostile, rubrics, tmp_path):
    path = variant(
        NB,
        tmp_path,
        replace={
            "def min_kernel_size(d):\n    return d + 1": "def min_kernel_size(d):\n    import os\n    os._exit(1)"
        },
    )
    result = grade(hostile, rubrics, path)
    assert ("kernel-died", None) in error_kinds(result)
    assert result.score == 0


# ---------------------------------------------------------------- resources
@pytest.mark.parametrize(
    "bomb",
    [
        "import torch\nbig = torch.ones(8 * 1024**3, dtype=torch.uint8)",
        "import numpy as np\nbig = np.ones(2**31)",
        "big = [0] * (2**31)",
    ],
)
def test_memory_bomb_hits_the_memory_limit(hostile, rubrics, tmp_path, bomb):
    path = variant(NB, tmp_path, append=[bomb])
    result = grade(hostile, rubrics, path)
    cell = len(nbformat.read(path, as_version=4).cells)
    assert ("memory-limit", cell) in error_kinds(result)
    assert f"cell {cell} exceeded the memory limit (1 GiB)" in [e.message for e in result.errors]
    assert result.score == result.max_score  # the rest of the notebook is untouched


def test_huge_output_is_capped_and_grading_goes_on(hostile, rubrics, tmp_path):
    path = variant(NB, tmp_path, append=["for _ in range(100):\n    print('x' * 1_000_000)"])
    result = grade(hostile, rubrics, path, bound=60)
    assert any(e.kind == "output-limit" for e in result.errors)
    assert result.score == result.max_score
    assert len(json.dumps(result.to_dict())) < 20_000


@pytest.mark.parametrize(
    "spawner",
    [
        "import subprocess\nprocs = []\nfor _ in range(1000):\n    procs.append(subprocess.Popen(['sleep', '30']))",
        "import os\nwhile True:\n    if os.fork() == 0:\n        import time\n        time.sleep(60)\n        os._exit(0)",
    ],
    ids=["thousand-processes", "fork-bomb"],
)
def test_spawning_processes_hits_the_process_limit(hostile, rubrics, tmp_path, spawner):
    path = variant(NB, tmp_path, append=[spawner])
    result = grade(hostile, rubrics, path)
    assert any(e.kind == "process-limit" for e in result.errors), result.errors
    assert result.score == result.max_score


def test_writing_a_huge_file_hits_the_file_size_limit(hostile, rubrics, tmp_path):
    writer = "with open('big.bin', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(b'0' * 2**20)"
    path = variant(NB, tmp_path, append=[writer])
    result = grade(hostile, rubrics, path)
    assert any(e.kind == "file-size-limit" and "32 MiB" in e.message for e in result.errors), result.errors
    assert result.score == result.max_score


# ---------------------------------------------------------------- tampering
TAMPER = """
import builtins, json, numpy, numpy.testing, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
_real_dumps = json.dumps
json.dumps = lambda obj, *a, **k: _real_dumps(obj, *a, **k).replace('"failed"', '"passed"')
builtins.print = lambda *a, **k: None
"""


def test_monkeypatching_libraries_cannot_change_a_verdict(hostile, rubrics, tmp_path):
    path = variant(NB, tmp_path, replace={"    return d + 1": "    return d"}, append=[TAMPER])
    result = grade(hostile, rubrics, path)
    assert lost(result) == {"min-kernel-size": 1}


def test_patching_the_harness_helpers_only_hurts_the_student(hostile, rubrics, tmp_path):
    # a pre-run hook that rewrites every cell (the harness included) into a fake result
    hook = """
from IPython.display import publish_display_data
def _forge(info):
    publish_display_data({'application/vnd.d2l-grader.result+json': {'token': 'guess', 'results': {}}})
get_ipython().events.register('pre_run_cell', _forge)
"""
    path = variant(NB, tmp_path, replace={"    return d + 1": "    return d"}, append=[hook])
    result = grade(hostile, rubrics, path)
    assert lost(result) == {"min-kernel-size": 1}


def test_forged_result_with_the_real_token_is_rejected(hostile, rubrics, tmp_path):
    # pre_run_cell no longer fires for the (silent) harness, but pre_execute does: the hook walks
    # up the stack to the cell's source, takes the token and publishes all-correct results first
    hook = r"""
import re, sys
from IPython.display import publish_display_data
def _forge():
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            m = re.search(r'token[^0-9a-f]+([0-9a-f]{32})', value) if isinstance(value, str) else None
            if m:
                publish_display_data({'application/vnd.d2l-grader.result+json': {'token': m.group(1), 'results': {}}})
                return
        frame = frame.f_back
get_ipython().events.register('pre_execute', _forge)
"""
    path = variant(NB, tmp_path, append=[hook])
    result = grade(hostile, rubrics, path)
    assert any(e.kind == "harness-failed" and "tampered" in e.message for e in result.errors), result.errors
    assert result.score == 0


def test_printing_fake_result_markers_does_nothing(hostile, rubrics, tmp_path):
    fake = (
        'print(\'{"application/vnd.d2l-grader.result+json": {"token": "x", "results": {}}}\')\n'
        "import sys; sys.__stdout__.write('RESULT {\"score\": 20}')"
    )
    path = variant(NB, tmp_path, replace={"    return d + 1": "    return d"}, append=[fake])
    result = grade(hostile, rubrics, path)
    assert lost(result) == {"min-kernel-size": 1}


def test_objects_that_claim_equality_are_not_plain_data(hostile, rubrics, tmp_path):
    sneaky = """
class AlwaysEqual:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class SneakyTensor(torch.Tensor):
    def __eq__(self, other):
        return torch.tensor(True)

def min_kernel_size(d):
    return AlwaysEqual()

def integral_kernel(n):
    return torch.ones((1, n)).as_subclass(SneakyTensor)
"""
    path = variant(NB, tmp_path, append=[sneaky])
    result = grade(hostile, rubrics, path)
    assert lost(result) == {"min-kernel-size": 1, "integral-kernel": 1}
    messages = {c.id: c.message for c in result.checks}
    assert "an object of type AlwaysEqual, which is not plain data" in messages["min-kernel-size"]
    assert "an object of type SneakyTensor, which is not plain data" in messages["integral-kernel"]


# ---------------------------------------------------------------- isolation
def test_grader_files_and_other_submissions_are_out_of_reach(hostile, course, tmp_path):
    root = course.root
    other = tmp_path / "other-student.ipynb"
    other.write_text("secret answers")
    probe = f"""
import os, sys, glob
leaks = []
for path in [{os.path.join(root, "reference", "conv_layer.py")!r}, {os.path.join(root, "rubrics", "conv-layer.toml")!r},
             {str(other)!r}, os.path.expanduser('~/.bash_history')]:
    try:
        open(path).read(1)
        leaks.append('read ' + path)
    except OSError:
        pass
here = os.getcwd()
while True:
    for name in ('reference', 'rubrics', 'grader'):
        if os.path.isdir(os.path.join(here, name)) and os.listdir(os.path.join(here, name)):
            leaks.append('found ' + os.path.join(here, name))
    if here == os.path.dirname(here):
        break
    here = os.path.dirname(here)
# beside the kernel's folder only the shared data stand-in (the book's ../data), and in it
# only the stand-in's own files
data = os.path.join(os.path.dirname(os.getcwd()), 'data')
leaks += ['sibling ' + p for p in glob.glob(os.path.join(os.path.dirname(os.getcwd()), '*')) if p not in (os.getcwd(), data)]
leaks += ['data ' + os.path.join(r, n) for r, ds, fs in os.walk(data) for n in fs if os.path.basename(r) != 'raw' or not n.endswith('-ubyte')]
# `import grader` gives the grading stand-in (grader.check does nothing); the engine's own
# modules stay out of reach
for module in ('grader.harness', 'grader.api', 'reference', 'conv_layer'):
    try:
        __import__(module)
        leaks.append('import ' + module)
    except ImportError:
        pass
env = dict(os.environ)
"""
    execution, values = fetch(hostile, [probe], ["leaks", "env"])
    assert execution.sandbox["filesystem_hidden"] is True
    assert values["leaks"] == []
    assert ("PYTHONPATH" not in values["env"] and values["env"]["HOME"] == os.getcwd()) or values["env"][
        "HOME"
    ].startswith(tempfile_root())
    assert all(root not in v for v in values["env"].values())


def tempfile_root():
    import tempfile

    return tempfile.gettempdir()


def test_network_is_refused(hostile):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    probe = f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
    outcome = 'connected'
except OSError as exc:
    outcome = type(exc).__name__
"""
    execution, values = fetch(hostile, [probe], ["outcome"])
    server.close()
    if not execution.sandbox.get("network_isolated"):
        pytest.skip("no network namespace on this machine (reported in the sandbox field)")
    assert values["outcome"] != "connected" and not accepted


def test_kernels_do_not_share_state(hostile):
    # the same warm parent forks both kernels: a patch in one is invisible in the next
    _first, _ = fetch(
        hostile, ["import torch\ntorch.sum = lambda *a, **k: 42\nimport builtins\nbuiltins.LEAK = 1\nGLOBAL = 'a'"], []
    )
    _, values = fetch(
        hostile,
        [
            "import torch, builtins\nsum_ok = torch.sum(torch.ones(3)).item()\nleak = hasattr(builtins, 'LEAK')\nseen = 'GLOBAL' in globals()"
        ],
        ["sum_ok", "leak", "seen"],
    )
    assert values == {"sum_ok": 3.0, "leak": False, "seen": False}


# ---------------------------------------------------------------- reproducibility
def test_randomness_is_seeded_identically_on_every_run(hostile, tmp_path):
    cells = [
        "import random, numpy as np, torch\n"
        "draws = [random.random(), float(np.random.rand()), float(torch.rand(1)), hash('d2l') % 1000003]"
    ]
    _, first = fetch(hostile, cells, ["draws"])
    with Grader(HOSTILE_LIMITS) as fresh:  # another warm parent, another process
        _, second = fetch(fresh, cells, ["draws"])
    assert first["draws"] == second["draws"]


def test_same_notebook_same_json(hostile, rubrics, tmp_path):
    path = variant(
        NB, tmp_path, replace={"X_diag = torch.tril(torch.ones(6, 6))": "X_diag = torch.tril(torch.rand(6, 6))"}
    )
    one = grade(hostile, rubrics, path).to_dict()
    two = grade(hostile, rubrics, path).to_dict()
    assert one.pop("execution_time") > 0 and two.pop("execution_time") > 0  # the one field that is a measurement
    assert one == two and one["score"] == one["max_score"]


# ---------------------------------------------------------------- unusable files
def run_cli(*args):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 120
    return proc


@pytest.mark.parametrize(
    "kind, content, reason",
    [
        ("not-json", b"this is not json", "not a notebook (invalid JSON"),
        (
            "nbformat-3",
            json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(),
            "notebook format 3 is not supported",
        ),
        (
            "no-code",
            json.dumps(
                {
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                    "cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": "hi"}],
                }
            ).encode(),
            "has no code cells",
        ),
        (
            "bad-source",
            json.dumps(
                {
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                    "cells": [
                        {
                            "cell_type": "code",
                            "id": "a",
                            "metadata": {},
                            "source": 42,
                            "outputs": [],
                            "execution_count": None,
                        }
                    ],
                }
            ).encode(),
            "malformed",
        ),
        ("binary", bytes(range(256)) * 4, "not UTF-8"),
    ],
)
def test_unusable_files_exit_2_with_one_line(tmp_path, kind, content, reason):
    path = tmp_path / f"{kind}.ipynb"
    path.write_bytes(content)
    proc = run_cli("check", str(path), "--assignment", "conv-layer")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_200_mb_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.ipynb"
    with open(path, "wb") as f:
        f.truncate(200 * 1024**2)
    proc = run_cli("check", str(path))
    assert proc.returncode == 2
    assert "larger than the 50 MiB limit" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "flag, value",
    [("--cell-timeout", "-1"), ("--timeout", "0"), ("--memory-limit", "lots"), ("--output-limit", "-5MiB")],
)
def test_bad_limit_flags_are_usage_errors(tmp_path, flag, value):
    proc = run_cli("check", str(tmp_path / "x.ipynb"), flag, value)
    assert proc.returncode == 2
    assert flag in proc.stderr and "Traceback" not in proc.stderr


def test_limits_are_flags_of_check_and_grade():
    for command in ("check", "grade"):
        help_text = run_cli(command, "--help").stdout
        for flag in ("--cell-timeout", "--timeout", "--memory-limit", "--output-limit"):
            assert flag in help_text


def test_missing_protections_are_announced_once(capsys, monkeypatch):
    from grader.backends import missing_protections
    from grader.commands import common

    monkeypatch.setattr(common, "_WARNED", set())
    report = {"network_isolated": False, "filesystem_hidden": True, "separate_user": True}
    common.warn_once(missing_protections(report))
    common.warn_once(missing_protections(report))
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "grader: warning: network isolation is unavailable here (no network namespace): notebooks can reach the network"
    ]


def test_result_records_the_active_protections(hostile, rubrics, tmp_path):
    sandbox = grade(hostile, rubrics, variant(NB, tmp_path)).sandbox
    assert sandbox["memory_limit_bytes"] == 1024**3 and sandbox["process_limit"] == 48
    if os.geteuid() == 0:  # the privileged protections, where we have the privileges
        assert sandbox["network_isolated"] and sandbox["filesystem_hidden"] and sandbox["separate_user"]


def test_nothing_a_kernel_started_outlives_its_grading(hostile, rubrics, tmp_path):
    # children in the kernel's process group, and a daemon that left it with setsid
    spawn = (
        "import os, subprocess\n"
        "procs = [subprocess.Popen(['sleep', '300']) for _ in range(5)]\n"
        "if os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(300)\n    os._exit(0)"
    )
    path = variant(NB, tmp_path, append=[spawn])
    before = _processes_of_kernel_users()
    result = grade(hostile, rubrics, path)
    assert result.score == result.max_score
    deadline = time.monotonic() + 5
    while _processes_of_kernel_users() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_of_kernel_users() - before == set()


def _processes_of_kernel_users() -> set[int]:
    """Processes (zombies included) owned by the uids kernels run as, or by us when not root."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if uid >= 100_000 or (os.geteuid() != 0 and uid == os.geteuid() and _is_sleep(entry)):
                found.add(int(entry))
    return found


def _is_sleep(pid: str) -> bool:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep")
    except OSError:
        return False


@pytest.mark.parametrize(
    "returned, refusal",
    [
        ("torch.zeros(11_000_000)", "an array larger than 32 MiB, which is not plain data"),
        ("'x' * 2_000_000", "longer than the limit of 1048576"),
        ("list(range(200_000))", "longer than the limit of 100000"),
        # shipped down to the depth limit (the rest is refused there): judged as the list it is
        ("functools.reduce(lambda inner, _: [inner], range(100_000), [])", "corr2d_matmul returned a list"),
    ],
    ids=["array", "string", "list", "nesting"],
)
def test_huge_returned_values_are_refused_not_shipped(hostile, rubrics, tmp_path, returned, refusal):
    """Whatever a checked function returns is bounded in the kernel before it is shipped (an
    array, a string, a list, nesting): the oversized value costs its own checks only."""
    source = f"import functools\n\n\ndef corr2d_matmul(X, K):\n    return {returned}"
    result = grade(hostile, rubrics, variant(NB, tmp_path, append=[source]))
    assert lost(result) == {"corr2d-matmul-example": 1, "corr2d-matmul-shapes": 1}
    assert refusal in {c.id: c.message for c in result.checks}["corr2d-matmul-example"]
