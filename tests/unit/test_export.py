"""`grader export canvas|moodle`: a batch gradebook becomes the LMS's grade-import CSV.

The gradebook is written here in exactly the format `grader grade` produces (student, one
column per check, total, max, percent, status), and the exports are read back with csv.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from lms_samples import GRADESCOPE_METADATA

from grader import cli
from grader.export import ExportError, Lookup, canvas_csv, moodle_csv, plan_canvas, plan_moodle, read_gradebook
from grader.roster import parse_roster
from grader.staging import student_id

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


def test_moodle_leaves_out_students_that_are_not_emails(tmp_path):
    (tmp_path / "grades.csv").write_text("student,total,max,percent,status\nalice,3,4,75.0,ok\n", encoding="utf-8")
    result = export("moodle", str(tmp_path), "--assignment-name", "A", "-o", "-")
    assert "alice: not an email address" in result.stderr
    assert result.exit_code == 1 and result.stdout == ""  # nobody could be placed: nothing written
    by_username = export("moodle", str(tmp_path), "--assignment-name", "A", "-o", "-", "--id-field", "username")
    assert by_username.exit_code == 0 and _rows(by_username.stdout) == [["Username", "A"], ["alice", "3"]]
    assert by_username.stderr.splitlines() == [
        "grader: note: no student id is an LMS download name (Canvas, Moodle, Gradescope, GitHub Classroom): "
        "each goes into Username as it is"
    ]


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


# ----------------------------------------------------------------------------- LMS download names and rosters
CANVAS_FILE = "xuerin_98765_4321_conv-layer.ipynb"  # the issue's Canvas download
MOODLE_FOLDER = "Carol Xu_1234567_assignsubmission_file_"  # the issue's Moodle download
CANVAS_ROSTER = """\
Student,ID,SIS User ID,SIS Login ID,Section,6.2 Convolutions (12345)
    Points Possible,,,,,20
"Xu, Erin",98765,S-001,exu,Section A,
"Lee, Ann",98766,S-002,alee,Section A,
"""
MOODLE_ROSTER = """\
First name,Last name,ID number,Email address,Username
Carol,Xu,1001,carol@uni.example,cxu
Zoë,Brandt,1002,zoe@uni.example,zbrandt
"""


def graded(tmp_path, *names: str, total: str = "17") -> str:
    """A batch folder whose gradebook has these submissions (file or folder names), with the
    student ids `grader grade` gives them."""
    lines = ["student,total,max,percent,status"]
    for name in names:
        lines.append(f"{student_id(name.removesuffix('.ipynb'))},{total},20,85.0,ok")
    (tmp_path / "grades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(tmp_path)


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_issue_canvas_download_goes_under_its_canvas_user_id(tmp_path):
    result = export("canvas", graded(tmp_path, CANVAS_FILE), "--assignment-name", "A", "-o", "-")
    assert result.exit_code == 0 and result.stderr == ""
    assert _rows(result.stdout)[2] == ["xuerin_98765_4321_conv-layer", "98765", "", "", "", "17"]


def test_the_issue_moodle_folder_is_not_exported_under_email_address_without_a_roster(tmp_path):
    result = export("moodle", graded(tmp_path, MOODLE_FOLDER), "--assignment-name", "A", "-o", "-")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "grader: warning: Carol%20Xu_1234567_assignsubmission_file_: Moodle participant 1234567 (Carol Xu): "
        "no Email address known; give --roster, or --id-field participant for the assignment's grading worksheet",
        "grader: no student could be placed in the import file; nothing written",
    ]


def test_a_moodle_participant_goes_into_the_assignments_grading_worksheet(tmp_path):
    batch = graded(tmp_path, MOODLE_FOLDER)
    result = export("moodle", batch, "--assignment-name", "A", "-o", "-", "--id-field", "participant")
    assert result.exit_code == 0 and result.stderr == ""
    header, row = _rows(result.stdout)
    # no comments in the gradebook: no comment column, so the feedback typed in Moodle stays
    assert header == ["Identifier", "Full name", "Grade", "Last modified (grade)"]
    assert row[:3] == ["Participant 1234567", "Carol Xu", "17"] and len(row) == 4
    assert datetime.strptime(row[3], "%Y-%m-%d %H:%M:%S %z")  # PHP's strtotime reads this


def test_the_moodle_worksheet_carries_the_free_text_comments_of_the_gradebook(tmp_path):
    student = student_id(MOODLE_FOLDER)
    lines = [
        "student,manual:ex1,manual:ex1:comment,manual:ex2,manual:ex2:comment,total,max,percent,status",
        f'{student},1.5,"Say why, please.",,,17,20,85.0,ok',
    ]
    (tmp_path / "grades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_gradebook(str(tmp_path))[0].comments == {"ex1": "Say why, please."}
    result = export("moodle", str(tmp_path), "--assignment-name", "A", "-o", "-", "--id-field", "participant")
    assert result.exit_code == 0 and result.stderr == ""
    header, row = _rows(result.stdout)
    assert header[4] == "Feedback comments"
    assert row[0] == "Participant 1234567" and row[4] == "ex1: Say why, please."


def test_the_issue_moodle_folder_gets_its_email_from_a_participants_roster(tmp_path):
    batch = graded(tmp_path, MOODLE_FOLDER, "Zoe BRANDT_1234568_assignsubmission_file_")
    roster = write(tmp_path / "participants.csv", MOODLE_ROSTER)
    result = export("moodle", batch, "--assignment-name", "A", "-o", "-", "--roster", roster)
    assert result.exit_code == 0 and result.stderr == ""
    assert _rows(result.stdout) == [["Email address", "A"], ["carol@uni.example", "17"], ["zoe@uni.example", "17"]]
    by_idnumber = export(
        "moodle", batch, "--assignment-name", "A", "-o", "-", "--roster", roster, "--id-field", "idnumber"
    )
    assert [r[0] for r in _rows(by_idnumber.stdout)] == ["ID number", "1001", "1002"]


def test_a_canvas_roster_fills_every_identifier_column_and_the_section(tmp_path):
    batch = graded(tmp_path, CANVAS_FILE, "leeann_LATE_98766_4400_conv-layer.ipynb")
    roster = write(tmp_path / "roster.csv", CANVAS_ROSTER)
    result = export("canvas", batch, "--assignment-name", "A", "-o", "-", "--roster", roster)
    assert result.exit_code == 0 and result.stderr == ""
    assert _rows(result.stdout)[2:] == [
        ["Xu, Erin", "98765", "S-001", "exu", "Section A", "17"],
        ["Lee, Ann", "98766", "S-002", "alee", "Section A", "17"],  # one section is no clash
    ]


def test_students_the_roster_does_not_have_are_listed_one_line_each_and_left_out(tmp_path):
    batch = graded(tmp_path, CANVAS_FILE, "nobody_55555_1_conv-layer.ipynb", "alice@uni.example")
    roster = write(tmp_path / "roster.csv", CANVAS_ROSTER)
    result = export("canvas", batch, "--assignment-name", "A", "-o", "-", "--roster", roster)
    assert result.exit_code == 0
    assert [r[1] for r in _rows(result.stdout)[2:]] == ["98765"]
    assert result.stderr.splitlines() == [
        "grader: warning: nobody_55555_1_conv-layer: Canvas user 55555 is not in the roster",
        "grader: warning: alice@uni.example: no roster entry has the name 'alice@uni.example'",
    ]


def test_two_notebooks_of_one_student_are_both_left_out_and_named(tmp_path):
    batch = graded(tmp_path, CANVAS_FILE, "xuerin_98765_4500_conv-layer-1.ipynb", "leeann_98766_4400_x.ipynb")
    result = export("canvas", batch, "--assignment-name", "A", "-o", "-")
    assert [r[1] for r in _rows(result.stdout)[2:]] == ["98766"]
    assert result.stderr.splitlines() == [
        "grader: warning: ID 98765 is matched by xuerin_98765_4321_conv-layer and xuerin_98765_4500_conv-layer-1: "
        "none of them exported"
    ]
    roster = write(tmp_path / "roster.csv", CANVAS_ROSTER)
    with_roster = export("canvas", batch, "--assignment-name", "A", "-o", "-", "--roster", roster)
    assert with_roster.stderr.splitlines() == [
        "grader: warning: roster line 3 (Xu, Erin) is matched by xuerin_98765_4321_conv-layer and "
        "xuerin_98765_4500_conv-layer-1: none of them exported"
    ]


def test_gradescope_folders_are_read_through_their_metadata_and_groups_count_for_everyone(tmp_path):
    submissions = tmp_path / "export"
    submissions.mkdir()
    write(submissions / "submission_metadata.yml", GRADESCOPE_METADATA)
    batch = tmp_path / "graded"
    batch.mkdir()
    graded(batch, "submission_111", "submission_222")
    moodle = export("moodle", str(batch), "--assignment-name", "A", "-o", "-", "--submissions", str(submissions))
    assert moodle.exit_code == 0 and moodle.stderr == ""
    assert [r[0] for r in _rows(moodle.stdout)] == [
        "Email address",
        "carol@uni.example",
        "zoe@uni.example",
        "dan@uni.example",
    ]
    canvas = export("canvas", str(batch), "--assignment-name", "A", "-o", "-", "--submissions", str(submissions))
    assert [r[:3] for r in _rows(canvas.stdout)[2:]] == [["Carol Xu", "", "1001"], ["Zoë Brandt", "", "1002"]]
    assert canvas.stderr.splitlines() == [
        "grader: warning: submission_222: Gradescope submission 222 (Dan Ho): "
        "no ID / SIS User ID / SIS Login ID known; give --roster"
    ]
    without = export("moodle", str(batch), "--assignment-name", "A", "-o", "-")
    assert without.exit_code == 1 and "give --submissions with Gradescope's submission_metadata.yml" in without.stderr


def test_classroom_repositories_are_matched_on_the_rosters_github_username(tmp_path):
    batch = graded(tmp_path, "conv-layer-octocat", "conv-layer-mona")
    roster = write(
        tmp_path / "classroom.csv", "identifier,github_username,Email address\nC1,octocat,carol@uni.example\n"
    )
    args = ["--assignment-name", "A", "-o", "-", "--classroom-prefix", "conv-layer"]
    result = export("moodle", batch, *args, "--roster", roster)
    assert _rows(result.stdout) == [["Email address", "A"], ["carol@uni.example", "17"]]
    assert result.stderr.splitlines() == ["grader: warning: conv-layer-mona: GitHub user mona is not in the roster"]
    without = export("moodle", batch, *args)
    assert without.exit_code == 1
    assert "conv-layer-octocat: GitHub user octocat: no Email address known; give --roster" in without.stderr


def test_ids_in_no_known_format_beside_download_names_are_named_one_line_each(tmp_path):
    batch = graded(tmp_path, CANVAS_FILE, "alice")
    result = export("canvas", batch, "--assignment-name", "A", "-o", "-")
    assert result.stderr.splitlines() == [
        "grader: note: alice: not an LMS download name; goes into SIS Login ID as it is"
    ]
    assert [r[:4] for r in _rows(result.stdout)[2:]] == [
        ["xuerin_98765_4321_conv-layer", "98765", "", ""],
        ["alice", "", "", "alice"],
    ]


def test_ids_in_no_known_format_are_decoded_to_the_original_name(tmp_path):
    batch = graded(tmp_path, "carol x@uni.example")
    result = export("moodle", batch, "--assignment-name", "A", "-o", "-")
    assert _rows(result.stdout)[1] == ["carol x@uni.example", "17"]


def test_a_canvas_students_id_is_read_back_through_its_recorded_result(tmp_path):
    name = "xuerin_LATE_98765_4400_conv-layer-1.ipynb"
    (tmp_path / "grades.csv").write_text("student,total,max,percent,status\nxuerin_98765,17,20,85.0,ok\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "xuerin_98765.json").write_text(json.dumps({"submission": {"name": name}}))
    result = export("canvas", str(tmp_path), "--assignment-name", "A", "-o", "-")
    assert result.exit_code == 0 and result.stderr == ""
    assert _rows(result.stdout)[2] == ["xuerin_98765", "98765", "", "", "", "17"]


def test_a_shortened_id_is_read_back_through_its_recorded_result(tmp_path):
    name = "Александра Константиновна Петрова-Водкина_1234567_assignsubmission_file_"
    batch = graded(tmp_path, name)
    student = student_id(name)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{student}.json").write_text(json.dumps({"submission": {"name": name}}), encoding="utf-8")
    result = export("moodle", batch, "--assignment-name", "A", "-o", "-", "--id-field", "participant")
    assert "~" in student and _rows(result.stdout)[1][:2] == ["Participant 1234567", name.split("_")[0]]


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("Name,Score\nalice,3\n", "not a roster: no column of identifiers"),
        ("Email address\n", "the roster has no students"),
    ],
)
def test_a_roster_that_cannot_be_used_is_refused_with_one_line(tmp_path, content, complaint):
    roster = write(tmp_path / "roster.csv", content)
    result = export("canvas", graded(tmp_path, CANVAS_FILE), "--assignment-name", "A", "-o", "-", "--roster", roster)
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"grader: {roster}: {complaint}")


def test_unusable_gradescope_metadata_is_refused_with_one_line(tmp_path):
    metadata = write(tmp_path / "submission_metadata.yml", "- a list\n")
    result = export("moodle", graded(tmp_path, "submission_1"), "--assignment-name", "A", "--submissions", metadata)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "no submissions" in result.stderr


def test_the_plan_is_a_library_function_too(batch_dir):
    rows = read_gradebook(str(batch_dir))
    entries = parse_roster("Email address,ID\nalice@uni.example,11\nbob@uni.example,12\n")
    plan = plan_canvas(rows, lookup=Lookup(roster=entries), skip_errors=True)
    assert [(p.row.student, dict(p.ids)) for p in plan.placed] == [
        ("alice@uni.example", {"ID": "11"}),
        ("bob@uni.example", {"ID": "12"}),
    ]
    assert plan.considered == 2 and plan.unplaced == plan.clashes == plan.notes == []
    with pytest.raises(ExportError):
        plan_moodle(rows, id_field="name")


def test_each_member_of_a_gradescope_group_is_matched_in_the_roster(tmp_path):
    write(tmp_path / "submission_metadata.yml", GRADESCOPE_METADATA)
    batch = tmp_path / "graded"
    batch.mkdir()
    graded(batch, "submission_111")
    roster = write(tmp_path / "roster.csv", MOODLE_ROSTER)
    args = ["--assignment-name", "A", "-o", "-", "--submissions", str(tmp_path), "--roster", roster]
    result = export("moodle", str(batch), *args, "--id-field", "username")
    assert result.exit_code == 0 and result.stderr == ""
    assert _rows(result.stdout) == [["Username", "A"], ["cxu", "17"], ["zbrandt", "17"]]
    one_entry = write(
        tmp_path / "one.csv", "ID number,Email address,Username\n1001,carol@uni.example,cxu\n1002,zoe@uni.example,cxu\n"
    )
    same = export("moodle", str(batch), *args[:-1], one_entry, "--id-field", "username")
    assert _rows(same.stdout) == [["Username", "A"], ["cxu", "17"]]  # one row per LMS row, never two


def test_a_roster_entry_without_the_wanted_field_is_named(tmp_path):
    roster = write(
        tmp_path / "roster.csv", "Email address,Username,First name,Last name\ncarol@uni.example,,Carol,Xu\n"
    )
    batch = graded(tmp_path, MOODLE_FOLDER)
    result = export("moodle", batch, "--assignment-name", "A", "-o", "-", "--roster", roster, "--id-field", "username")
    assert result.exit_code == 1
    assert "Carol%20Xu_1234567_assignsubmission_file_: roster line 2 (Carol Xu) has no Username" in result.stderr


def test_canvas_ids_in_no_known_format_must_be_numbers(tmp_path):
    batch = graded(tmp_path, "alice", "12345")
    result = export("canvas", batch, "--assignment-name", "A", "-o", "-", "--id-column", "canvas-id")
    assert [r[1] for r in _rows(result.stdout)[2:]] == ["12345"]
    assert "alice: not a Canvas user id (a number)" in result.stderr


def test_a_gradescope_students_stable_id_is_read_back_through_its_recorded_folder(tmp_path):
    """With the export's metadata, `grader grade` names a Gradescope submission after its
    submitter (gradescope_<SID>, or the email without one); the export finds the folder name
    in the result and the people in the metadata, as for folder-named ids."""
    submissions = tmp_path / "export"
    submissions.mkdir()
    write(submissions / "submission_metadata.yml", GRADESCOPE_METADATA)
    batch = tmp_path / "graded"
    (batch / "results").mkdir(parents=True)
    ids = {"submission_111": "gradescope_1001", "submission_222": "gradescope_dan@uni.example"}
    rows = ["student,total,max,percent,status", *(f"{student},17,20,85.0,ok" for student in ids.values())]
    (batch / "grades.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for folder, student in ids.items():
        (batch / "results" / f"{student}.json").write_text(json.dumps({"submission": {"name": folder}}))
    moodle = export("moodle", str(batch), "--assignment-name", "A", "-o", "-", "--submissions", str(submissions))
    assert moodle.exit_code == 0 and moodle.stderr == ""
    assert sorted(r[0] for r in _rows(moodle.stdout)[1:]) == [
        "carol@uni.example",
        "dan@uni.example",
        "zoe@uni.example",
    ]
