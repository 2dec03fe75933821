"""Grading a whole class: discover submissions, grade them concurrently, write as we go.

Every finished submission is written at once, atomically (`results/<student>.json`, then
the gradebook), so an interrupted batch loses nothing and a re-run skips what is done.

A result is reused by a re-run only if it is *final* and its *resume key* still matches:

* final: the notebook really ran (or was refused for a reason of its own). A failure on the
  grader's side — a kernel that could not start, the kernel server dying under it, an
  exception of ours — is written (the gradebook shows it) but marked `final: false`, and the
  next run grades it again;
* the resume key: the notebook's bytes and the student's other files, the rubric (its
  checks, probes and reference: `rubric_fingerprint`), the engine (`engine_fingerprint`:
  the version and a hash of the grader's own source and lock) and the limits.

Each result also records the notebook's modification time (`submission.mtime`, from an
`lstat`), the last resort of the late policy (`grader.lateness`), so that a gradebook written
again later (`grader.manual`) has it too. It is not part of the resume key: a copy or a
download that only touches the file regrades nothing. A kept result keeps the earliest time
seen for its notebook (those bytes existed then), so re-downloading the submissions does not
make everyone late.

A batch that is stopped (Ctrl-C, SIGTERM: see `Stop`) starts nothing new and records
nothing that was in flight: those notebooks are graded by the next run, never saved as a
failure the stop itself caused. Submissions are read only through `grader.staging`, which
never follows a link.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from . import __version__, phases
from .files import write_atomic
from .limits import Limits
from .results import GradeResult, NotebookError
from .rubric import Rubric
from .staging import (
    StudentIdCollision,
    Submission,
    SubmissionRefused,
    discover,
    name_from_id,
    notebook_sha256,
    own_files_sha256,
    student_id,
)

if TYPE_CHECKING:
    from .reporters.plot_process import PlotProcess

__all__ = [
    "BatchOutcome",
    "BatchRecord",
    "BatchWriter",
    "LocalGrading",
    "ResumeKey",
    "Stop",
    "StudentIdCollision",
    "Submission",
    "dask_grader",
    "discover",
    "engine_fingerprint",
    "name_from_id",
    "rubric_fingerprint",
    "run_batch",
    "student_id",
]

# Errors that are the grader's, not the notebook's: such a result is not final.
GRADER_SIDE_KINDS = ("internal-error",)
REFUSED_FILE = "refused-file"  # a file of the student's folder that the kernel did not get
STOP_GRACE = 5.0  # seconds a stopped batch waits for work in flight to end before leaving it


def file_sha256(path: str | None) -> str:
    """SHA-256 of a course or engine file (the grader's own files, not submissions)."""
    if path is None:
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rubric_fingerprint(rubric: Rubric) -> str:
    """Changes when the rubric, its checks or probes module or its reference changes."""
    digest = hashlib.sha256()
    for path in rubric.module_paths():
        if os.path.exists(path):
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()


_ENGINE: list[str] = []


def engine_fingerprint() -> str:
    """`<version>+<hash>`: the grader's version and a hash of its own source files and lock,
    so that any change to the engine (even without a new version number) regrades."""
    if not _ENGINE:
        base = os.path.dirname(os.path.abspath(__file__))
        digest = hashlib.sha256()
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in sorted(names):
                if name.endswith((".py", ".txt")):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, base).replace(os.sep, "/")
                    digest.update(f"{rel}\0{file_sha256(path)}\0".encode())
        _ENGINE.append(f"{__version__}+{digest.hexdigest()[:16]}")
    return _ENGINE[0]


@dataclass(frozen=True)
class ResumeKey:
    """What a result depends on besides the submission itself."""

    engine: str
    limits: dict[str, Any]
    rubric: str

    @classmethod
    def of(cls, rubric: Rubric, limits: Limits) -> ResumeKey:
        return cls(engine_fingerprint(), asdict(limits), rubric_fingerprint(rubric))


@dataclass
class BatchRecord:
    """One student's result as the batch keeps it (results/<student>.json)."""

    student: str
    result: GradeResult
    sha256: str  # the notebook's bytes (or, with no notebook, the reason it was not graded)
    rubric_sha256: str
    name: str = ""  # the submission's file or folder name, as found
    files_sha256: str = ""  # the student's other files
    engine: str = ""
    limits: dict[str, Any] | None = None
    final: bool = True  # False: a failure of the grader's; the next run grades it again
    mtime: float | None = None  # the notebook's st_mtime when found (not part of the resume key)
    # A copy of this student's marks in manual.json ({item: {points, comment}}), for whoever reads
    # the results file; manual.json is the source (`grader.manual.sync_results` keeps this in step).
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        data = self.result.to_dict()
        if self.marks:  # only when there are any: unmarked, the file is `grader check`'s JSON plus `submission`
            data["marks"] = self.marks
        data["submission"] = {
            "student": self.student,
            "name": self.name,
            "sha256": self.sha256,
            "files_sha256": self.files_sha256,
            "rubric_sha256": self.rubric_sha256,
            "engine": self.engine,
            "limits": self.limits,
            "final": self.final,
            "mtime": self.mtime,
        }
        return json.dumps(data, indent=2)

    def current(self, sha256: str, files_sha256: str, key: ResumeKey) -> bool:
        """True when a re-run may keep this result instead of grading again."""
        return (
            self.final
            and self.sha256 == sha256
            and self.files_sha256 == files_sha256
            and self.rubric_sha256 == key.rubric
            and self.engine == key.engine
            and self.limits == key.limits
        )


def record_from_json(student: str, data: dict[str, Any]) -> BatchRecord:
    meta = data.get("submission") or {}
    return BatchRecord(
        student,
        GradeResult.from_dict(data),
        str(meta.get("sha256", "")),
        str(meta.get("rubric_sha256", "")),
        name=str(meta.get("name", "")),
        files_sha256=str(meta.get("files_sha256", "")),
        engine=str(meta.get("engine", "")),
        limits=meta.get("limits") if isinstance(meta.get("limits"), dict) else None,
        final=meta.get("final") is True,  # a result from before `final` existed is graded again
        mtime=_seconds(meta.get("mtime")),
        marks=_marks(data.get("marks")),
    )


def _marks(value: Any) -> dict[str, dict[str, Any]]:
    """The copy of the marks in a results file; anything not of its shape reads as none (it is
    only a copy: the next gradebook rewrite writes it again from manual.json)."""
    if not isinstance(value, dict):
        return {}
    return {str(item): dict(mark) for item, mark in value.items() if isinstance(mark, dict)}


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def notebook_mtime(sub: Submission) -> float | None:
    """The modification time of the submission's notebook itself (`lstat`: a link is never
    followed), or None when there is no notebook or it is no longer a regular file."""
    if sub.notebook is None:
        return None
    try:
        st = os.lstat(sub.notebook)
    except OSError:
        return None
    return st.st_mtime if stat.S_ISREG(st.st_mode) else None


def is_final(result: GradeResult) -> bool:
    """False when the grader, not the notebook, is why the result is what it is."""
    return not any(e.kind in GRADER_SIDE_KINDS for e in result.errors)


@dataclass
class BatchOutcome:
    records: dict[str, BatchRecord] = field(default_factory=dict)
    graded: int = 0
    skipped: int = 0
    retry: int = 0  # results written as not final (graded again by the next run)
    interrupted: int | None = None  # the signal that stopped the batch, if one did
    in_flight: int = 0  # notebooks that were being graded when it stopped (not recorded)


class Stop:
    """A request to stop a batch (Ctrl-C, SIGTERM), shared by whoever must react to it.

    Once requested, no new notebook starts and nothing in flight is recorded. `request` is
    called on the batch's event loop (from a signal handler the loop installed); callbacks
    run there, in the order they subscribed.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._callbacks: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when a stop is requested; returns the unsubscribe function."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def request(self, signum: int) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                pass  # stopping must not fail half-way


class BatchWriter:
    """Owns the output folder: per-student JSON, gradebook, summary."""

    def __init__(self, out_dir: str, rubric: Rubric, plots: PlotProcess | None = None) -> None:
        """`plots`: the process that draws the summary's plots (`grader grade` starts one with
        the command); without one, matplotlib is imported here, in a thread, meanwhile."""
        self.out_dir = out_dir
        self.rubric = rubric
        self.plots = plots
        self.results_dir = os.path.join(out_dir, "results")
        os.makedirs(self.results_dir, exist_ok=True)
        for name in os.listdir(self.results_dir):  # a killed run's half-written files
            if name.startswith(".grader-"):
                try:
                    os.unlink(os.path.join(self.results_dir, name))
                except OSError:
                    pass
        # Without a plot process the summary's plots need matplotlib here (~0.6 s to import):
        # load it while grading runs.
        self._pyplot: threading.Thread | None = None
        if plots is None:
            from .reporters import summary

            self._pyplot = threading.Thread(target=summary.warm_up, daemon=True)
            self._pyplot.start()

    def load_existing(self) -> dict[str, dict[str, Any]]:
        done = {}
        for name in os.listdir(self.results_dir):
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                with open(os.path.join(self.results_dir, name), encoding="utf-8") as f:
                    data = json.load(f)
                if isinstance(data, dict):
                    done[name[: -len(".json")]] = data
            except (OSError, ValueError):
                continue  # a damaged file is simply graded again
        return done

    def write_result(self, record: BatchRecord) -> None:
        write_atomic(os.path.join(self.results_dir, record.student + ".json"), record.to_json())

    def keep(self, record: BatchRecord, data: dict[str, Any], mtime: float | None) -> BatchRecord:
        """A result kept from an earlier run, with the earliest notebook time seen. Only its
        `submission.mtime` is rewritten (in the JSON as it was read), and only if it changed."""
        if mtime is None or (record.mtime is not None and record.mtime <= mtime):
            return record
        meta = data.get("submission")
        if isinstance(meta, dict):
            write_atomic(
                os.path.join(self.results_dir, record.student + ".json"),
                json.dumps({**data, "submission": {**meta, "mtime": mtime}}, indent=2),
            )
        return replace(record, mtime=mtime)

    def write_gradebook(self, records: Iterable[BatchRecord]) -> None:
        """`grades.csv`, and each result's copy of its marks where it is out of step (a student
        graded again gets theirs back here)."""
        from .manual import marks_for, sync_results
        from .reporters import gradebook

        records = list(records)
        marks = marks_for(self.out_dir, self.rubric.id)  # a person's marks (manual.json), never rewritten here
        late = gradebook.read_late_rules(self.out_dir)  # late-policy.json, as `grader grade` left it
        text = gradebook.render_csv(self.rubric, records, marks, late)
        write_atomic(os.path.join(self.out_dir, "grades.csv"), text)
        sync_results(self.out_dir, records, marks)

    def write_summary(self, records: Iterable[BatchRecord]) -> None:
        from .reporters import summary

        if self._pyplot is not None:
            # Not while that import runs: matplotlib imported from two threads at once can fail
            # half-way (a batch whose results are all kept gets here at once).
            self._pyplot.join()
        summary.write(self.out_dir, self.rubric, list(records), render=self.plots.render if self.plots else None)


GRADEBOOK_INTERVAL = 2.0  # seconds between gradebook rewrites during a batch


def _digests(sub: Submission) -> tuple[Submission, str, str]:
    """The submission (refused now if its notebook can no longer be read safely) and the
    hashes of its notebook and of its other files."""
    if sub.notebook is not None:
        try:
            sha = notebook_sha256(sub.notebook, sub.own_files)
        except SubmissionRefused as exc:
            sub = replace(sub, notebook=None, problem=str(exc))
        else:
            return sub, sha, own_files_sha256(sub.own_files)
    reason = hashlib.sha256(f"not graded: {sub.problem}".encode(errors="surrogateescape")).hexdigest()
    return sub, reason, own_files_sha256(sub.own_files)


def not_graded(rubric: Rubric, notebook_name: str, kind: str, message: str) -> GradeResult:
    """A submission that could not be run at all: no checks, one error saying why, and the
    assignment's total (as `grader.grading.not_graded`, without importing the engine)."""
    return GradeResult(
        assignment=rubric.id,
        notebook=notebook_name,
        max_score=rubric.max_score,
        errors=[NotebookError(kind, message)],
    )


def _with_notes(result: GradeResult, sub: Submission) -> GradeResult:
    """The result, plus a `refused-file` error for each file of the folder the kernel did not get."""
    known = {e.message for e in result.errors}
    result.errors.extend(NotebookError(REFUSED_FILE, note) for note in sub.notes if note not in known)
    return result


async def run_batch(
    submissions: list[Submission],
    rubric: Rubric,
    writer: BatchWriter,
    grade: Callable[[Submission], Any],
    *,
    jobs: int,
    resume: bool,
    limits: Limits | None = None,
    only: set[str] | None = None,
    stop: Stop | None = None,
    on_start: Callable[[int, int], None] = lambda total, skipped: None,
    on_done: Callable[[BatchRecord], None] = lambda record: None,
) -> BatchOutcome:
    """Grade what is not done yet with `jobs` submissions in flight; write each at once.

    `grade` is an async callable returning a GradeResult for one submission (local
    Grader or a Dask cluster); nothing here depends on which. `only`: grade just these
    student ids (whatever `resume` says) and keep everyone else's results as they are.
    `stop`: see `Stop`; when it is requested the outcome's `interrupted` says so.
    """
    stop = stop or Stop()
    outcome = BatchOutcome()
    key = ResumeKey.of(rubric, limits or Limits())
    existing = writer.load_existing() if resume or only is not None else {}
    todo = []
    for sub in submissions:
        mtime = notebook_mtime(sub)
        data = existing.get(sub.student)
        previous = _record(sub.student, data)
        if only is not None and sub.student not in only:
            if previous is not None and data is not None:
                outcome.records[sub.student] = writer.keep(previous, data, mtime)
                outcome.skipped += 1
            continue
        sub, sha, files_sha = _digests(sub)
        if only is None and previous is not None and data is not None and previous.current(sha, files_sha, key):
            outcome.records[sub.student] = writer.keep(previous, data, mtime)
            outcome.skipped += 1
        else:
            todo.append((sub, sha, files_sha, mtime))
    on_start(len(todo) + outcome.skipped, outcome.skipped)
    semaphore = asyncio.Semaphore(max(1, jobs))
    last_gradebook = [0.0]
    running = [0]

    async def one(sub: Submission, sha: str, files_sha: str, mtime: float | None) -> None:
        async with semaphore:
            if stop.requested:
                return
            running[0] += 1
            try:
                final = True
                if sub.notebook is None:
                    result = not_graded(rubric, sub.name, "invalid-notebook", sub.problem)
                else:
                    try:
                        result = await grade(sub)
                    except Exception as exc:  # a failure of ours must not cost the batch
                        message = f"grading failed: {type(exc).__name__}: {exc}"
                        result = not_graded(rubric, os.path.basename(sub.notebook), "internal-error", message)
                    final = is_final(result)
            finally:
                running[0] -= 1
            if stop.requested:  # in flight when the batch was stopped: graded again next time
                return
            record = BatchRecord(
                sub.student,
                _with_notes(result, sub),
                sha,
                key.rubric,
                name=sub.name,
                files_sha256=files_sha,
                engine=key.engine,
                limits=key.limits,
                final=final,
                mtime=mtime,
            )
            writing = time.monotonic()
            writer.write_result(record)
            phases.write({"notebook": os.path.basename(sub.notebook or ""), "write": time.monotonic() - writing})
            outcome.records[sub.student] = record
            outcome.graded += 1
            outcome.retry += not final
            if time.monotonic() - last_gradebook[0] > GRADEBOOK_INTERVAL:  # O(n) each: not per result
                writer.write_gradebook(_ordered(outcome.records))
                last_gradebook[0] = time.monotonic()
            on_done(record)

    tasks = [asyncio.ensure_future(one(*item)) for item in todo]
    stopped = asyncio.Event()
    unsubscribe = stop.subscribe(stopped.set)
    if stop.requested:
        stopped.set()
    waiter = asyncio.ensure_future(stopped.wait())
    try:
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending and not stopped.is_set():
            done, pending = await asyncio.wait(pending | {waiter}, return_when=asyncio.FIRST_COMPLETED)
            done.discard(waiter)
            pending.discard(waiter)
        if stopped.is_set():
            outcome.in_flight += running[0]
            for task in pending:
                task.cancel()
            if pending:  # whatever ignores its cancellation is left behind, not waited for
                await asyncio.wait(pending, timeout=STOP_GRACE)
    finally:
        unsubscribe()
        waiter.cancel()
        if hasattr(grade, "aclose"):
            closing = asyncio.ensure_future(grade.aclose())
            await asyncio.wait({closing}, timeout=STOP_GRACE if stop.requested else None)
    if stop.requested:
        outcome.interrupted = stop.signum
        writer.write_gradebook(_ordered(outcome.records))
        return outcome
    for task in tasks:
        error = task.exception() if task.done() and not task.cancelled() else None
        if error is not None:
            raise error  # a bug of ours (say, the disk is full)
    writer.write_gradebook(_ordered(outcome.records))
    writer.write_summary(_ordered(outcome.records))
    return outcome


def _record(student: str, data: dict[str, Any] | None) -> BatchRecord | None:
    if data is None:
        return None
    try:
        return record_from_json(student, data)
    except (TypeError, ValueError, KeyError):
        return None  # unreadable or from another schema version: graded again


def _ordered(records: dict[str, BatchRecord]) -> list[BatchRecord]:
    return [records[k] for k in sorted(records)]


class LocalGrading:
    """Grade on this machine with a warm Grader, kernels booted ahead by a KernelPool."""

    def __init__(self, grader: Any, rubric: Rubric, jobs: int) -> None:
        self.grader = grader
        self.rubric = rubric
        self.jobs = jobs
        self._pool: Any = None

    @property
    def in_flight(self) -> int:
        """How many submissions the batch keeps in flight: twice the kernels (`jobs`), so that
        while `jobs` notebooks run in kernels as many others are loaded and planned, or judged
        and written, beside them; the kernel pool's slots keep the kernels at `jobs`."""
        return 2 * self.jobs

    async def __call__(self, sub: Submission) -> GradeResult:
        from .grading import KernelPool

        if self._pool is None:
            self._pool = KernelPool(self.grader, self.jobs)
        result: GradeResult = await self.grader.grade_async(sub.notebook, self.rubric, sub.own_files, pool=self._pool)
        if not backend_alive(self.grader):
            # Its kernels died with it: whatever this notebook's result says, it is ours.
            return not_graded(
                self.rubric,
                result.notebook,
                "internal-error",
                "the grader's kernel server stopped while this notebook ran; it will be graded again",
            )
        return result

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


def backend_alive(grader: Any) -> bool:
    """Whether a grader can still start kernels (its warm kernel server runs)."""
    return bool(grader.alive())


# ----------------------------------------------------------------------------- Dask
_WORKER_GRADER: Any = None


def _grade_on_worker(
    path: str, rubric_id: str, own_files: str | None, limits: Limits, policy: Any, course: str
) -> dict[str, Any]:
    """Runs on a Dask worker: one warm Grader per worker process, reused across tasks. Its
    kernels are confined by the driver's own SandboxPolicy, as on every other path."""
    global _WORKER_GRADER
    from .course import load_course
    from .grading import Grader

    worker = _WORKER_GRADER
    if worker is None or (worker.limits, worker.policy, worker.course.root) != (limits, policy, course):
        if worker is not None:
            worker.close()
        _WORKER_GRADER = Grader(limits, course=load_course(course), policy=policy)
    return _WORKER_GRADER.grade(path, rubric_id, own_files).to_dict()


def dask_grader(address: Any, rubric: Rubric, limits: Limits, policy: Any) -> tuple[Callable[[Submission], Any], Any]:
    """Grade on a Dask distributed cluster; `address` is a scheduler address or a cluster."""
    from distributed import Client

    client = Client(address, asynchronous=False)

    async def grade(sub: Submission) -> GradeResult:
        future = client.submit(
            _grade_on_worker, sub.notebook, rubric.id, sub.own_files, limits, policy, rubric.course_root, pure=False
        )
        try:
            return GradeResult.from_dict(await asyncio.wrap_future(_as_concurrent(future)))
        except asyncio.CancelledError:  # the batch was stopped: so is this task on its worker
            future.cancel()
            raise

    return grade, client


def _as_concurrent(future: Any) -> Any:
    """A concurrent.futures view of a Dask future, so asyncio can await it from any loop."""
    import concurrent.futures

    out: concurrent.futures.Future = concurrent.futures.Future()

    def done(f: Any) -> None:
        try:
            out.set_result(f.result())
        except BaseException as exc:
            out.set_exception(exc)

    future.add_done_callback(done)
    return out
