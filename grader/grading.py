"""Grading one notebook end to end: a notebook path in, a complete `GradeResult` out.

A `Grader` owns the expensive, reusable parts — the warm fork server, a private temporary
root and the plans of the rubrics it has seen — so `grader check`, `grader grade`, the
Python API and Dask workers run every notebook through exactly the same code, one fresh
kernel each. Nothing here prints: what the caller should know travels in the result
(`errors` about the notebook, `warnings` about the run).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from . import notebook
from .course import Course, UnknownAssignment, load_course, package_dir
from .execute import Execution, execute_notebook
from .forkserver import ForkServer
from .judging import evaluate
from .kernel_manager import WarmKernel, discard, hold_context, release_context, start_kernel
from .limits import Limits
from .planning import Plan, plan
from .results import GradeResult, NotebookError
from .rubric import Rubric
from .sandbox import SandboxConfig

# Never cover these with tmpfs, whatever the working directory is.
_SYSTEM_DIRS = {"/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/sys", "/var", "/opt", "/run"}
MAX_OWN_FILES_BYTES = 50 * 1024 * 1024

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    In a script or pytest there is no running loop, so `asyncio.run` does it. Inside a
    Jupyter kernel (or any async application) the thread's loop is busy running *us*, so
    the coroutine runs on a helper thread with a loop of its own, and we wait for it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # type: ignore[arg-type]
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="d2l-grader", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def not_graded(rubric: Rubric | None, notebook_name: str, kind: str, message: str) -> GradeResult:
    """The result of a notebook that could not be run at all: no checks, one error saying
    why, and still the assignment's total, so it counts 0 out of the real total everywhere."""
    return GradeResult(
        assignment=rubric.id if rubric else None,
        notebook=notebook_name,
        max_score=rubric.max_score if rubric else 0.0,
        errors=[NotebookError(kind, message)],
    )


class Grader:
    """Grades notebooks one at a time or concurrently, sharing one warm fork server."""

    def __init__(
        self,
        limits: Limits | None = None,
        course: Course | None = None,
        hide: tuple[str, ...] = (),
        server: ForkServer | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._course = course
        self._server: ForkServer | None = server  # one started early by the caller, if any
        if server is not None:
            hold_context()
        self._root = tempfile.mkdtemp(prefix="d2l-grader-")
        os.chmod(self._root, 0o711)  # kernels may enter their own folder, never list others
        self._plans: dict[tuple[str, str], Plan] = {}
        self._uid_base = 100_000 + (os.getpid() % 50_000) * 128
        self._kernels_started = 0
        self._extra_hide = [os.path.abspath(h) for h in hide]

    # -- lifecycle
    def start(self) -> Grader:
        """Start the warm fork server now (it imports torch: start it early)."""
        if self._server is None:
            self._server = ForkServer()
            hold_context()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            release_context()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Grader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def course(self) -> Course:
        if self._course is None:
            self._course = load_course()
        return self._course

    def plan_for(self, rubric: Rubric) -> Plan:
        key = (rubric.path, rubric.id)
        if key not in self._plans:
            self._plans[key] = plan(rubric)
        return self._plans[key]

    # -- grading
    def grade(self, path: str, assignment: str | Rubric | None = None, own_files: str | None = None) -> GradeResult:
        """Grade one notebook (a script, pytest, or a running Jupyter kernel)."""
        return run_sync(lambda: self.grade_async(path, assignment, own_files))

    async def grade_async(
        self,
        path: str,
        assignment: str | Rubric | None = None,
        own_files: str | None = None,
        pool: KernelPool | None = None,
    ) -> GradeResult:
        """Grade one notebook; never raises for anything the notebook does."""
        started = time.monotonic()
        result = await self._grade(path, assignment, own_files, pool)
        result.execution_time = time.monotonic() - started
        return result

    async def _grade(
        self, path: str, assignment: str | Rubric | None, own_files: str | None, pool: KernelPool | None
    ) -> GradeResult:
        name = os.path.basename(path)
        rubric: Rubric | None = None
        try:
            rubric = self.course.get(assignment) if isinstance(assignment, str) else assignment
        except UnknownAssignment as exc:
            return not_graded(None, name, "unknown-assignment", str(exc))
        try:
            nb = notebook.load(path)
        except notebook.UnusableNotebook as exc:
            return not_graded(rubric, name, "invalid-notebook", str(exc))
        if rubric is None:
            try:
                rubric = notebook.detect_assignment(nb, path, self.course)
            except UnknownAssignment as exc:
                return not_graded(None, name, "unknown-assignment", str(exc))
        the_plan = self.plan_for(rubric)
        result = GradeResult(assignment=rubric.id, notebook=name, max_score=rubric.max_score)
        result.manual = notebook.collect_manual(nb, rubric)
        execution = await self._execute(nb, path, own_files, pool, the_plan)
        result.errors.extend(execution.errors)
        result.sandbox = _public_sandbox(execution.sandbox)
        result.warnings = missing_protections(result.sandbox)
        result.checks = evaluate(the_plan, execution.fetched, execution.unavailable)
        return result

    async def _execute(
        self, nb: Any, path: str, own_files: str | None, pool: KernelPool | None, the_plan: Plan
    ) -> Execution:
        request = the_plan.request(secrets.token_hex(16), self.limits.call_timeout)
        scratch = None
        try:
            if pool is not None:  # booted ahead, already confined
                kernel = await pool.acquire()
                scratch = kernel.scratch
                self._stage(path, scratch, own_files)
                return await execute_notebook(nb, kernel=kernel, limits=self.limits, harness_request=request)
            scratch = self.new_scratch()
            self._stage(path, scratch, own_files)
            config = self.sandbox_config(scratch, extra_hide=[os.path.dirname(os.path.abspath(path))])
            return await execute_notebook(
                nb, fork_server=self._ensure_server(), sandbox=config, limits=self.limits, harness_request=request
            )
        except Exception as exc:  # the kernel could not be started: still a result
            execution = Execution(unavailable="the notebook could not be run")
            execution.errors.append(NotebookError("internal-error", f"could not start a kernel: {exc}"))
            return execution
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def new_scratch(self) -> str:
        return tempfile.mkdtemp(dir=self._root)

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

    def sandbox_config(self, scratch: str, extra_hide: list[str] | None = None) -> SandboxConfig:
        hide = {
            self.course.root,
            package_dir(),
            os.path.expanduser("~"),
            self._root,
            os.getcwd(),
            tempfile.gettempdir(),
            *self._extra_hide,
            *(extra_hide or []),
        }
        hide_list = sorted(h for h in (os.path.realpath(p) for p in hide) if h not in _SYSTEM_DIRS)
        self._kernels_started += 1
        # A uid per kernel (cycling through 128): kernels alive at the same time never share one.
        uid = self._uid_base + self._kernels_started % 128 if os.geteuid() == 0 else None
        return SandboxConfig(
            scratch=scratch,
            hide=hide_list,
            uid=uid,
            memory_bytes=self.limits.memory,
            file_bytes=self.limits.file_size,
            processes=self.limits.processes,
        )


class KernelPool:
    """Keeps `size` kernels booting ahead of demand, so a notebook never waits for one.

    Each kernel is still used for exactly one notebook; only its start-up overlaps the
    previous notebook. Bound to the event loop it is used in (batch grading).
    """

    def __init__(self, grader: Grader, size: int) -> None:
        self.grader = grader
        self.size = max(1, size)
        self._booting: deque[asyncio.Task] = deque()

    def _boot(self) -> None:
        scratch = self.grader.new_scratch()
        config = self.grader.sandbox_config(scratch)
        self._booting.append(asyncio.ensure_future(start_kernel(self.grader._ensure_server(), config)))

    async def acquire(self) -> WarmKernel:
        while len(self._booting) < self.size + 1:
            self._boot()
        task = self._booting.popleft()
        self._boot()
        return await task

    async def close(self) -> None:
        """Discard unused kernels; ones still booting are cancelled (and killed) at once."""
        while self._booting:
            task = self._booting.popleft()
            if not task.done():
                task.cancel()  # start_kernel kills its kernel when cancelled
            try:
                kernel = await task
            except BaseException:
                continue
            await discard(kernel)
            shutil.rmtree(kernel.scratch, ignore_errors=True)


_PROTECTIONS = {
    "network_isolated": "network isolation is unavailable here (no network namespace): notebooks can reach the network",
    "filesystem_hidden": "grader files cannot be hidden here (no mount namespace): notebooks can read them",
    "separate_user": "kernels run as your own user (not root, so no separate unprivileged user)",
}


def missing_protections(report: dict[str, Any]) -> list[str]:
    """Warnings for the protections this machine could not give (empty when all were)."""
    if not report:
        return []
    return [message for key, message in _PROTECTIONS.items() if not report.get(key)]


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
