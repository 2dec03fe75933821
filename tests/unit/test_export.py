"""`grader export canvas|moodle`: a batch gradebook becomes the LMS's grade-import CSV.

The gradebook is written here in exactly the format `grader grade` produces (student, one
column per check, total, max, percent, status), and the exports are read back with csv.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from grader import cli
from grader.export import ExportError, canvas_csv, moodle_csv, read_gradebook

HEADER = ["student", "corr2d-example", "corr2d-non-square", "min-kernel-size", "total", "max", "percent", "status"]
ROWS = [
    ["alice@uni.example", "1", "2", "1", "20", "20", "100.0", "ok"],
    ["bob@uni.example", "1", "2", "0", "19", "20", "95.0", "ok"],
    ["carol@uni.example", "0", "0", "0", "0", "20", "0.0", "error"],
    ["dan@uni.example", "1", "0", "0", "7.5", "20", "37.5", "timeout"],
]


@pytest.fixture
def batch_dir(tmp_path):
    with open(tmp_path / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    return tmp_path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def export(*args: str):
    return CliRunner().invoke(cli.main, ["export", *args])


def test_canvas_csv_has_canvas_columns_points_possible_and_totals(batch_dir):
    result = export("canvas", str(batch_dir / "grades.csv"), "--assignment-name", "6.2 Convolutions, graded")
    assert result.exit_code == 0, result.output
    rows = _rows((batch_dir / "canvas.csv").read_text(encoding="utf-8"))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "6.2 Convolutions, graded"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20"]
    by_login = {r[3]: r[5] for r in rows[2:]}
    assert by_login == {
        "alice@uni.example": "20",
        "bob@uni.example": "19",
        "carol@uni.example": "0",
        "dan@uni.example": "7.5",
    }
    assert all(r[1] == r[2] == r[4] == "" for r in rows[2:])


def test_canvas_id_column_can_be_the_sis_user_id(batch_dir):
    result = export("canvas", str(batch_dir), "--assignment-name", "A", "--id-column", "sis-user", "-o", "-")
    rows = _rows(result.stdout)
    assert rows[2][:4] == ["alice@uni.example", "", "alice@uni.example", ""]


def test_students_not_graded_normally_are_warned_about_and_can_be_left_out(batch_dir):
    result = export("canvas", str(batch_dir), "--assignment-name", "A", "-o", "-")
    assert "carol@uni.example: status error" in result.stderr and "dan@uni.example: status timeout" in result.stderr
    assert "alice" not in result.stderr
    skipped = export("canvas", str(batch_dir), "--assignment-name", "A", "-o", "-", "--skip-errors")
    assert [r[3] for r in _rows(skipped.stdout)[2:]] == ["alice@uni.example", "bob@uni.example"]


def test_moodle_csv_is_an_identifier_and_a_grade_column(batch_dir, tmp_path):
    out = tmp_path / "to-moodle.csv"
    result = export("moodle", str(batch_dir), "--assignment-name", "6.2 Convolutions", "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out.read_text(encoding="utf-8"))
    assert rows[0] == ["Email address", "6.2 Convolutions"]
    assert dict(rows[1:]) == {
        "alice@uni.example": "20",
        "bob@uni.example": "19",
        "carol@uni.example": "0",
        "dan@uni.example": "7.5",
    }


def test_moodle_warns_when_students_are_not_emails(tmp_path):
    (tmp_path / "grades.csv").write_text("student,total,max,percent,status\nalice,3,4,75.0,ok\n", encoding="utf-8")
    result = export("moodle", str(tmp_path), "--assignment-name", "A", "-o", "-")
    assert "alice: not an email address" in result.stderr
    by_username = export("moodle", str(tmp_path), "--assignment-name", "A", "-o", "-", "--id-field", "username")
    assert by_username.stderr == "" and _rows(by_username.stdout) == [["Username", "A"], ["alice", "3"]]


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("name,score\nalice,3\n", "missing column(s) student, total, max, status"),
        ("student,total,max,percent,status\nalice,x,4,0,ok\n", "line 2: total/max are not numbers"),
        ("student,total,max,percent,status\nalice,1,4,25,ok\nalice,2,4,50,ok\n", "appears twice"),
        ("student,total,max,percent,status\nalice,1,4,25,ok\nbob,2,5,40,ok\n", "mixes maximum scores (4, 5)"),
        ("student,total,max,percent,status\n", "no students"),
    ],
)
def test_a_file_that_is_not_a_usable_gradebook_is_refused_with_one_line(tmp_path, content, complaint):
    (tmp_path / "grades.csv").write_text(content, encoding="utf-8")
    result = export("canvas", str(tmp_path), "--assignment-name", "A", "-o", "-")
    assert result.exit_code == 2 and complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_library_functions_round_trip_fractional_points(batch_dir):
    rows = read_gradebook(str(batch_dir))
    assert [r.total for r in rows] == [20, 19, 0, 7.5]
    assert _rows(canvas_csv(rows, "A"))[5][5] == "7.5"
    assert _rows(moodle_csv(rows, "A", "idnumber"))[0] == ["ID number", "A"]
    with pytest.raises(ExportError):
        canvas_csv(rows, "A", id_column="name")
