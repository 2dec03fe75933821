"""The final cell of a graded notebook: the harness (`grader/harness.py`) run on one request.

The cell is either the harness's whole source, compiled in the kernel, or, in a kernel forked
from the warm parent, a reference to the same program compiled there once (`prepare`):
compiling 500 lines and pushing 20 KB of source through IPython's input transformers and
both ends of the Jupyter protocol cost every kernel ~5 ms of CPU. Either way the program is
identical and runs in a namespace of its own (so it cannot clobber the student's names), on
the request passed in that namespace as JSON text.

Nothing here is a secret or a trust boundary: the harness holds no expected value, and a
notebook that replaces the prepared program (it is reachable from the kernel, as everything
the kernel runs is) can only spoil its own results, exactly as it could by patching json or
numpy (see `grader/harness.py`).

When coverage.py measures the run (test runs), the program is compiled under harness.py's
real path, so the kernel's measurement counts its lines, and it ends by saving that
measurement (the kernel is killed afterwards and would save nothing at exit).
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import Any

HARNESS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
with open(HARNESS_PATH, encoding="utf-8") as _harness:
    HARNESS_SOURCE = _harness.read()

PREPARED_MODULE = "_d2l_grader_harness"  # in a forked kernel's sys.modules: `.code`, the compiled program
_NAMESPACE = "d2l_grader_harness"
_UNMEASURED_FILENAME = "<d2l-grader-harness>"

SAVE_KERNEL_COVERAGE = """
try:
    __import__('sys').modules['coverage'].Coverage.current().save()
except Exception:
    pass
"""


def program(measured: bool) -> tuple[str, str]:
    """(source, filename) of the harness program: the harness, then its call on `_request`."""
    source = HARNESS_SOURCE + "\n_run(__import__('json').loads(_request))\n"
    if measured:
        return source + SAVE_KERNEL_COVERAGE, HARNESS_PATH
    return source, _UNMEASURED_FILENAME


def prepare(measured: bool) -> None:
    """Compile the program into this process's `sys.modules` (the warm parent, before it forks
    any kernel)."""
    module = types.ModuleType(PREPARED_MODULE, "the grader's harness program, compiled once (grader/harness_cell.py)")
    module.code = compile(*program(measured), "exec")  # type: ignore[attr-defined]
    sys.modules[PREPARED_MODULE] = module


def cell_source(request: dict[str, Any], prepared: bool, measured: bool) -> str:
    """The code of the final cell for `request`; `prepared`: the kernel has the compiled program."""
    namespace = f"{{'__name__': {_NAMESPACE!r}, '_request': {json.dumps(request)!r}}}"
    if prepared:
        return f"exec(__import__({PREPARED_MODULE!r}).code, {namespace})"
    source, filename = program(measured)
    return f"exec(compile({source!r}, {filename!r}, 'exec'), {namespace})"
