"""Grading one notebook end to end: `grade_notebook(path, rubric, limits) -> GradeResult`.

A `Grader` owns the expensive, reusable parts — the warm fork server and a private
temporary root — so `grader check` and `grader grade` run every notebook through
exactly the same code, one fresh kernel each.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import time
from typing import Any

from . import checks, notebook
from .course import course_root, package_dir
from .execute import execute_notebook
from .forkserver import ForkServer
from .limits import Limits
from .results import GradeResult, NotebookError
from .rubric import Rubric, load_all
from .sandbox import SandboxConfig

# Never cover these with tmpfs, whatever the working directory is.
_SYSTEM_DIRS = {"/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/sys", "/var", "/opt", "/run"}
MAX_OWN_FILES_BYTES = 50 * 1024 * 1024


class Grader:
    """Grades notebooks one at a time or concurrently, sharing one warm fork server."""

    def __init__(self, limits: Limits | None = None, slots: int = 1) -> None:
        self.limits = limits or Limits()
        self._server: ForkServer | None = None
        self._root = tempfile.mkdtemp(prefix="d2l-grader-")
        os.chmod(self._root, 0o711)  # kernels may enter their own folder, never list others
        self._plans: dict[str, checks.Plan] = {}
        self._uid_base = 100_000 + (os.getpid() % 50_000) * 16
        self._free_slots = list(range(max(1, slots)))
        self._rubrics: dict[str, Rubric] | None = None

    # -- lifecycle
    def start(self) -> "Grader":
        if self._server is None:
            self._server = ForkServer()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> "Grader":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rubrics(self) -> dict[str, Rubric]:
        if self._rubrics is None:
            self._rubrics = load_all()
        return self._rubrics

    def plan_for(self, rubric: Rubric) -> checks.Plan:
        if rubric.id not in self._plans:
            self._plans[rubric.id] = checks.plan(rubric)
        return self._plans[rubric.id]

    # -- grading
    def grade(self, path: str, rubric: Rubric | None = None, own_files: str | None = None) -> GradeResult:
        return asyncio.run(self.grade_async(path, rubric, own_files))

    async def grade_async(self, path: str, rubric: Rubric | None = None, own_files: str | None = None) -> GradeResult:
        """Grade one notebook; never raises for anything the notebook does."""
        started = time.monotonic()
        result = GradeResult(assignment=rubric.id if rubric else None, notebook=os.path.basename(path))
        try:
            nb = notebook.load(path)
            if rubric is None:
                rubric = notebook.detect_assignment(nb, path, self.rubrics)
                result.assignment = rubric.id
        except notebook.UnusableNotebook as exc:
            result.errors.append(NotebookError("invalid-notebook", str(exc)))
            return result
        except notebook.UnknownAssignment as exc:
            result.errors.append(NotebookError("unknown-assignment", str(exc)))
            return result
        the_plan = self.plan_for(rubric)
        result.manual = notebook.collect_manual(nb, rubric)
        slot = await self._take_slot()
        scratch = tempfile.mkdtemp(dir=self._root)
        try:
            self._stage(path, scratch, own_files)
            token = secrets.token_hex(16)
            request = the_plan.request(token, self.limits.call_timeout)
            execution = await execute_notebook(
                nb,
                fork_server=self._ensure_server(),
                sandbox=self._sandbox_config(scratch, slot, path),
                limits=self.limits,
                harness_request=request,
            )
        finally:
            self._free_slots.append(slot)
            shutil.rmtree(scratch, ignore_errors=True)
        result.errors.extend(execution.errors)
        result.sandbox = _public_sandbox(execution.sandbox)
        result.checks = checks.evaluate(the_plan, execution.fetched, execution.unavailable)
        result.execution_time = time.monotonic() - started
        return result

    async def _take_slot(self) -> int:
        while not self._free_slots:
            await asyncio.sleep(0.01)
        return self._free_slots.pop(0)

    def _ensure_server(self) -> ForkServer:
        self.start()
        assert self._server is not None
        return self._server

    def _stage(self, path: str, scratch: str, own_files: str | None) -> None:
        """Copy only this submission's files into the kernel's scratch directory."""
        if own_files and os.path.isdir(own_files):
            total = 0
            for entry in sorted(os.listdir(own_files)):
                source = os.path.join(own_files, entry)
                if os.path.isfile(source) and not os.path.islink(source):
                    total += os.path.getsize(source)
                    if total > MAX_OWN_FILES_BYTES:
                        break
                    shutil.copyfile(source, os.path.join(scratch, entry))
        shutil.copyfile(path, os.path.join(scratch, os.path.basename(path)))

    def _sandbox_config(self, scratch: str, slot: int, path: str) -> SandboxConfig:
        hide = {
            course_root(),
            package_dir(),
            os.path.expanduser("~"),
            self._root,
            os.getcwd(),
            os.path.dirname(os.path.abspath(path)),
            tempfile.gettempdir(),
        }
        hide = sorted(h for h in (os.path.realpath(p) for p in hide) if h not in _SYSTEM_DIRS)
        return SandboxConfig(
            scratch=scratch,
            hide=hide,
            uid=self._uid_base + slot if os.geteuid() == 0 else None,
            memory_bytes=self.limits.memory,
            file_bytes=self.limits.file_size,
            processes=self.limits.processes,
        )


def _public_sandbox(report: dict[str, Any]) -> dict[str, Any]:
    """The protections that were active, for the result's `sandbox` field."""
    keys = (
        "network_isolated",
        "filesystem_hidden",
        "separate_user",
        "process_limit_enforced",
        "memory_limit_bytes",
        "file_size_limit_bytes",
        "process_limit",
        "notes",
    )
    return {k: report[k] for k in keys if k in report}


def grade_notebook(path: str, rubric: Rubric | None = None, limits: Limits | None = None) -> GradeResult:
    """Grade one notebook with a short-lived Grader (what `grader check` does)."""
    with Grader(limits) as grader:
        return grader.grade(path, rubric)
