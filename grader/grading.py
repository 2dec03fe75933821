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
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .backends import Backend, make_backend, missing_protections
from .limits import Limits
from .policy import SandboxPolicy
from .results import CheckResult, GradeResult, NotebookError
from .sandbox import PROTECTIONS

# What grading a notebook needs beyond starting the warm parent (nbformat, pydantic, nbclient,
# jupyter_client, numpy: ~0.3 s of imports) is imported where it is first used, not here: a
# cold `grader check` constructs and starts a Grader first, so the warm parent's own ~1.3 s of
# start-up runs beside these imports instead of after them.
if TYPE_CHECKING:
    from .course import Course
    from .execute import Execution
    from .judge_process import RemoteJudge
    from .kernel_manager import WarmKernel
    from .planning import Plan
    from .rubric import Rubric

# Never cover these with tmpfs, whatever the working directory is.
_SYSTEM_DIRS = {"/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/sys", "/var", "/opt", "/run"}

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
        return _run_interruptibly(make)
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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run_interruptibly(make: Callable[[], Awaitable[T]]) -> T:
    """`asyncio.run`, where Ctrl-C raises KeyboardInterrupt to the caller (after every task's
    cleanup, so its kernel is killed) instead of cancelling the grading task, which nbclient
    may swallow and report as "the kernel died"."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return asyncio.run(make())  # type: ignore[arg-type]
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGINT, previous)


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
    """Grades notebooks one at a time or concurrently, sharing one kernel backend.

    Every kernel, on every path (`grader check`, the batch pool, Dask workers), is confined
    by the same `SandboxPolicy` (`policy`, default: made from `limits`).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        course: Course | None = None,
        hide: tuple[str, ...] = (),
        policy: SandboxPolicy | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.policy = policy or SandboxPolicy.from_limits(self.limits)
        self._course = course
        self._root = tempfile.mkdtemp(prefix="d2l-grader-", dir=scratch_base())
        os.chmod(self._root, 0o711)  # kernels may enter their own folder, never list others
        self._plans: dict[tuple[str, str, tuple[str, ...]], Plan] = {}
        self._extra_hide = [os.path.abspath(h) for h in hide]
        self.backend = make_backend(self.policy, self._root, self._hidden_folders)
        self._started = False
        self._datasets_lock = threading.Lock()
        self._datasets_written = False
        self._preloaded: set[str] = set()
        self._probes_read: set[str] = set()  # rubrics whose probes `_preload_for` has looked at
        self._judge: RemoteJudge | None = None  # the warm parent's judging child, once asked for

    # -- lifecycle
    def start(self) -> Grader:
        """Start the backend now (the warm parent imports torch: start it early)."""
        if not self._started:
            self._started = True
            self.backend.start()  # first: the warm parent boots while we import the rest
            judge = self._remote_judge()
            if judge is not None:  # forked as soon as the warm parent is warm, before any kernel
                threading.Thread(target=judge.prepare, daemon=True, name="judge-start").start()
            from .kernel_manager import hold_context

            hold_context()
        return self

    def alive(self) -> bool:
        """False once kernels can no longer be started (the warm parent died)."""
        return self.backend.alive()

    def kill(self) -> None:
        """Stop every kernel of this grader now, without waiting (then `close()`)."""
        self.backend.kill()

    def close(self) -> None:
        self.backend.close()  # first: a judge still being started then fails at once
        if self._judge is not None:
            self._judge.close()  # it ends when we hang up (and with the warm parent in any case)
            self._judge = None
        if self._started:
            self._started = False
            from .kernel_manager import release_context

            release_context()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Grader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def course(self) -> Course:
        if self._course is None:
            from .course import load_course

            self._course = load_course()
        return self._course

    @course.setter
    def course(self, course: Course) -> None:
        self._course = course

    def plan_for(self, rubric: Rubric, salt: str = "") -> Plan:
        """The rubric's plan (made once); with `salt`, that submission's own hidden inputs."""
        from .planning import plan, salted

        key = (rubric.path, rubric.id, tuple(c.id for c in rubric.checks))  # a whole rubric or a part
        if key not in self._plans:
            self._plans[key] = plan(rubric)
        base = self._plans[key]
        return plan(rubric, salt, base) if salt and salted(rubric) else base

    # -- grading
    def grade(
        self,
        path: str,
        assignment: str | Rubric | None = None,
        own_files: str | None = None,
        exercise: str | None = None,
    ) -> GradeResult:
        """Grade one notebook (a script, pytest, or a running Jupyter kernel); with `exercise`,
        only that exercise's public checks (see `Rubric.public_part`)."""
        return run_sync(lambda: self.grade_async(path, assignment, own_files, exercise=exercise))

    async def grade_async(
        self,
        path: str,
        assignment: str | Rubric | None = None,
        own_files: str | None = None,
        pool: KernelPool | None = None,
        exercise: str | None = None,
    ) -> GradeResult:
        """Grade one notebook; never raises for anything the notebook does."""
        from . import phases

        started = time.monotonic()
        recording = phases.begin(os.path.basename(path))
        result = await self._grade(path, assignment, own_files, pool, exercise)
        result.execution_time = time.monotonic() - started
        phases.mark("report")
        phases.finish(recording)
        return result

    async def _grade(
        self,
        path: str,
        assignment: str | Rubric | None,
        own_files: str | None,
        pool: KernelPool | None,
        exercise: str | None = None,
    ) -> GradeResult:
        from . import notebook, phases, staging
        from .course import UnknownAssignment

        name = os.path.basename(path)
        rubric: Rubric | None = None
        try:
            rubric = self.course.get(assignment) if isinstance(assignment, str) else assignment
        except UnknownAssignment as exc:
            return not_graded(None, name, "unknown-assignment", str(exc))
        try:
            staging.check_notebook(path, own_files)  # a link, a FIFO, a hard link: refused, never followed
            nb = notebook.load(path)
        except (staging.SubmissionRefused, notebook.UnusableNotebook) as exc:
            return not_graded(rubric, name, "invalid-notebook", str(exc))
        if rubric is None:
            try:
                rubric = notebook.detect_assignment(nb, path, self.course)
            except UnknownAssignment as exc:
                return not_graded(None, name, "unknown-assignment", str(exc))
        if exercise is not None:
            try:
                rubric = rubric.public_part(exercise)
            except LookupError as exc:
                return not_graded(rubric, name, "unknown-exercise", str(exc))
        salt = staging.notebook_sha256(path, own_files)
        the_plan = self.plan_for(rubric, salt)
        result = GradeResult(assignment=rubric.id, notebook=name, max_score=rubric.max_score, exercise=exercise)
        named = notebook.named_assignment(nb)
        if named is not None and named != rubric.id:
            result.errors.append(
                NotebookError(
                    "wrong-assignment",
                    f"this is the {named} notebook; this assignment is {rubric.id} (graded as {rubric.id} all the same)",
                )
            )
        result.manual = notebook.collect_manual(nb, rubric, notebook.edition_of(path, rubric))
        self._preload_for(nb, rubric)
        judge = self._remote_judge()
        # While the kernel runs, the judge starts and gets the rubric (or, without one, the
        # course's modules and torch load here): on a cold `grader check` that would otherwise
        # come after the notebook, not beside it.
        preload = asyncio.ensure_future(
            asyncio.to_thread(_preload, rubric) if judge is None else asyncio.to_thread(judge.prepare, rubric)
        )
        phases.mark("prepare")  # loading, the plan, free text, the judge's rubric on its way
        execution = await self._execute(nb, path, own_files, pool, the_plan)
        await asyncio.wait([preload])  # its failure, if any, is evaluate's to report
        phases.mark("waiting for the judge")
        result.errors.extend(execution.errors)
        result.sandbox = _public_sandbox(execution.sandbox)
        result.warnings = missing_protections(result.sandbox)
        result.checks = await self._judge_checks(judge, rubric, salt, the_plan, execution)
        phases.mark("judging")
        notebook.explain_missing_names(result.checks, result.errors, nb)
        return result

    def _remote_judge(self) -> RemoteJudge | None:
        """The warm parent's judge (`grader.judge_process`), where the backend has a warm parent."""
        if self._judge is None and type(self.backend).spawn_judge is not Backend.spawn_judge:
            from .judge_process import RemoteJudge

            self._judge = RemoteJudge(os.path.join(self._root, "judge"), self.backend.spawn_judge)
        return self._judge

    async def _judge_checks(
        self, judge: RemoteJudge | None, rubric: Rubric, salt: str, the_plan: Plan, execution: Execution
    ) -> list[CheckResult]:
        """The verdicts: from the judge, or computed here when there is none or it failed (a
        slower notebook, never a lost or different verdict: both run `judging.evaluate` on the
        same plan)."""
        if judge is not None:
            from .judge_process import JudgeUnavailable

            try:
                return await asyncio.to_thread(
                    judge.evaluate, rubric, salt, execution.fetched, execution.unavailable, self.limits.judge_timeout
                )
            except JudgeUnavailable:
                pass
        from .judging import evaluate

        return evaluate(the_plan, execution.fetched, execution.unavailable, self.limits.judge_timeout)

    async def _execute(
        self, nb: Any, path: str, own_files: str | None, pool: KernelPool | None, the_plan: Plan
    ) -> Execution:
        from . import phases, staging
        from .execute import Execution, execute_notebook

        request = the_plan.request(secrets.token_hex(16), self.limits.call_timeout)
        scratch = None
        slot: KernelPool | None = None
        try:
            if pool is not None:  # booted ahead, already confined
                kernel = await pool.acquire()
                slot = pool
                scratch = kernel.scratch
                try:
                    staging.stage(path, own_files, scratch)
                except BaseException:  # the kernel was booted for nothing: it dies before the slot frees
                    from .kernel_manager import discard

                    await discard(kernel)
                    raise
            else:
                scratch = self.new_scratch()
                staging.stage(path, own_files, scratch)
                self.start()
                self.backend.revive()  # a long-lived Grader outlives a warm parent that was killed
                kernel = await self.backend.start_kernel(scratch)
            phases.mark("kernel start")  # staging, and a confined kernel (booted ahead in a pool)
            phases.measure("kernel_cpu_at_start", kernel.cpu_seconds)
            return await execute_notebook(nb, kernel=kernel, limits=self.limits, harness_request=request)
        except staging.SubmissionRefused as exc:  # the submission's fault, not a retryable failure of ours
            execution = Execution(unavailable=str(exc))
            execution.errors.append(NotebookError("invalid-notebook", str(exc)))
            return execution
        except Exception as exc:  # the kernel could not be started: still a result
            execution = Execution(unavailable="the notebook could not be run")
            execution.errors.append(NotebookError("internal-error", f"could not start a kernel: {exc}"))
            return execution
        finally:
            if slot is not None:  # execute_notebook left the kernel dead
                slot.release()
            if scratch is not None:  # off the event loop: the other notebooks keep running meanwhile
                await asyncio.to_thread(shutil.rmtree, scratch, True)

    def _preload_for(self, nb: Any, rubric: Rubric) -> None:
        """The first notebook that imports the book's `d2l` (or plots, or trains, `book.wanted`)
        has the warm parent import that too (once), so later kernels start with it: 2 s each
        for d2l otherwise. Not done for every batch, because the import would take a core from
        the first notebooks of one that needs none. The rubric's probes run in the kernel too:
        their code counts as the notebook's."""
        from .book import PRELOADABLE, wanted
        from .planning import probes_source

        if self._preloaded.issuperset(PRELOADABLE):
            return
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        if rubric.id not in self._probes_read:  # the same for every notebook: read once
            self._probes_read.add(rubric.id)
            try:  # the rubric's probes, and the kernel-side code of its kinds (a network's description)
                sources.append(probes_source(rubric))
            except OSError:  # the rubric's own loading reports a missing module
                pass
        new = [m for m in wanted(sources) if m not in self._preloaded]
        if new:
            self._preloaded.update(new)
            self.start()
            self.backend.preload(new)

    def new_scratch(self) -> str:
        """A kernel's working folder; the first one also gets the stand-in data sets beside it
        (`grader.datasets`: the book's `../data`), written once per grader."""
        with self._datasets_lock:
            if not self._datasets_written:
                from .datasets import DATA_FOLDER, write_standins

                write_standins(os.path.join(self._root, DATA_FOLDER))
                self._datasets_written = True
        return tempfile.mkdtemp(dir=self._root)

    def _hidden_folders(self) -> list[str]:
        """Without an allowlisted view (no bubblewrap), the folders kernels must not see."""
        from .course import package_dir

        hide = {
            self.course.root,
            package_dir(),
            os.path.expanduser("~"),
            self._root,
            os.getcwd(),
            tempfile.gettempdir(),
            *self._extra_hide,
        }
        return sorted(h for h in (os.path.realpath(p) for p in hide) if h not in _SYSTEM_DIRS)


# A kernel's ZeroMQ sockets are Unix sockets in its scratch folder, and a Unix socket's path holds
# at most 107 bytes (103 on macOS). Under a deep TMPDIR (a test runner's, macOS's /var/folders/…)
# they would not fit, and no kernel could start; the scratch root then goes to /tmp.
SOCKET_PATH_ROOM = 100
SOCKET_PATH_BELOW_BASE = len("/d2l-grader-XXXXXXXX/tmpXXXXXXXX/.kernel/k-NNNNN")


def scratch_base(base: str | None = None) -> str:
    """Where a Grader makes its scratch root: the temp folder, unless socket paths in it would be
    too long."""
    base = base or tempfile.gettempdir()
    if len(os.fsencode(base)) + SOCKET_PATH_BELOW_BASE <= SOCKET_PATH_ROOM:
        return base
    if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    return base  # nothing shorter: starting a kernel will say why it failed


def _preload(rubric: Rubric) -> None:
    try:
        rubric.load_reference()
        rubric.load_checks()
    except Exception:
        pass  # evaluate() loads them again and turns the failure into each check's error


class KernelPool:
    """At most `size` notebooks running in kernels at once, and kernels booting ahead of
    demand, so a notebook never waits for one.

    A notebook holds one of the `size` slots from the moment it takes its kernel until that
    kernel is dead (`acquire` ... `release`): loading and planning the next notebooks,
    judging and writing the last ones run beside the kernels instead of inside a slot, so on
    a busy machine the cores are not left idle while a slot waits for its judge (the batch
    keeps more notebooks in flight than slots, `LocalGrading.in_flight`). Each kernel is
    still used for exactly one notebook. Bound to the event loop it is used in.
    """

    def __init__(self, grader: Grader, size: int) -> None:
        self.grader = grader
        self.size = max(1, size)
        self._booting: deque[asyncio.Task] = deque()
        self._slots = asyncio.Semaphore(self.size)

    def _boot(self) -> None:
        self.grader.start()
        scratch = self.grader.new_scratch()
        self._booting.append(asyncio.ensure_future(self.grader.backend.start_kernel(scratch)))

    async def acquire(self) -> WarmKernel:
        """A confined kernel, once a slot is free; the caller `release`s the slot when the
        kernel is dead (also when this raises: the slot is given back here)."""
        await self._slots.acquire()
        try:
            while len(self._booting) < self.size + 1:
                self._boot()
            task = self._booting.popleft()
            self._boot()
            return await task
        except BaseException:
            self._slots.release()
            raise

    def release(self) -> None:
        """The kernel taken with `acquire` is dead: its slot is free."""
        self._slots.release()

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
            from .kernel_manager import discard

            await discard(kernel)
            shutil.rmtree(kernel.scratch, ignore_errors=True)


def _public_sandbox(report: dict[str, Any]) -> dict[str, Any]:
    """The protections that were active, for the result's `sandbox` field."""
    keys = (
        "backend",
        *PROTECTIONS,
        "memory_limit_bytes",
        "file_size_limit_bytes",
        "process_limit",
        "tmpfs_limit_bytes",
        "notes",
    )
    return {k: report[k] for k in keys if k in report}
