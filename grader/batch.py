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
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .files import write_atomic
from .grading import not_graded
from .limits import Limits
from .results import GradeResult
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
    """Changes when the rubric, its checks or probes module or its reference changes."""
    digest = hashlib.sha256()
    for path in rubric.module_paths():
        if os.path.exists(path):
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()


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
                result = not_graded(rubric, sub.student, "invalid-notebook", sub.problem)
            else:
                try:
                    result = await grade(sub)
                except Exception as exc:  # a failure of ours must not cost the batch
                    message = f"grading failed: {type(exc).__name__}: {exc}"
                    result = not_graded(rubric, os.path.basename(sub.notebook), "internal-error", message)
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
    from .course import load_course
    from .grading import Grader

    if _WORKER_GRADER is None or _WORKER_GRADER.limits != limits or _WORKER_GRADER.course.root != course:
        if _WORKER_GRADER is not None:
            _WORKER_GRADER.close()
        _WORKER_GRADER = Grader(limits, course=load_course(course))
    return _WORKER_GRADER.grade(path, rubric_id, own_files).to_dict()


def dask_grader(address: Any, rubric: Rubric, limits: Limits) -> tuple[Callable[[Submission], Any], Any]:
    """Grade on a Dask distributed cluster; `address` is a scheduler address or a cluster."""
    from distributed import Client

    client = Client(address, asynchronous=False)

    async def grade(sub: Submission) -> GradeResult:
        future = client.submit(
            _grade_on_worker, sub.notebook, rubric.id, sub.own_files, limits, rubric.course_root, pure=False
        )
        return GradeResult.from_dict(await asyncio.wrap_future(_as_concurrent(future)))

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
