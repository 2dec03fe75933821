"""Grade-import files for learning management systems, from a batch's gradebook.

`grader grade` writes `grades.csv`: `student`, one column per check, then `total`, `max`,
`percent`, `status` (ok | error | timeout). This module reads only `student`, `total`, `max`
and `status`, and writes what the LMS's own grade import reads:

* Canvas (Grades > Import): `Student, ID, SIS User ID, SIS Login ID, Section, <assignment>`,
  then a `Points Possible` row. Canvas matches students on ID, SIS User ID or SIS Login ID;
  the grader's student name goes into the one chosen (SIS Login ID by default).
* Moodle (Grades > Import > CSV file): an identifier column and a grade column; on the
  import page map the identifier to the matching user field ("Email address" -> email,
  "ID number" -> ID number, "Username" -> username) and the grade column to the grade item.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

GRADEBOOK = "grades.csv"
REQUIRED = ("student", "total", "max", "status")
CANVAS_ID_COLUMNS = {"sis-login": "SIS Login ID", "sis-user": "SIS User ID", "canvas-id": "ID"}
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_ID_FIELDS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}


class ExportError(ValueError):
    """The gradebook cannot be exported; str() is the one-line reason."""


@dataclass
class GradebookRow:
    student: str
    total: float
    max: float
    status: str

    @property
    def graded(self) -> bool:
        return self.status == "ok"


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
                rows.append(GradebookRow(student, total, maximum, (record["status"] or "").strip()))
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not a gradebook from `grader grade` (the file is not UTF-8 text)") from None
    except csv.Error as exc:
        raise ExportError(f"{path}: not a gradebook from `grader grade` ({exc})") from None
    if not rows:
        raise ExportError(f"{path}: the gradebook has no students")
    return rows


def points_possible(rows: list[GradebookRow]) -> float:
    maxima = {r.max for r in rows}
    if len(maxima) != 1:
        raise ExportError(f"the gradebook mixes maximum scores ({', '.join(_points(m) for m in sorted(maxima))})")
    return maxima.pop()


def problems(rows: list[GradebookRow]) -> list[str]:
    """One line per student whose notebook was not graded normally (review before importing)."""
    return [f"{r.student}: status {r.status or '(empty)'}, total {_points(r.total)}" for r in rows if not r.graded]


def canvas_csv(
    rows: list[GradebookRow], assignment_name: str, id_column: str = "sis-login", skip_errors: bool = False
) -> str:
    if id_column not in CANVAS_ID_COLUMNS:
        raise ExportError(f"unknown Canvas id column {id_column!r}")
    maximum = points_possible(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([*CANVAS_HEADER, assignment_name])
    writer.writerow(["Points Possible", "", "", "", "", _points(maximum)])
    column = CANVAS_HEADER.index(CANVAS_ID_COLUMNS[id_column])
    for row in rows:
        if skip_errors and not row.graded:
            continue
        cells = [row.student, "", "", "", "", _points(row.total)]
        cells[column] = row.student
        writer.writerow(cells)
    return buf.getvalue()


def moodle_csv(
    rows: list[GradebookRow], assignment_name: str, id_field: str = "email", skip_errors: bool = False
) -> str:
    if id_field not in MOODLE_ID_FIELDS:
        raise ExportError(f"unknown Moodle identifier {id_field!r}")
    points_possible(rows)  # one assignment, one maximum
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([MOODLE_ID_FIELDS[id_field], assignment_name])
    for row in rows:
        if skip_errors and not row.graded:
            continue
        writer.writerow([row.student, _points(row.total)])
    return buf.getvalue()


def moodle_problems(rows: list[GradebookRow], id_field: str) -> list[str]:
    if id_field != "email":
        return []
    return [
        f"{r.student}: not an email address; Moodle will not match it (see --id-field)"
        for r in rows
        if "@" not in r.student
    ]


def _points(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")
