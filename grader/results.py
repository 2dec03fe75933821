"""Plain result objects: what grading produced, independent of how it is shown.

Reporters (text, JSON, JUnit, Gradescope, GitHub, CSV) read these and nothing else, so
adding an output format never touches execution or scoring. A `GradeResult` carries
everything about one notebook — its assignment's total, the time it took, the warnings
of the run — and round-trips through `to_dict()` / `from_dict()` unchanged, which is what
lets batch resume, Dask workers and reporters use it without patching anything up
(pytest's serialisable reports are the model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1  # of the JSON form; bump when a field changes meaning

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the check could not be evaluated (name missing, kernel died, ...)
STATUSES = (PASSED, FAILED, ERROR)

# Errors that mean "this file could not be graded at all" (exit code 2 in `check`).
UNUSABLE_KINDS = ("invalid-notebook", "unknown-assignment", "unknown-exercise", "internal-error")


@dataclass
class CheckResult:
    """The verdict on one rubric check."""

    id: str
    exercise: str
    score: float
    max_score: float
    status: str
    hidden: bool
    message: str = ""
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ManualItem:
    """A free-text answer collected for a human grader; never scored automatically."""

    id: str
    exercise: str
    prompt: str
    answer: str
    max_score: float = 0.0
    found: str = ""  # which cells the answer came from, or where it was looked for

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NotebookError:
    """A notebook-level problem (unusable file, timeout, dead kernel, limit hit)."""

    kind: str  # e.g. "invalid-notebook", "cell-timeout", "kernel-died", "memory-limit"
    message: str
    cell: int | None = None  # 1-based position in the notebook (all cells counted), when one is to blame

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeResult:
    """Everything known about grading one notebook against one assignment.

    `max_score` is the assignment's total, set by whoever knows the assignment, so a
    notebook that could not even be read still counts 0 out of the real total in every
    format; it is 0 only when the assignment itself is unknown.
    """

    assignment: str | None
    notebook: str
    max_score: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    manual: list[ManualItem] = field(default_factory=list)
    errors: list[NotebookError] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about the run, not the notebook (missing protections)
    execution_time: float = 0.0
    exercise: str | None = None  # set when only this exercise's public checks ran (a student's quick check)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def usable(self) -> bool:
        """False when the file could not be graded at all (exit code 2 in `check`)."""
        return not any(e.kind in UNUSABLE_KINDS for e in self.errors)

    @property
    def all_passed(self) -> bool:
        return self.usable and all(c.status == PASSED for c in self.checks)

    @property
    def status(self) -> str:
        """Gradebook status: ok | timeout | error."""
        if not self.usable or any(e.kind in ("kernel-died", "internal-error", "wrong-assignment") for e in self.errors):
            return "error"
        if any(e.kind in ("cell-timeout", "notebook-timeout") for e in self.errors):
            return "timeout"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "assignment": self.assignment,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "manual": [m.to_dict() for m in self.manual],
            "errors": [e.to_dict() for e in self.errors],
            "sandbox": self.sandbox,
            "warnings": list(self.warnings),
            "execution_time": self.execution_time,
            "exercise": self.exercise,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """Rebuild a result from its JSON form (batch resume, Dask, gradebook export).

        `score` and `status` are derived, so they are not read back: a file whose stored
        score disagrees with its checks cannot smuggle the disagreement in.
        """
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"result schema version {version!r}, this grader reads {SCHEMA_VERSION}")
        return cls(
            assignment=data.get("assignment"),
            notebook=data.get("notebook", ""),
            max_score=float(data.get("max_score", 0.0)),
            checks=[CheckResult(**c) for c in data.get("checks", [])],
            manual=[ManualItem(**m) for m in data.get("manual", [])],
            errors=[NotebookError(**e) for e in data.get("errors", [])],
            sandbox=dict(data.get("sandbox", {})),
            warnings=[str(w) for w in data.get("warnings", [])],
            execution_time=float(data.get("execution_time", 0.0)),
            exercise=data.get("exercise"),
        )
