"""Where one notebook's grading time goes: a recorder for the benchmarks, not part of any result.

With `D2L_GRADER_PHASES=/path/file.jsonl` in the environment, every notebook a `Grader`
grades appends one JSON line to that file: the wall-clock seconds of each phase in the
grader's view (preparing the plan, getting a confined kernel, running the student's cells,
the harness cell, stopping the kernel, judging), the CPU seconds of the kernel's process
tree at the end of its cells and at the end of the harness, and the notebook's name. A
batch also records how long writing each result took, and its own CPU and wall time.
`bench/breakdown.py` turns the file into the per-notebook table of the README.

The recorder follows the notebook through the asyncio task grading it (a context variable),
so the phases of two notebooks graded side by side never mix. Without the variable it does
nothing and costs nothing beyond a lookup.
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

ENV = "D2L_GRADER_PHASES"
_CURRENT: contextvars.ContextVar[Phases | None] = contextvars.ContextVar("d2l_grader_phases", default=None)
_WRITING = threading.Lock()


class Phases:
    """The phases of one notebook, in the order they ended."""

    def __init__(self, notebook: str) -> None:
        self.notebook = notebook
        self.started = self.last = time.monotonic()
        self.began = time.time()  # when, on the wall clock (a benchmark lines notebooks up with its command)
        self.wall: dict[str, float] = {}
        self.values: dict[str, Any] = {}

    def mark(self, phase: str) -> None:
        """The time since the previous mark belongs to `phase`."""
        now = time.monotonic()
        self.wall[phase] = self.wall.get(phase, 0.0) + now - self.last
        self.last = now

    def note(self, key: str, value: Any) -> None:
        self.values[key] = value

    def record(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "began": self.began,
            "total": time.monotonic() - self.started,
            "phases": self.wall,
            **self.values,
        }


def begin(notebook: str) -> Phases | None:
    """Start recording the current task's notebook (when the environment asks for it)."""
    if not os.environ.get(ENV):
        return None
    phases = Phases(notebook)
    _CURRENT.set(phases)
    return phases


def mark(phase: str) -> None:
    phases = _CURRENT.get()
    if phases is not None:
        phases.mark(phase)


def measure(key: str, read: Callable[[], Any]) -> None:
    """Note `read()` under `key`, calling it only while recording: reading a kernel's CPU
    clock costs a control-group read every notebook would otherwise pay."""
    phases = _CURRENT.get()
    if phases is not None:
        phases.note(key, read())


def write(record: dict[str, Any]) -> None:
    """Append one line to the file the environment names (a failure to write is ignored: the
    recorder must never cost a grade)."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps(record) + "\n"  # phases in the order they ended
    try:
        with _WRITING, open(path, "a", encoding="utf-8") as f:
            f.write(line)
    except OSError:
        pass


def finish(phases: Phases | None) -> None:
    if phases is not None:
        write(phases.record())
        _CURRENT.set(None)
