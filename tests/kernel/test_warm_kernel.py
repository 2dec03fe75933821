"""What a kernel forked from the warm parent starts with, and what it must not.

The warm parent does once what every kernel would otherwise repeat (making IPython's shell, or
ipykernel's application set-up; compiling the harness), and imports plotting, or the torch compiler stack that
optimizers and dispatch modes import, only once a notebook plots or trains; a kernel must
still be configured exactly as its options say and be a kernel of its own.
"""

from __future__ import annotations

from grader.forkserver import KERNEL_OPTIONS
from grader.grading import Grader
from tests.kernel.conftest import TEST_LIMITS
from tests.kernels import run_cells, run_together
from tests.nbfactory import from_cells

INSPECT = [
    "import sys\n"
    "ip = get_ipython()\n"
    "history = ip.history_manager.enabled\n"
    "colors = str(ip.colors)\n"
    "shell = type(ip).__module__ + '.' + type(ip).__name__\n"
    "plotting = 'matplotlib.pyplot' in sys.modules\n"
    "compiler = 'torch._dynamo' in sys.modules\n"
    "harness_ready = '_d2l_grader_harness' in sys.modules\n"
    # the engine's modules (listed in the warm parent) left sys.modules; `grader` is the stand-in
    "engine = sorted(m for m in sys.modules if m == 'grader' or m.startswith('grader.'))\n"
    "stand_in = 'does nothing here' in (sys.modules['grader'].__doc__ or '')\n"
    "xmode = ip.InteractiveTB.mode\n"
    # a warm parent of pipe kernels never loads ipykernel and ZeroMQ (forkserver._warm_up)
    "ipykernel_loaded = 'ipykernel.kernelapp' in sys.modules or 'zmq' in sys.modules\n"
]
NAMES = ["history", "colors", "shell", "plotting", "compiler", "harness_ready", "connection", "engine", "stand_in"]


def _engine_gone(seen: dict) -> None:
    assert seen["engine"] == ["grader"] and seen["stand_in"] is True


# Where each kind of kernel is connected: its own socket (pipe), its own connection file (ipykernel).
PIPE_CONNECTION = "connection = sys.stdout.channel.sock.getpeername()\n"
IPYKERNEL_SETTINGS = (
    "app = __import__('ipykernel.kernelapp').kernelapp.IPKernelApp.instance()\n"
    "log_level = int(app.log_level)\n"
    "captures_fds = bool(app.capture_fd_output)\n"
    "connection = app.connection_file\n"
)


def _own_connections(one: dict, other: dict) -> None:
    assert one["connection"] and one["connection"] != other["connection"]
    assert {k: v for k, v in one.items() if k != "connection"} == {k: v for k, v in other.items() if k != "connection"}


# The shell ran a first cell in the warm parent (pipe_kernel.WARM_UP): a kernel must not see it.
FRESH = (
    "warm_names = sorted(n for n in ('torch', '_x', '_y', '_layer', '_rows', '_z', '_shown') if n in globals())\n"
    "count = ip.execution_count\n"
    "inputs = (len(ip.user_ns['In']), len(ip.user_ns['Out']))\n"
)


def test_each_pipe_kernel_is_an_ipython_shell_as_configured_with_its_own_connection(grader):
    cells = [INSPECT[0] + PIPE_CONNECTION + FRESH]
    names = [*NAMES, "warm_names", "count", "inputs", "xmode", "ipykernel_loaded"]
    (first, one), (second, other) = run_together(grader, (cells, names), (cells, names))
    assert not first.errors and not second.errors
    assert one["shell"] == "grader.pipe_kernel.Shell"  # made in the warm parent, one copy per kernel
    assert one["history"] is False and one["colors"].lower() == "nocolor"
    assert one["harness_ready"] is True  # compiled once in the warm parent
    assert one["connection"].endswith("/.kernel/pipe")
    # The warm-up left no name and counted nothing: this is cell 1 (IPython has already moved its
    # counter on to 2 while the cell runs, as in an ipykernel), In holds '' and this cell, Out nothing.
    assert one["warm_names"] == [] and one["count"] == 2 and one["inputs"] == (2, 0)
    assert one["xmode"] == "Plain"  # tracebacks as Python prints them (pipe_kernel._make_shell)
    assert one["ipykernel_loaded"] is False
    _engine_gone(one)
    _own_connections(one, other)


def test_each_ipykernel_is_configured_as_its_options_say_with_its_own_connection(course, monkeypatch):
    monkeypatch.setenv("D2L_GRADER_KERNEL_PROTOCOL", "jupyter")
    cells = [INSPECT[0] + IPYKERNEL_SETTINGS]
    names = [*NAMES, "log_level", "captures_fds", "xmode", "ipykernel_loaded"]
    with Grader(TEST_LIMITS, course=course) as jupyter:
        (first, one), (second, other) = run_together(jupyter, (cells, names), (cells, names))
    assert not first.errors and not second.errors
    assert one["shell"] == "ipykernel.zmqshell.ZMQInteractiveShell"
    assert "--HistoryManager.enabled=False" in KERNEL_OPTIONS and one["history"] is False
    assert "--InteractiveShell.colors=nocolor" in KERNEL_OPTIONS and one["colors"].lower() == "nocolor"
    assert "--IPKernelApp.log_level=CRITICAL" in KERNEL_OPTIONS and one["log_level"] == 50
    assert one["captures_fds"] is False and one["ipykernel_loaded"] is True
    assert "--InteractiveShell.xmode=Plain" in KERNEL_OPTIONS and one["xmode"] == "Plain"
    assert one["harness_ready"] is True
    _engine_gone(one)
    _own_connections(one, other)


def test_plotting_and_the_compiler_stack_are_imported_ahead_only_once_a_notebook_needs_them(tmp_path, course):
    plots = from_cells(tmp_path, ["import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.close('all')"], "plots.ipynb")
    trains = from_cells(
        tmp_path,
        [
            "import torch\nw = torch.ones(2, requires_grad=True)\nopt = torch.optim.SGD([w], lr=0.5)\n"
            "(w ** 2).sum().backward()\nopt.step()\nassert w.tolist() == [0.0, 0.0]"
        ],
        "trains.ipynb",
    )
    names = ["plotting", "compiler", "engine", "stand_in"]
    gone = {"engine": ["grader"], "stand_in": True}  # also after each import the warm parent did ahead
    with Grader(TEST_LIMITS, course=course) as fresh:
        execution, before = run_cells(fresh, INSPECT, names)
        assert not execution.errors and before == {
            "plotting": False,
            "compiler": False,
            **gone,
        }  # conv-layer pays for neither
        result = fresh.grade(plots, "conv-layer")
        assert not [e for e in result.errors if e.kind == "cell-error"]  # it plotted, importing pyplot itself
        execution, after = run_cells(
            fresh, [*INSPECT, "backend = __import__('matplotlib').get_backend()"], [*names, "backend"]
        )
        assert not execution.errors and after["plotting"] is True and after["backend"].lower() == "agg"
        assert after["compiler"] is False  # plotting is not training
        result = fresh.grade(trains, "conv-layer")
        assert not [e for e in result.errors if e.kind == "cell-error"]  # its SGD step is right
        execution, after = run_cells(fresh, INSPECT, names)
        assert not execution.errors and after == {"plotting": True, "compiler": True, **gone}
