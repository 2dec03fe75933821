"""Grade-import files for learning management systems, from a batch's gradebook.

`grader grade` writes `grades.csv`: `student`, one column per check, then `total`, `max`,
`percent`, `status` (ok | error | timeout). This module reads only `student`, `total`, `max`
and `status`, and writes what the LMS's own grade import reads:

* Canvas (Grades > Import): `Student, ID, SIS User ID, SIS Login ID, Section, <assignment>`,
  then a `Points Possible` row. Canvas matches students on ID, SIS User ID or SIS Login ID.
* Moodle (Grades > Import > CSV file): an identifier column and a grade column; on the
  import page map the identifier to the matching user field ("Email address" -> email,
  "ID number" -> ID number, "Username" -> username) and the grade column to the grade item.
  Or the assignment's own grading worksheet (`Identifier` = "Participant 1234567"), the only
  file that takes the participant id of Moodle's download names, and the only one with a place
  for the free-text items' comments (`Feedback comments`, read by Moodle when the assignment
  has the "Feedback comments" feedback type on). Canvas's gradebook import has no comment
  column: comments reach Canvas students through `grader feedback`'s files.

The student id is the name of the student's file or folder, which is rarely what the LMS
matches on: an LMS download name (`grader.roster`) is read back into the identifiers it holds,
and a roster fills in the rest. A row is written only when it has an identifier the import can
match; every other row is reported with the reason, so no grade is imported to nobody (or to
the wrong student) unnoticed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .reporters.gradebook import COMMENT_SUFFIX, MANUAL_PREFIX
from .roster import (
    CANVAS,
    CLASSROOM,
    GRADESCOPE,
    MOODLE,
    Identity,
    RosterEntry,
    identify,
    match_person,
    match_student,
    original_name,
)
from .staging import student_id

GRADEBOOK = "grades.csv"
REQUIRED = ("student", "total", "max", "status")
CANVAS_ID_COLUMNS = {"sis-login": "SIS Login ID", "sis-user": "SIS User ID", "canvas-id": "ID"}
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_ID_FIELDS = {
    "email": "Email address",
    "idnumber": "ID number",
    "username": "Username",
    "participant": "Identifier",
}
WORKSHEET_HEADER = ("Identifier", "Full name", "Grade", "Last modified (grade)")
# Only when some student has a comment: Moodle leaves the feedback of a worksheet without the
# column as it is, rather than risk a blank one replacing comments typed in Moodle itself.
WORKSHEET_FEEDBACK = "Feedback comments"
# The roster column (grader.roster.ROSTER_COLUMNS) behind each LMS identifier column.
_ROSTER_KIND = {
    "ID": "canvas_id",
    "SIS User ID": "sis_user_id",
    "SIS Login ID": "sis_login",
    "Email address": "email",
    "ID number": "idnumber",
    "Username": "username",
    "Identifier": "participant",
}
_CANVAS_IDS = ("ID", "SIS User ID", "SIS Login ID")


class ExportError(ValueError):
    """The gradebook cannot be exported; str() is the one-line reason."""


@dataclass
class GradebookRow:
    student: str
    total: float
    max: float
    status: str
    comments: dict[str, str] = field(default_factory=dict)  # free-text item -> a person's comment

    @property
    def feedback(self) -> str:
        """The comments as one text for a student, one item a line (`item: comment`)."""
        return "\n".join(f"{item}: {comment}" for item, comment in self.comments.items())

    @property
    def graded(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Lookup:
    """What tells the exporter who a student is, besides the student id itself."""

    roster: list[RosterEntry] | None = None
    classroom_prefix: str | None = None  # GitHub Classroom: `<prefix>-<username>`
    gradescope: Mapping[str, Identity] | None = None  # from submission_metadata.yml
    recorded: Mapping[str, str] | None = None  # student id -> its submission's name (`recorded_names`)


@dataclass(frozen=True)
class Placement:
    """One line of the import file: a gradebook row and the LMS identifiers it goes under."""

    row: GradebookRow
    ids: Mapping[str, str]  # LMS column -> value
    name: str = ""  # for people reading the file (Canvas's Student, the worksheet's Full name)
    keys: frozenset[str] = frozenset()  # what another placement of the same student would share


@dataclass
class ExportPlan:
    """What goes into the import file, and every student that does not (one line each)."""

    placed: list[Placement] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # a student the import could not match, and why
    clashes: list[str] = field(default_factory=list)  # several students on one LMS row: none written
    notes: list[str] = field(default_factory=list)  # ids used as they are
    considered: int = 0  # gradebook rows to place (after --skip-errors)


def gradebook_path(path: str) -> str:
    """A batch's output folder or its grades.csv."""
    return os.path.join(path, GRADEBOOK) if os.path.isdir(path) else path


def read_gradebook(path: str) -> list[GradebookRow]:
    path = gradebook_path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ExportError(
                    f"{path}: not a gradebook from `grader grade` (missing column(s) {', '.join(missing)})"
                )
            rows, seen = [], set()
            for n, record in enumerate(reader, start=2):
                student = (record["student"] or "").strip()
                if not student:
                    raise ExportError(f"{path}, line {n}: empty student")
                if student in seen:
                    raise ExportError(f"{path}, line {n}: student {student!r} appears twice")
                seen.add(student)
                try:
                    total, maximum = float(record["total"]), float(record["max"])
                except (TypeError, ValueError):
                    raise ExportError(f"{path}, line {n}: total/max are not numbers") from None
                comments = {
                    column[len(MANUAL_PREFIX) : -len(COMMENT_SUFFIX)]: (record[column] or "").strip()
                    for column in reader.fieldnames or []
                    if column.startswith(MANUAL_PREFIX) and column.endswith(COMMENT_SUFFIX)
                }
                status = (record["status"] or "").strip()
                rows.append(GradebookRow(student, total, maximum, status, {k: v for k, v in comments.items() if v}))
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not a gradebook from `grader grade` (the file is not UTF-8 text)") from None
    except csv.Error as exc:
        raise ExportError(f"{path}: not a gradebook from `grader grade` ({exc})") from None
    if not rows:
        raise ExportError(f"{path}: the gradebook has no students")
    return rows


def recorded_names(gradebook: str, students: list[str]) -> dict[str, str]:
    """The submission names of the student ids that do not decode to them, from the batch's
    `results/<id>.json` beside the gradebook: an id over 160 characters keeps only a hash, and a
    Canvas submission's id is its student's, not its file's (`grader.staging.submission_student_id`)."""
    results = os.path.join(os.path.dirname(os.path.abspath(gradebook_path(gradebook))), "results")
    names = {}
    for student in students:
        try:
            with open(os.path.join(results, student + ".json"), encoding="utf-8") as f:
                name = json.load(f)["submission"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no result: the id stays as it is, and is reported as such
        if not isinstance(name, str) or not name:
            continue
        if "~" in student or student_id(name.removesuffix(".ipynb") or name) != student:  # not decodable
            names[student] = name
    return names


def points_possible(rows: list[GradebookRow]) -> float:
    maxima = {r.max for r in rows}
    if len(maxima) != 1:
        raise ExportError(f"the gradebook mixes maximum scores ({', '.join(_points(m) for m in sorted(maxima))})")
    return maxima.pop()


def problems(rows: list[GradebookRow]) -> list[str]:
    """One line per student whose notebook was not graded normally (review before importing)."""
    return [f"{r.student}: status {r.status or '(empty)'}, total {_points(r.total)}" for r in rows if not r.graded]


# ----------------------------------------------------------------------------- placing students
def plan_canvas(
    rows: list[GradebookRow], id_column: str = "sis-login", skip_errors: bool = False, lookup: Lookup | None = None
) -> ExportPlan:
    """Canvas rows. A Canvas download name gives `ID` (its user id); a roster gives every
    identifier column and the section; an id in no known format goes into `id_column`."""
    if id_column not in CANVAS_ID_COLUMNS:
        raise ExportError(f"unknown Canvas id column {id_column!r}")
    return _plan(rows, _CANVAS_IDS, CANVAS_ID_COLUMNS[id_column], skip_errors, lookup or Lookup())


def plan_moodle(
    rows: list[GradebookRow], id_field: str = "email", skip_errors: bool = False, lookup: Lookup | None = None
) -> ExportPlan:
    """Moodle rows under one user field (`participant`: the assignment's grading worksheet)."""
    if id_field not in MOODLE_ID_FIELDS:
        raise ExportError(f"unknown Moodle identifier {id_field!r}")
    column = MOODLE_ID_FIELDS[id_field]
    return _plan(rows, (column,), column, skip_errors, lookup or Lookup())


def _plan(
    rows: list[GradebookRow], columns: tuple[str, ...], raw_column: str, skip_errors: bool, lookup: Lookup
) -> ExportPlan:
    plan = ExportPlan()
    raw: list[str] = []
    for row in rows:
        if skip_errors and not row.graded:
            continue
        plan.considered += 1
        name = original_name(row.student, lookup.recorded)
        if name.endswith(".ipynb"):
            name = name[: -len(".ipynb")]
        identity = identify(
            row.student,
            classroom_prefix=lookup.classroom_prefix,
            gradescope=lookup.gradescope,
            recorded=lookup.recorded,
        )
        if lookup.roster is not None:
            people = identity.everyone if identity else (None,)
            for person in people:
                _place_from_roster(plan, row, name, person, lookup.roster, columns)
        elif identity:
            for person in identity.everyone:
                _place_from_identity(plan, row, person, columns)
        else:
            problem = _unusable(raw_column, name)
            if problem:
                plan.unplaced.append(f"{row.student}: {problem}")
            else:
                plan.placed.append(Placement(row, {raw_column: name}, row.student, _keys({raw_column: name})))
                raw.append(row.student)
    _drop_clashes(plan)
    if raw and len(raw) == plan.considered:
        plan.notes.append(
            "no student id is an LMS download name (Canvas, Moodle, Gradescope, GitHub Classroom): "
            f"each goes into {raw_column} as it is"
        )
    else:
        plan.notes += [f"{student}: not an LMS download name; goes into {raw_column} as it is" for student in raw]
    return plan


def _place_from_roster(
    plan: ExportPlan,
    row: GradebookRow,
    name: str,
    person: Identity | None,
    roster: list[RosterEntry],
    columns: tuple[str, ...],
) -> None:
    match = match_person(person, roster) if person else match_student(name, roster)
    entry = match.entry
    if entry is None:
        plan.unplaced.append(f"{row.student}: {match.reason}")  # the reason names the person
        return
    ids = {column: entry.ids[_ROSTER_KIND[column]] for column in columns if entry.ids.get(_ROSTER_KIND[column])}
    if not ids:
        plan.unplaced.append(f"{row.student}: {entry.label} has no {' / '.join(columns)}")
        return
    keys = _keys(ids) | {entry.label}
    if columns == _CANVAS_IDS and entry.ids.get("section"):
        ids["Section"] = entry.ids["section"]
    plan.placed.append(Placement(row, ids, entry.display_name, keys))


def _place_from_identity(plan: ExportPlan, row: GradebookRow, person: Identity, columns: tuple[str, ...]) -> None:
    """Without a roster: only what the download name itself holds."""
    known = {
        CANVAS: {"ID": person.user_id},
        MOODLE: {"Identifier": person.user_id},
        # Gradescope's SID is the institution's student number (Canvas SIS User ID, Moodle ID number).
        GRADESCOPE: {"Email address": person.email, "SIS User ID": person.user_id, "ID number": person.user_id},
    }.get(person.lms, {})
    ids = {column: known[column] for column in columns if known.get(column)}
    if ids:
        # A full name reads better than the id; Canvas's squashed `xuerin` does not.
        name = person.name if person.lms in (MOODLE, GRADESCOPE) and person.name else row.student
        plan.placed.append(Placement(row, ids, name, _keys(ids)))
        return
    hint = "give --roster"
    if person.lms == MOODLE and person.user_id:
        hint += ", or --id-field participant for the assignment's grading worksheet"
    if person.lms == GRADESCOPE and not (person.email or person.user_id):
        hint = "give --submissions with Gradescope's submission_metadata.yml, or --roster"
    wanted = "participant id" if columns == ("Identifier",) else " / ".join(columns)
    plan.unplaced.append(f"{row.student}: {_also(_describe(person), row.student)}no {wanted} known; {hint}")


def _unusable(column: str, value: str) -> str:
    """Why an id in no known format cannot go into `column` as it is ('' if it can)."""
    if column == "Email address" and "@" not in value:
        return "not an email address; Moodle will not match it (see --id-field, --roster)"
    if column == "ID" and not value.isdigit():
        return "not a Canvas user id (a number); Canvas will not match it (see --id-column, --roster)"
    if column == "Identifier":
        return "not a Moodle download name, so no participant id (see --id-field, --roster)"
    return ""


def _drop_clashes(plan: ExportPlan) -> None:
    """Two students placed on the same LMS row: import neither, say which (the instructor
    decides, e.g. a student who uploaded two notebooks)."""
    # One submission on the same LMS row twice (group members that are one person to the LMS).
    seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    unique = []
    for placement in plan.placed:
        written = (placement.row.student, frozenset(placement.ids.items()))
        if written not in seen:
            seen.add(written)
            unique.append(placement)
    plan.placed = unique
    by_key: dict[str, list[Placement]] = {}
    for placement in plan.placed:
        for key in placement.keys:
            by_key.setdefault(key, []).append(placement)
    dropped: set[int] = set()
    said: set[tuple[str, ...]] = set()
    for key in sorted(by_key, key=lambda k: (not k.startswith("roster line"), k)):  # a roster line says most
        students = tuple(dict.fromkeys(p.row.student for p in by_key[key]))
        if len(students) > 1:
            dropped |= {id(p) for p in by_key[key]}
            if students not in said:
                said.add(students)
                plan.clashes.append(f"{key} is matched by {' and '.join(students)}: none of them exported")
    plan.placed = [p for p in plan.placed if id(p) not in dropped]


def _keys(ids: Mapping[str, str]) -> frozenset[str]:
    return frozenset(f"{column} {value.casefold()}" for column, value in ids.items())


def _describe(person: Identity) -> str:
    named = f" ({person.name})" if person.name else ""
    return {
        CANVAS: f"Canvas user {person.user_id}{named}",
        MOODLE: f"Moodle participant {person.user_id}{named}",
        GRADESCOPE: f"Gradescope submission {person.submission_id}{named}",
        CLASSROOM: f"GitHub user {person.login}",
    }[person.lms]


def _also(who: str, student: str) -> str:
    return "" if who == student else f"{who}: "


# ----------------------------------------------------------------------------- the files
def render_canvas(plan: ExportPlan, assignment_name: str, maximum: float) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([*CANVAS_HEADER, assignment_name])
    writer.writerow(["Points Possible", "", "", "", "", _points(maximum)])
    for placement in plan.placed:
        identifiers = [placement.ids.get(column, "") for column in CANVAS_HEADER[1:]]
        writer.writerow([placement.name or placement.row.student, *identifiers, _points(placement.row.total)])
    return buf.getvalue()


def render_moodle(plan: ExportPlan, assignment_name: str, id_field: str, now: datetime | None = None) -> str:
    """`now` stamps the worksheet's `Last modified (grade)`: Moodle skips a row whose grade was
    changed in Moodle after that time."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if id_field == "participant":
        stamp = (now or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M:%S %z")
        comments = any(placement.row.comments for placement in plan.placed)
        writer.writerow([*WORKSHEET_HEADER, *([WORKSHEET_FEEDBACK] if comments else [])])
        for placement in plan.placed:
            participant = f"Participant {placement.ids['Identifier']}"
            row = [participant, placement.name, _points(placement.row.total), stamp]
            writer.writerow([*row, placement.row.feedback] if comments else row)
        return buf.getvalue()
    writer.writerow([MOODLE_ID_FIELDS[id_field], assignment_name])
    for placement in plan.placed:
        writer.writerow([placement.ids[MOODLE_ID_FIELDS[id_field]], _points(placement.row.total)])
    return buf.getvalue()


def canvas_csv(
    rows: list[GradebookRow],
    assignment_name: str,
    id_column: str = "sis-login",
    skip_errors: bool = False,
    lookup: Lookup | None = None,
) -> str:
    """The Canvas import file (what `plan_canvas` could place)."""
    maximum = points_possible(rows)
    return render_canvas(plan_canvas(rows, id_column, skip_errors, lookup), assignment_name, maximum)


def moodle_csv(
    rows: list[GradebookRow],
    assignment_name: str,
    id_field: str = "email",
    skip_errors: bool = False,
    lookup: Lookup | None = None,
    now: datetime | None = None,
) -> str:
    """The Moodle import file (what `plan_moodle` could place)."""
    points_possible(rows)  # one assignment, one maximum
    return render_moodle(plan_moodle(rows, id_field, skip_errors, lookup), assignment_name, id_field, now)


def _points(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")
