"""What the engine does for coverage runs (`.coveragerc`) is inert without coverage, and safe with it.

These tests stand in for coverage.py with a fake module, so they mean the same whether or not
the suite itself runs under coverage.
"""

from __future__ import annotations

import ast
import io
import json
import os
import sys
from types import SimpleNamespace

import pytest

from grader import execute, forkserver, harness_cell

REQUEST = {"token": "t0k", "fetches": [{"key": "k", "kind": "name", "name": "x"}]}


@pytest.fixture
def no_coverage(monkeypatch):
    """A process where coverage.py is imported but measures nothing (or is not imported at all)."""
    monkeypatch.setitem(sys.modules, "coverage", SimpleNamespace(Coverage=SimpleNamespace(current=lambda: None)))


@pytest.fixture
def measuring(monkeypatch, tmp_path):
    """A process measured by coverage.py, whose data files go to tmp_path/data."""
    saved = []
    cov = SimpleNamespace(config=SimpleNamespace(data_file=str(tmp_path / "data" / ".coverage")), save=saved.append)
    monkeypatch.setitem(sys.modules, "coverage", SimpleNamespace(Coverage=SimpleNamespace(current=lambda: cov)))
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_coverage_running_is_none_unless_coverage_measures(monkeypatch, no_coverage):
    assert forkserver.coverage_running() is None
    monkeypatch.delitem(sys.modules, "coverage")
    assert forkserver.coverage_running() is None


def test_without_coverage_the_harness_cell_is_the_harness_and_its_call_only(no_coverage):
    source = execute.harness_cell_source(REQUEST)
    program = harness_cell.HARNESS_SOURCE + "\n_run(__import__('json').loads(_request))\n"
    namespace = f"{{'__name__': 'd2l_grader_harness', '_request': {json.dumps(REQUEST)!r}}}"
    assert source == f"exec(compile({program!r}, '<d2l-grader-harness>', 'exec'), {namespace})"
    assert "coverage" not in source.replace(harness_cell.HARNESS_SOURCE, "")


def test_a_kernel_of_a_warm_parent_runs_the_same_program_compiled_there(no_coverage, monkeypatch):
    monkeypatch.delitem(sys.modules, harness_cell.PREPARED_MODULE, raising=False)
    harness_cell.prepare(measured=False)
    prepared = sys.modules[harness_cell.PREPARED_MODULE].code
    source = execute.harness_cell_source(REQUEST, prepared=True)
    assert harness_cell.HARNESS_SOURCE[:200] not in source and len(source) < 400
    sent = (
        ast.parse(execute.harness_cell_source(REQUEST)).body[0].value.args[0]
    )  # exec(compile(PROGRAM, FILENAME, 'exec'), ...)
    assert prepared == compile(*(ast.literal_eval(arg) for arg in sent.args[:2]), "exec")
    # the two cells differ only in where the program comes from; the namespace and request are the same
    namespaces = {
        ast.unparse(ast.parse(cell).body[0].value.args[1]) for cell in (source, execute.harness_cell_source(REQUEST))
    }
    assert len(namespaces) == 1 and json.dumps(REQUEST) in ast.literal_eval(namespaces.pop())["_request"]


def test_with_coverage_the_harness_keeps_its_real_lines_and_saves_the_kernels_data(measuring):
    source = execute.harness_cell_source(REQUEST)
    compile_call = ast.parse(source).body[0].value.args[0]  # exec(compile(PROGRAM, FILENAME, 'exec'), ...)
    program, filename = (ast.literal_eval(arg) for arg in compile_call.args[:2])
    assert filename == harness_cell.HARNESS_PATH and os.path.isfile(filename)
    assert program.startswith(harness_cell.HARNESS_SOURCE)  # line numbers are harness.py's own
    code = compile(program, filename, "exec")  # valid Python, ending in the save
    assert code.co_filename == filename
    assert program.rstrip().endswith("pass") and ".save()" in program[len(harness_cell.HARNESS_SOURCE) :]


def test_the_save_in_the_harness_cell_never_fails_the_cell(measuring, monkeypatch):
    program = harness_cell.SAVE_KERNEL_COVERAGE
    exec(compile(program, "<save>", "exec"), {})  # the (fake) measurement saves
    monkeypatch.delitem(sys.modules, "coverage")
    exec(compile(program, "<save>", "exec"), {})  # a kernel not measured: nothing happens


@pytest.mark.parametrize("measured", [False, True])
def test_the_server_leaves_at_once_unless_measured(request, monkeypatch, measured):
    request.getfixturevalue("measuring" if measured else "no_coverage")
    exits = []

    def fake_exit(code):
        exits.append(code)
        raise RuntimeError("os._exit")

    monkeypatch.setattr(os, "_exit", fake_exit)
    out = io.BytesIO()
    if measured:  # a normal exit, which runs coverage's atexit save
        with pytest.raises(SystemExit) as exc:
            forkserver._leave(out)
        assert exc.value.code == 0 and exits == []
    else:
        with pytest.raises(RuntimeError):
            forkserver._leave(out)
        assert exits == [0]


def test_reaping_without_coverage_collects_nothing(no_coverage, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / ".coverage.vm.pid1.X1x").write_bytes(b"data")
    forkserver._collect_kernel_coverage(str(scratch))
    assert forkserver._MEASURED_KERNELS == {}
    assert sorted(os.listdir(tmp_path)) == ["scratch"]


def test_a_reaped_kernels_data_is_copied_but_nothing_else_it_left(measuring, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / ".coverage.vm.pid7.X1x").write_bytes(b"sqlite data")
    secret = tmp_path / "secret"
    secret.write_text("not for the kernel")
    os.symlink(secret, scratch / ".coverage.vm.pid7.X2x")  # a kernel's attempt to read a file
    os.mkfifo(scratch / ".coverage.vm.pid7.X3x")  # ... or to hang the server
    (scratch / "notes.txt").write_text("the student's own file")
    forkserver._collect_kernel_coverage(str(scratch))
    assert sorted(os.listdir(measuring)) == [".coverage.vm.pid7.X1x"]
    assert (measuring / ".coverage.vm.pid7.X1x").read_bytes() == b"sqlite data"
    forkserver._collect_kernel_coverage(str(tmp_path / "gone"))  # a scratch folder already removed


def test_a_kernel_child_measures_into_its_scratch_folder(monkeypatch, tmp_path):
    calls = []

    class FakeCoverage:
        inherited = SimpleNamespace(stop=lambda: calls.append("stop"), config=SimpleNamespace(serialize=lambda: "cfg"))

        def __init__(self, config_file):
            calls.append(("new", config_file))

        @classmethod
        def current(cls):
            return cls.inherited

        def set_option(self, name, value):
            calls.append((name, value))

        def start(self):
            calls.append("start")

    control = SimpleNamespace(Coverage=FakeCoverage, CONFIG_DATA_PREFIX=":data:")
    monkeypatch.setitem(sys.modules, "coverage.control", control)
    forkserver._measure_kernel({"sandbox": {"scratch": str(tmp_path)}})
    assert calls == ["stop", ("new", ":data:cfg"), ("run:data_file", str(tmp_path / ".coverage")), "start"]


@pytest.mark.parametrize("control", [SimpleNamespace(), None])
def test_a_kernel_child_never_fails_for_coverage(monkeypatch, control):
    # the child must go on to become a kernel, never return into the server's loop
    monkeypatch.setitem(sys.modules, "coverage.control", control)  # None: the import fails
    forkserver._measure_kernel({"sandbox": {"scratch": "/nonexistent"}})
    forkserver._measure_kernel({})
