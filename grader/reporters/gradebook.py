"""`grades.csv`: one row per student, one column per check and per free-text item, then totals.

Columns: `student`, the checks' points, `manual:<item id>` for each of the rubric's
`[[manual]]` items (the points a person gave, empty until then) each followed by
`manual:<item id>:comment` (the comment given with them, for the LMS exports that have a place
for feedback, and for anyone reading the sheet), then `total`, `max`,
`percent` and `status`. `total` and `max` include the free-text items (`max` counts them
whether or not they are marked yet), so an LMS export, which reads only `student`, `total`,
`max` and `status`, carries the manual points without knowing about them.

With a late policy (`grader grade --deadline … --late-penalty …`, kept in the batch folder as
`late-policy.json`), four columns come before `total`: `raw` (the checks plus the marks),
`days_late`, `late_penalty` (the share of `raw` taken off, `20%`) and `late_source` (where the
submission time came from: `csv`, `gradescope`, `canvas`, `mtime` or `unknown`); `total` is
then the score after the penalty and `percent` is computed from it. The penalty is computed
here, each time the gradebook is written, and never stored in a result: changing the policy
rewrites the gradebook without grading anything again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..files import read_json_file, write_atomic
from ..lateness import (
    Lateness,
    LatenessError,
    LatePolicy,
    SubmissionTime,
    assess,
    parse_duration,
    parse_penalty,
    parse_percent,
    parse_time,
    read_submission_times,
    submission_time,
)
from ..manual import Marks, totals
from ..roster import GRADESCOPE, Identity, identify
from ..rubric import Rubric

MANUAL_PREFIX = "manual:"
COMMENT_SUFFIX = ":comment"
LATE_COLUMNS = ("raw", "days_late", "late_penalty", "late_source")
FIXED_TAIL = ("total", "max", "percent", "status")
LATE_POLICY_JSON = "late-policy.json"
LATE_SCHEMA_VERSION = 1
UNRELIABLE_SOURCES = ("mtime", "unknown")  # times worth a warning: give the instructor's CSV instead


def header(rubric: Rubric, late: bool = False) -> list[str]:
    return [
        "student",
        *(c.id for c in rubric.checks),
        *(column for m in rubric.manual for column in (MANUAL_PREFIX + m.id, MANUAL_PREFIX + m.id + COMMENT_SUFFIX)),
        *(LATE_COLUMNS if late else ()),
        *FIXED_TAIL,
    ]


def render_csv(
    rubric: Rubric, records: Iterable[Any], marks: Marks | None = None, late: LateRules | None = None
) -> str:
    """The gradebook of `records` (anything with `.student` and `.result`), with `marks` and
    the `late` policy if given.

    The late penalty is taken from the whole score, the checks *and* the free-text marks
    (`total = raw × (1 − penalty)`, `raw` = automatic + manual): the free-text answers were
    handed in late with the rest, and one share of one sum is what a student or a colleague
    can check from the row itself.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header(rubric, late is not None))
    for record in records:
        result = record.result
        by_id = {c.id: c.score for c in result.checks}
        score = totals(rubric, record.student, result, marks)
        given = [marks.get(record.student, m.id) if marks else None for m in rubric.manual]
        manual = [
            cell
            for mark in given
            for cell in (
                ("", "") if mark is None else ("" if mark.points is None else f"{mark.points:g}", mark.comment)
            )
        ]
        total, columns = score.total, []
        if late is not None:
            lateness = late.assess(record, score.total)
            total = round(lateness.final, 6)
            columns = [
                f"{score.total:g}",
                str(lateness.days_late),
                f"{100 * lateness.penalty:g}%",
                lateness.source,
            ]
        writer.writerow(
            [
                record.student,
                *(f"{by_id.get(c.id, 0.0):g}" for c in rubric.checks),
                *manual,
                *columns,
                f"{total:g}",
                f"{score.max:g}",
                f"{100.0 * total / score.max if score.max else 0.0:.1f}",
                result.status,
            ]
        )
    return buf.getvalue()


# ----------------------------------------------------------------------------- the late policy
@dataclass(frozen=True)
class LateRules:
    """A late policy as a batch folder applies it, with every submission time it was given.

    Stored whole in `late-policy.json` (the options as given, the deadline with its UTC offset,
    the instructor's `--submitted-at` times and Gradescope's), so that a gradebook written
    again later — `grader manual import`, `grader review`, a `grader grade` run without the
    options — applies the same policy without the CSV or the submissions folder at hand.
    The notebooks' modification times are each result's own (`submission.mtime`).
    """

    deadline: str  # ISO 8601 with its UTC offset (a deadline given without one is resolved once)
    penalty: str  # as given: `10%/day`
    cap: str | None = None  # as given: `50%`
    grace: str | None = None  # as given: `15m`
    times: Mapping[str, datetime] = field(default_factory=dict)  # --submitted-at, by student
    gradescope: Mapping[str, datetime] = field(default_factory=dict)  # submission folder -> :created_at:
    times_file: str | None = None  # where `times` came from (for people reading the file)
    policy: LatePolicy = field(init=False, repr=False, compare=False)
    _identities: Mapping[str, Identity] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", LatePolicy.from_options(self.deadline, self.penalty, self.cap, self.grace))
        identities = {
            folder: Identity(GRADESCOPE, submission_id=folder.removeprefix("submission_"), submitted_at=when)
            for folder, when in self.gradescope.items()
        }
        object.__setattr__(self, "_identities", identities)

    @classmethod
    def from_options(
        cls,
        deadline: str,
        penalty: str,
        cap: str | None = None,
        grace: str | None = None,
        times_file: str | None = None,
    ) -> LateRules:
        """From `grader grade`'s options; LatenessError (one line, naming the option) if unusable."""
        try:
            resolved = parse_time(deadline).isoformat()  # a local deadline means this machine's zone
        except LatenessError as exc:
            raise LatenessError(f"--deadline: {exc}") from None
        checks = (("--late-penalty", parse_penalty, penalty), ("--late-cap", parse_percent, cap))
        for option, parse, text in (*checks, ("--grace", parse_duration, grace)):
            if text is not None:
                try:
                    parse(text)
                except LatenessError as exc:
                    raise LatenessError(f"{option}: {exc}") from None
        try:
            times = read_submission_times(times_file) if times_file else {}
        except LatenessError as exc:
            raise LatenessError(f"--submitted-at: {exc}") from None
        return cls(resolved, penalty, cap, grace, times, times_file=os.path.abspath(times_file) if times_file else None)

    def describe(self) -> str:
        parts = [f"deadline {self.deadline}", self.penalty]
        parts += [f"cap {self.cap}"] if self.cap else []
        parts += [f"grace {self.grace}"] if self.grace else []
        parts += [f"{len(self.times)} submission time(s) from {self.times_file or 'a CSV'}"] if self.times else []
        return ", ".join(parts)

    def submitted(self, record: Any) -> SubmissionTime:
        """When the student of `record` (a BatchRecord) submitted, and how that is known."""
        student, name = record.student, getattr(record, "name", "") or ""
        times: Mapping[str, datetime] = self.times
        if name and student not in times:  # the CSV may name the file (`bob.ipynb`) or a long name
            for key in (name, name.removesuffix(".ipynb")):
                if key in self.times:
                    times = {student: self.times[key]}
                    break
        identity = identify(student, gradescope=self._identities, recorded={student: name} if name else None)
        return submission_time(student, times=times, identity=identity, mtime=getattr(record, "mtime", None))

    def assess(self, record: Any, raw: float) -> Lateness:
        return assess(self.policy, self.submitted(record), raw)

    def to_json(self) -> str:
        data = {
            "schema_version": LATE_SCHEMA_VERSION,
            "deadline": self.deadline,
            "late_penalty": self.penalty,
            "late_cap": self.cap,
            "grace": self.grace,
            "submitted_at_file": self.times_file,
            "submitted_at": {s: t.isoformat() for s, t in sorted(self.times.items())},
            "gradescope": {s: t.isoformat() for s, t in sorted(self.gradescope.items())},
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, where: str) -> LateRules:
        if not isinstance(data, dict) or data.get("schema_version") != LATE_SCHEMA_VERSION:
            raise LatenessError(f"{where}: not a late policy of this grader (schema_version 1)")
        try:
            deadline, penalty = data["deadline"], data["late_penalty"]
            cap, grace, source = data.get("late_cap"), data.get("grace"), data.get("submitted_at_file")
            if not isinstance(deadline, str) or not isinstance(penalty, str):
                raise LatenessError("the deadline and the penalty are not text")
            if not all(t is None or isinstance(t, str) for t in (cap, grace, source)):
                raise LatenessError("the cap, the grace period or the file name is not text")
            times, gradescope = (_times(data.get(key) or {}) for key in ("submitted_at", "gradescope"))
            return cls(deadline, penalty, cap, grace, times, gradescope, source)
        except (LatenessError, KeyError, TypeError, AttributeError) as exc:
            raise LatenessError(f"{where}: not a usable late policy ({exc}); give the options again") from None


def _times(raw: Mapping[str, Any]) -> dict[str, datetime]:
    times = {}
    for student, text in raw.items():
        if not isinstance(text, str):
            raise LatenessError(f"the time of {student!r} is not text")
        times[student] = parse_time(text)
    return times


def late_policy_path(out_dir: str) -> str:
    return os.path.join(out_dir, LATE_POLICY_JSON)


def read_late_rules(out_dir: str) -> LateRules | None:
    """The late policy kept in a batch folder; None when there is none."""
    path = late_policy_path(out_dir)
    data = read_json_file(path, LatenessError, "a late policy")
    return None if data is None else LateRules.from_dict(data, path)


def write_late_rules(out_dir: str, rules: LateRules) -> None:
    write_atomic(late_policy_path(out_dir), rules.to_json())


def remove_late_rules(out_dir: str) -> bool:
    """Remove a batch folder's late policy; False when it had none."""
    try:
        os.unlink(late_policy_path(out_dir))
    except FileNotFoundError:
        return False
    return True


def unreliable_times(records: Iterable[Any], rules: LateRules) -> dict[str, int]:
    """How many submissions' times are only a file time (`mtime`) or not known at all (`unknown`)."""
    counts = dict.fromkeys(UNRELIABLE_SOURCES, 0)
    for record in records:
        source = rules.submitted(record).source
        if source in counts:
            counts[source] += 1
    return counts
