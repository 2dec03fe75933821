"""Grading a whole class: discover submissions, grade them concurrently, write as we go.

Every finished submission is written at once, atomically (`results/<student>.json`, then
the gradebook), so an interrupted batch loses nothing and a re-run skips what is done —
unless the notebook (content hash) or the rubric changed. One broken submission never
stops the batch: whatever happens becomes that student's result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .limits import Limits
from .results import GradeResult, NotebookError
from .rubric import Rubric


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: str | None  # None: the student's folder has no notebook
    own_files: str | None  # the student's folder, whose files the kernel may read
    problem: str = ""


def discover(folder: str, rubric: Rubric) -> list[Submission]:
    """`*.ipynb` files (student = file name) or one folder per student (student = folder)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    found = []
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if entry.startswith("."):
            continue
        if os.path.isfile(path) and entry.endswith(".ipynb"):
            found.append(Submission(_student_id(entry[: -len(".ipynb")]), path, None))
        elif os.path.isdir(path):
            notebook, problem = _pick_notebook(path, rubric)
            found.append(Submission(_student_id(entry), notebook, path, problem))
    return found


def _student_id(text: str) -> str:
    """A file-system-safe id, stable for the same name."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text).strip("._") or "student"


def _pick_notebook(folder: str, rubric: Rubric) -> tuple[str | None, str]:
    notebooks = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # skip .ipynb_checkpoints
        notebooks += [os.path.join(root, f) for f in files if f.endswith(".ipynb")]
    if not notebooks:
        return None, "no .ipynb notebook in the submission folder"
    if len(notebooks) == 1:
        return notebooks[0], ""
    named = [n for n in notebooks if os.path.basename(n) == rubric.notebook]
    if len(named) == 1:
        return named[0], ""
    return None, f"several notebooks in the submission folder and none is named {rubric.notebook}: " + ", ".join(
        sorted(os.path.relpath(n, folder) for n in notebooks)
    )


def file_sha256(path: str | None) -> str:
    if path is None:
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rubric_fingerprint(rubric: Rubric) -> str:
    """Changes when the rubric, its checks module or its reference changes."""
    digest = hashlib.sha256()
    from .course import course_root

    paths = [rubric.path, os.path.join(course_root(), "reference", rubric.reference_module + ".py")]
    for module in (rubric.checks_module, rubric.probes_module):
        if module:
            paths.append(os.path.join(os.path.dirname(rubric.path), module + ".py"))
    for path in paths:
        if os.path.exists(path):
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def write_atomic(path: str, text: str) -> None:
    """Write via a temporary file and rename: readers never see half a file."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class BatchRecord:
    student: str
    result: GradeResult
    sha256: str
    rubric_sha256: str

    def to_json(self) -> str:
        data = self.result.to_dict()
        data["submission"] = {"student": self.student, "sha256": self.sha256, "rubric_sha256": self.rubric_sha256}
        return json.dumps(data, indent=2)


@dataclass
class BatchOutcome:
    records: dict[str, BatchRecord] = field(default_factory=dict)
    graded: int = 0
    skipped: int = 0


class BatchWriter:
    """Owns the output folder: per-student JSON, gradebook, summary."""

    def __init__(self, out_dir: str, rubric: Rubric) -> None:
        self.out_dir = out_dir
        self.rubric = rubric
        self.results_dir = os.path.join(out_dir, "results")
        os.makedirs(self.results_dir, exist_ok=True)
        # The summary's plots need matplotlib (~0.5 s to import): load it while grading runs.
        threading.Thread(target=_import_pyplot, daemon=True).start()

    def load_existing(self) -> dict[str, dict[str, Any]]:
        done = {}
        for name in os.listdir(self.results_dir):
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                with open(os.path.join(self.results_dir, name), encoding="utf-8") as f:
                    data = json.load(f)
                done[name[: -len(".json")]] = data
            except (OSError, ValueError):
                continue  # a damaged file is simply graded again
        return done

    def write_result(self, record: BatchRecord) -> None:
        write_atomic(os.path.join(self.results_dir, record.student + ".json"), record.to_json())

    def write_gradebook(self, records: Iterable[BatchRecord]) -> None:
        from .reporters import gradebook

        write_atomic(os.path.join(self.out_dir, "grades.csv"), gradebook.render_csv(self.rubric, records))

    def write_summary(self, records: Iterable[BatchRecord]) -> None:
        from .reporters import summary

        summary.write(self.out_dir, self.rubric, list(records))


def _import_pyplot() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot


def record_from_json(student: str, data: dict[str, Any]) -> BatchRecord:
    meta = data.get("submission", {})
    return BatchRecord(student, GradeResult.from_dict(data), meta.get("sha256", ""), meta.get("rubric_sha256", ""))


def error_result(rubric: Rubric, submission: Submission, message: str) -> GradeResult:
    """A result for a submission that could not even be attempted."""
    result = GradeResult(assignment=rubric.id, notebook=os.path.basename(submission.notebook or submission.student))
    result.errors.append(NotebookError("invalid-notebook", message))
    return result


def with_zero_checks(rubric: Rubric, result: GradeResult) -> GradeResult:
    """Unusable notebooks still get one line per check in the gradebook (all zero)."""
    from .results import ERROR, CheckResult

    if not result.checks:
        reason = result.errors[0].message if result.errors else "not graded"
        result.checks = [
            CheckResult(c.id, c.exercise, 0.0, c.points, ERROR, c.hidden, reason, c.description) for c in rubric.checks
        ]
    return result


GRADEBOOK_INTERVAL = 2.0  # seconds between gradebook rewrites during a batch


async def run_batch(
    submissions: list[Submission],
    rubric: Rubric,
    writer: BatchWriter,
    grade: Callable[[Submission], Any],
    *,
    jobs: int,
    resume: bool,
    on_start: Callable[[int, int], None] = lambda total, skipped: None,
    on_done: Callable[[BatchRecord], None] = lambda record: None,
) -> BatchOutcome:
    """Grade what is not done yet with `jobs` submissions in flight; write each at once.

    `grade` is an async callable returning a GradeResult for one submission (local
    Grader or a Dask cluster); nothing here depends on which.
    """
    outcome = BatchOutcome()
    fingerprint = rubric_fingerprint(rubric)
    existing = writer.load_existing() if resume else {}
    todo = []
    for sub in submissions:
        sha = file_sha256(sub.notebook)
        previous = existing.get(sub.student)
        meta = (previous or {}).get("submission", {})
        if previous and meta.get("sha256") == sha and meta.get("rubric_sha256") == fingerprint:
            outcome.records[sub.student] = record_from_json(sub.student, previous)
            outcome.skipped += 1
        else:
            todo.append((sub, sha))
    on_start(len(submissions), outcome.skipped)
    semaphore = asyncio.Semaphore(max(1, jobs))
    last_gradebook = [0.0]

    async def one(sub: Submission, sha: str) -> None:
        async with semaphore:
            if sub.notebook is None:
                result = error_result(rubric, sub, sub.problem)
            else:
                try:
                    result = await grade(sub)
                except Exception as exc:  # a failure of ours must not cost the batch
                    result = GradeResult(assignment=rubric.id, notebook=os.path.basename(sub.notebook))
                    result.errors.append(
                        NotebookError("internal-error", f"grading failed: {type(exc).__name__}: {exc}")
                    )
            result = with_zero_checks(rubric, result)
            record = BatchRecord(sub.student, result, sha, fingerprint)
            writer.write_result(record)
            outcome.records[sub.student] = record
            outcome.graded += 1
            if time.monotonic() - last_gradebook[0] > GRADEBOOK_INTERVAL:  # O(n) each: not per result
                writer.write_gradebook(_ordered(outcome.records))
                last_gradebook[0] = time.monotonic()
            on_done(record)

    try:
        await asyncio.gather(*(one(sub, sha) for sub, sha in todo))
    finally:
        if hasattr(grade, "aclose"):
            await grade.aclose()
    writer.write_gradebook(_ordered(outcome.records))
    writer.write_summary(_ordered(outcome.records))
    return outcome


def _ordered(records: dict[str, BatchRecord]) -> list[BatchRecord]:
    return [records[k] for k in sorted(records)]


class LocalGrading:
    """Grade on this machine with a warm Grader, kernels booted ahead by a KernelPool."""

    def __init__(self, grader: Any, rubric: Rubric, jobs: int) -> None:
        self.grader = grader
        self.rubric = rubric
        self.jobs = jobs
        self._pool: Any = None

    async def __call__(self, sub: Submission) -> GradeResult:
        from .grading import KernelPool

        if self._pool is None:
            self._pool = KernelPool(self.grader, self.jobs)
        return await self.grader.grade_async(sub.notebook, self.rubric, sub.own_files, pool=self._pool)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


# ----------------------------------------------------------------------------- Dask
_WORKER_GRADER: Any = None


def _grade_on_worker(path: str, rubric_id: str, own_files: str | None, limits: Limits, course: str) -> dict[str, Any]:
    """Runs on a Dask worker: one warm Grader per worker process, reused across tasks."""
    global _WORKER_GRADER
    os.environ["D2L_GRADER_COURSE"] = course
    from .grading import Grader

    if _WORKER_GRADER is None or _WORKER_GRADER.limits != limits:
        if _WORKER_GRADER is not None:
            _WORKER_GRADER.close()
        _WORKER_GRADER = Grader(limits)
    rubric = _WORKER_GRADER.rubrics[rubric_id]
    result = _WORKER_GRADER.grade(path, rubric, own_files)
    data = result.to_dict()
    data["execution_time"] = result.execution_time
    return data


def dask_grader(address: Any, rubric: Rubric, limits: Limits) -> tuple[Callable[[Submission], Any], Any]:
    """Grade on a Dask distributed cluster; `address` is a scheduler address or a cluster."""
    from distributed import Client

    from .course import course_root

    client = Client(address, asynchronous=False)

    async def grade(sub: Submission) -> GradeResult:
        future = client.submit(
            _grade_on_worker, sub.notebook, rubric.id, sub.own_files, limits, course_root(), pure=False
        )
        data = await asyncio.wrap_future(_as_concurrent(future))
        result = GradeResult.from_dict(data)
        result.execution_time = float(data.get("execution_time", 0.0))
        return result

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
