"""Plain result objects: what grading produced, independent of how it is shown.

Reporters (text, JSON, JUnit, Gradescope, GitHub, CSV) read these and nothing else,
so adding an output format never touches execution or scoring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the check could not be evaluated (name missing, kernel died, ...)
STATUSES = (PASSED, FAILED, ERROR)


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
    """Everything known about grading one notebook against one assignment."""

    assignment: str | None
    notebook: str
    checks: list[CheckResult] = field(default_factory=list)
    manual: list[ManualItem] = field(default_factory=list)
    errors: list[NotebookError] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    execution_time: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

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
        if not self.usable or any(e.kind in ("kernel-died", "internal-error") for e in self.errors):
            return "error"
        if any(e.kind in ("cell-timeout", "notebook-timeout") for e in self.errors):
            return "timeout"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "manual": [m.to_dict() for m in self.manual],
            "errors": [e.to_dict() for e in self.errors],
            "sandbox": self.sandbox,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """Rebuild a result from its JSON form (batch resume, gradebook export)."""
        return cls(
            assignment=data.get("assignment"),
            notebook=data.get("notebook", ""),
            checks=[CheckResult(**c) for c in data.get("checks", [])],
            manual=[ManualItem(**m) for m in data.get("manual", [])],
            errors=[NotebookError(**e) for e in data.get("errors", [])],
            sandbox=dict(data.get("sandbox", {})),
        )


# Errors that mean "this file could not be graded at all".
UNUSABLE_KINDS = ("invalid-notebook", "unknown-assignment", "internal-error")
