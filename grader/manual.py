"""Marks for free-text answers, given by a person after `grader grade`.

A batch's folder (`grader grade … --out DIR`) holds the automatic verdicts in `results/`;
the marks a person gives the rubric's `[[manual]]` items live beside them, in
`DIR/manual.json`:

    {"schema_version": 1, "assignment": "conv-layer",
     "marks": {"<student>": {"<item id>": {"points": 1.5, "comment": "…"}}}}

A separate file, because the results are the batch's to rewrite (a re-grade replaces them)
while the marks are a person's work: nothing in `grader grade` ever writes or deletes it, and
the gradebook it writes adds the marks it finds there. The file is rewritten whole and
atomically on every change (`grader.files.write_atomic`), so a crash or a reader never sees
half of it. `grader review`, `grader manual import` and `grader feedback` all go through
`GradedBatch`, which is the folder as a person grading it sees it: the rubric, each student's
result, their answers and the marks so far.

Every rewrite of the gradebook shows the marks in three places besides `manual.json`: the
gradebook's `manual:<item>` and `manual:<item>:comment` columns, a copy in each student's
`results/<student>.json` (`marks`, only ever rewritten to match `manual.json`), and from the
gradebook the LMS exports that have a place for comments (Moodle's grading worksheet).

The rubric is what an item is worth (`[[manual]] points`), as it is for the checks: a mark
must lie between 0 and that, and the gradebook's `max` adds it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .files import read_json_file, write_atomic
from .results import GradeResult
from .rubric import ManualSpec, Rubric

if TYPE_CHECKING:
    from .batch import BatchRecord
    from .reporters.gradebook import LateRules

SCHEMA_VERSION = 1
MANUAL_JSON = "manual.json"
GRADEBOOK = "grades.csv"
EXPORT_FOLDER = "manual"
MAX_COMMENT = 20_000  # characters; a comment is a few sentences, not a file
CSV_COLUMNS = ("student", "item", "max", "prompt", "answer", "points", "comment")
CSV_REQUIRED = ("student", "item", "points", "comment")

# C0/C1 control characters (except tab and newline) and lone surrogates: student text shown
# to a person or written as UTF-8 has no use for them, and a lone surrogate cannot be encoded.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class ManualError(ValueError):
    """Marks cannot be read or set; str() is the one-line reason."""


def clean_text(text: str) -> str:
    """Text from a notebook as a person should see it: no control characters, always encodable."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


@dataclass
class Mark:
    """One person's verdict on one answer: points (None: not scored yet) and a comment."""

    points: float | None = None
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "comment": self.comment}


@dataclass
class Marks:
    """The content of `manual.json`."""

    assignment: str
    marks: dict[str, dict[str, Mark]] = field(default_factory=dict)

    def get(self, student: str, item: str) -> Mark | None:
        return self.marks.get(student, {}).get(item)

    def points(self, student: str, item: str) -> float | None:
        mark = self.get(student, item)
        return mark.points if mark else None

    def put(self, student: str, item: str, mark: Mark) -> None:
        """Set a mark; an empty one (no points, no comment) is removed instead."""
        if mark.points is None and not mark.comment:
            self.marks.get(student, {}).pop(item, None)
            if not self.marks.get(student):
                self.marks.pop(student, None)
        else:
            self.marks.setdefault(student, {})[item] = mark

    def to_json(self) -> str:
        marks = {s: {i: m.to_dict() for i, m in sorted(items.items())} for s, items in sorted(self.marks.items())}
        data = {"schema_version": SCHEMA_VERSION, "assignment": self.assignment, "marks": marks}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Marks:
        """Read `manual.json`'s content, refusing anything that is not exactly its shape."""
        if not isinstance(data, dict) or not isinstance(data.get("assignment"), str):
            raise ManualError(f"{where}: not a marks file (no assignment)")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ManualError(f"{where}: schema version {data.get('schema_version')!r}, this grader reads 1")
        raw = data.get("marks", {})
        if not isinstance(raw, dict):
            raise ManualError(f"{where}: 'marks' is not an object")
        marks = cls(data["assignment"])
        for student, items in raw.items():
            if not isinstance(items, dict):
                raise ManualError(f"{where}: the marks of {student!r} are not an object")
            for item, entry in items.items():
                points = entry.get("points") if isinstance(entry, dict) else "?"
                comment = entry.get("comment", "") if isinstance(entry, dict) else None
                if not (points is None or _is_number(points)) or not isinstance(comment, str):
                    raise ManualError(f"{where}: the mark of {student!r} for {item!r} is not {{points, comment}}")
                marks.put(student, item, Mark(None if points is None else float(points), comment))
        return marks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def marks_path(out_dir: str) -> str:
    return os.path.join(out_dir, MANUAL_JSON)


def read_marks(out_dir: str) -> Marks | None:
    """The marks of a batch folder; None when nobody has given any yet."""
    path = marks_path(out_dir)
    data = read_json_file(path, ManualError, "a marks file")
    return None if data is None else Marks.from_dict(data, path)


def marks_for(out_dir: str, assignment: str) -> Marks | None:
    """The marks to add to `assignment`'s gradebook in `out_dir` (what `grader grade` calls).

    Marks of another assignment are an error rather than ignored: the folder was reused for
    a second assignment, and a gradebook silently without its manual points is the worse outcome.
    """
    marks = read_marks(out_dir)
    if marks is not None and marks.assignment != assignment:
        raise ManualError(
            f"{marks_path(out_dir)} holds marks for assignment {marks.assignment!r}, not {assignment!r}: "
            "grade each assignment into its own folder"
        )
    return marks


@dataclass
class Totals:
    """A student's score: the checks' points plus the marks given so far."""

    automatic: float
    automatic_max: float
    manual: float
    manual_max: float

    @property
    def total(self) -> float:
        return round(self.automatic + self.manual, 6)

    @property
    def max(self) -> float:
        return round(self.automatic_max + self.manual_max, 6)

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 0.0


def totals(rubric: Rubric, student: str, result: GradeResult, marks: Marks | None) -> Totals:
    """The one place a total is computed (the gradebook and the feedback both show it)."""
    manual = sum(marks.points(student, m.id) or 0.0 for m in rubric.manual) if marks else 0.0
    return Totals(result.score, rubric.max_score, round(manual, 6), float(sum(m.points for m in rubric.manual)))


def check_points(item: ManualSpec, points: Any) -> float | None:
    """Points for `item` as given (a number, numeric text, or None/empty for "not scored")."""
    if points is None or (isinstance(points, str) and not points.strip()):
        return None
    if isinstance(points, str):
        text = points.strip()
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")  # a spreadsheet in a locale with decimal commas
        try:
            points = float(text)
        except ValueError:
            raise ManualError(f"points {points!r} is not a number") from None
    if not _is_number(points):
        raise ManualError(f"points {points!r} is not a number")
    if not 0 <= points <= item.points:
        if item.points == 0:
            raise ManualError(f"item {item.id!r} is worth 0 points in the rubric (comments only); got {points:g}")
        raise ManualError(f"points for {item.id!r} must be between 0 and {item.points:g}, got {points:g}")
    return float(points)


def read_records(out_dir: str) -> dict[str, BatchRecord]:
    """Every result of a batch folder by student id (the file's name), as `grader grade` wrote it."""
    from .batch import record_from_json

    results_dir = os.path.join(out_dir, "results")
    if not os.path.isdir(results_dir):
        raise ManualError(f"{out_dir}: no results/ folder (is it the --out folder of `grader grade`?)")
    records: dict[str, BatchRecord] = {}
    for name in sorted(os.listdir(results_dir)):
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = os.path.join(results_dir, name)
        student = name[: -len(".json")]
        try:
            with open(path, encoding="utf-8") as f:
                records[student] = record_from_json(student, json.load(f))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ManualError(f"{path}: unreadable result ({exc}); grade that student again") from None
    if not records:
        raise ManualError(f"{results_dir}: no results yet; run `grader grade` first")
    return records


_UNREAD = object()  # the late policy not read yet


class GradedBatch:
    """A batch's output folder as a person grading the free-text answers sees it.

    Built from `results/<student>.json` (the student id is the file name) and the course's
    rubric for the assignment they name. Setting marks is serialised by a lock and re-reads
    `manual.json` first, so saves from the review page's threads and an import run meanwhile
    are merged rather than lost; each change rewrites the gradebook too.
    """

    def __init__(self, out_dir: str, rubric: Rubric, records: dict[str, BatchRecord], marks: Marks) -> None:
        self.out_dir = out_dir
        self.rubric = rubric
        self.records = records
        self.marks = marks
        self.saving = threading.Lock()  # held while marks are written
        self._late: LateRules | object | None = _UNREAD  # late-policy.json, read once per save

    @classmethod
    def open(cls, out_dir: str, rubric: Rubric | None = None) -> GradedBatch:
        """Read `out_dir`; `rubric` defaults to the course's assignment the results name."""
        records = read_records(out_dir)
        assignments = sorted({str(r.result.assignment) for r in records.values()})
        if len(assignments) > 1:
            raise ManualError(f"{out_dir}: results of several assignments ({', '.join(assignments)})")
        if rubric is None:
            from .course import CourseError, UnknownAssignment, load_course

            try:
                rubric = load_course().get(assignments[0])
            except (CourseError, UnknownAssignment) as exc:
                raise ManualError(str(exc)) from None
        elif rubric.id != assignments[0]:
            raise ManualError(f"{out_dir}: results of {assignments[0]!r}, not {rubric.id!r}")
        return cls(out_dir, rubric, records, marks_for(out_dir, rubric.id) or Marks(rubric.id))

    @property
    def students(self) -> list[str]:
        return sorted(self.records)

    @property
    def items(self) -> list[ManualSpec]:
        return list(self.rubric.manual)

    def item(self, item_id: str) -> ManualSpec:
        for item in self.rubric.manual:
            if item.id == item_id:
                return item
        known = ", ".join(m.id for m in self.rubric.manual) or "none"
        raise ManualError(f"no free-text item {item_id!r} in {self.rubric.id!r} (its items: {known})")

    def result(self, student: str) -> GradeResult:
        if student not in self.records:
            raise ManualError(f"no student {student!r} in {os.path.join(self.out_dir, 'results')}")
        return self.records[student].result

    def answer(self, student: str, item_id: str) -> str:
        """The student's answer as collected ('' when the notebook had none, or never ran)."""
        for item in self.result(student).manual:
            if item.id == item_id:
                return clean_text(item.answer)
        return ""

    def validate(self, student: str, item_id: str, points: Any, comment: Any) -> Mark:
        """The mark as it would be stored, or ManualError saying what is wrong with it."""
        self.result(student)
        item = self.item(item_id)
        if not isinstance(comment, str):
            raise ManualError("the comment must be text")
        if len(comment) > MAX_COMMENT:
            raise ManualError(f"the comment is longer than {MAX_COMMENT} characters")
        return Mark(check_points(item, points), clean_text(comment).strip())

    def set_marks(self, updates: list[tuple[str, str, Mark]]) -> None:
        """Store validated marks (all or none), then rewrite the gradebook.

        The results are read again first: a student graded again (`grader grade --student`)
        while marks are being given must not get their old result back in the gradebook.
        """
        with self.saving:
            records = read_records(self.out_dir)
            self._late = _UNREAD  # read again: `grader grade` may have changed it meanwhile
            self.late_rules()  # a damaged late policy stops the save before anything is written
            marks = marks_for(self.out_dir, self.rubric.id) or Marks(self.rubric.id)
            for student, item_id, mark in updates:
                marks.put(student, item_id, mark)
            write_atomic(marks_path(self.out_dir), marks.to_json())
            self.records, self.marks = records, marks
            self.write_gradebook()

    def set_mark(self, student: str, item_id: str, points: Any, comment: Any = "") -> Mark:
        mark = self.validate(student, item_id, points, comment)
        self.set_marks([(student, item_id, mark)])
        return mark

    def totals(self, student: str) -> Totals:
        return totals(self.rubric, student, self.result(student), self.marks)

    def late_rules(self) -> LateRules | None:
        """The late policy `grader grade` left in the folder (`late-policy.json`), if any: read
        on first use and again on every save, not once per student and format (feedback)."""
        from .lateness import LatenessError
        from .reporters.gradebook import read_late_rules

        if self._late is _UNREAD:
            try:
                self._late = read_late_rules(self.out_dir)
            except LatenessError as exc:
                raise ManualError(str(exc)) from None
        return self._late  # type: ignore[return-value]

    def write_gradebook(self) -> None:
        """`grades.csv` again, from every result on disk, the marks and the late policy (as
        `grader grade` writes it: the same columns, the same penalties)."""
        from .reporters import gradebook

        records = [self.records[s] for s in self.students]
        text = gradebook.render_csv(self.rubric, records, self.marks, self.late_rules())
        write_atomic(os.path.join(self.out_dir, GRADEBOOK), text)
        sync_results(self.out_dir, records, self.marks)


def student_marks(marks: Marks | None, student: str) -> dict[str, dict[str, Any]]:
    """A student's marks as their results file keeps a copy of them: {item: {points, comment}}."""
    given = marks.marks.get(student, {}) if marks else {}
    return {item: mark.to_dict() for item, mark in sorted(given.items())}


def sync_results(out_dir: str, records: Iterable[BatchRecord], marks: Marks | None) -> None:
    """Copy each student's marks into `results/<student>.json` (its `marks`) where they differ.

    Only the `marks` of the file as it is on disk now is replaced, so a result written by a
    `grader grade --student` running meanwhile keeps its verdicts; a file that is gone or not
    JSON is left alone (the next run grades that student again).
    """
    for record in records:
        wanted = student_marks(marks, record.student)
        if record.marks == wanted:
            continue
        path = os.path.join(out_dir, "results", record.student + ".json")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            data.pop("marks", None)
            write_atomic(path, json.dumps({**data, "marks": wanted} if wanted else data, indent=2))
            record.marks = wanted


# ----------------------------------------------------------------------------- CSV exchange
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    """A cell a spreadsheet shows as text: a student's answer starting with `=` must not run as
    a formula when the instructor opens the file (the answer column is never read back)."""
    return "'" + text if text.startswith(_FORMULA) else text


def export_csv(batch: GradedBatch) -> list[str]:
    """One CSV per free-text item in `OUT_DIR/manual/`: every student's answer and mark so far."""
    paths = []
    for item in batch.items:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for student in batch.students:
            mark = batch.marks.get(student, item.id) or Mark()
            points = "" if mark.points is None else f"{mark.points:g}"
            answer = _inert(batch.answer(student, item.id))
            writer.writerow([student, item.id, f"{item.points:g}", _inert(item.prompt), answer, points, mark.comment])
        path = os.path.join(batch.out_dir, EXPORT_FOLDER, item.id + ".csv")
        write_atomic(path, "\ufeff" + buf.getvalue())  # the BOM tells Excel the file is UTF-8
        paths.append(path)
    return paths


def read_marks_csv(batch: GradedBatch, path: str) -> list[tuple[str, str, Mark, int]]:
    """The marks in one CSV (student, item, points, comment; other columns ignored), each with
    its line. A row with neither points nor comment is skipped: it sets nothing."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in CSV_REQUIRED if c not in header]
            if missing:
                raise ManualError(f"{path}: not a marks file (missing column(s) {', '.join(missing)})")
            column = {name: header.index(name) for name in CSV_REQUIRED}
            rows = []
            while True:
                line = reader.line_num + 1
                row = next(reader, None)
                if row is None:
                    break
                if not any(cell.strip() for cell in row):
                    continue
                cells = {name: (row[i] if i < len(row) else "") for name, i in column.items()}
                if not cells["points"].strip() and not cells["comment"].strip():
                    continue
                try:
                    mark = batch.validate(
                        cells["student"].strip(), cells["item"].strip(), cells["points"], cells["comment"]
                    )
                except ManualError as exc:
                    raise ManualError(f"{path}, line {line}: {exc}") from None
                rows.append((cells["student"].strip(), cells["item"].strip(), mark, line))
    except OSError as exc:
        raise ManualError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ManualError(f"{path}: not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as exc:
        raise ManualError(f"{path}: not a CSV file ({exc})") from None
    return rows


def import_csv(batch: GradedBatch, paths: list[str]) -> int:
    """Merge the marks of every file into `manual.json` — all of them, or none if any row is
    wrong (or sets the same answer's mark twice). Returns how many marks were set."""
    updates: list[tuple[str, str, Mark]] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        for student, item_id, mark, line in read_marks_csv(batch, path):
            where = f"{path}, line {line}"
            if (student, item_id) in seen:
                raise ManualError(f"{where}: {student!r} {item_id!r} is already marked at {seen[student, item_id]}")
            seen[student, item_id] = where
            updates.append((student, item_id, mark))
    if updates:
        batch.set_marks(updates)
    return len(updates)
