"""The command line where no kernel is needed: help, version, flags, and every way to be refused.

The contract (README, grader/cli.py): exit 0 success, 1 something failed, 2 unusable input or
an internal error — always with a one-line reason on stderr and never a traceback. Nothing here
may start a kernel: the warm fork server is replaced by a recorder that fails the test if used.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from click.testing import CliRunner, Result

from grader import cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIMIT_FLAGS = ["--cell-timeout", "--timeout", "--memory-limit", "--output-limit"]


@pytest.fixture(autouse=True)
def no_kernel(monkeypatch):
    """Record any attempt to start the warm fork server (the thing that starts kernels)."""
    import grader.warm_parent

    started: list[tuple] = []

    def refuse(self, *args, **kwargs):
        started.append(args)
        raise RuntimeError("a unit test tried to start the fork server")

    monkeypatch.setattr(grader.warm_parent.ForkServer, "__init__", refuse)
    monkeypatch.setattr(grader.warm_parent.ForkServer, "close", lambda self: None)
    yield started
    assert started == [], "the command started a kernel server"


def grader_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.main, list(args), prog_name="grader", env=env)


def assert_refused(result: Result, *fragments: str) -> str:
    """Exit 2, one `grader: ...` line on stderr containing `fragments`, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grader: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def assert_usage_error(result: Result, *fragments: str) -> None:
    """Click's usage error: exit 2, `Error: ...` on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == "" and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: ")
    for fragment in fragments:
        assert fragment in error


@pytest.fixture
def not_json(tmp_path) -> str:
    path = tmp_path / "homework.ipynb"
    path.write_text("this is not JSON {", encoding="utf-8")
    return str(path)


@pytest.fixture
def empty_course(tmp_path) -> dict[str, str]:
    folder = tmp_path / "not-a-course"
    folder.mkdir()
    return {"D2L_GRADER_COURSE": str(folder)}


# ----------------------------------------------------------------------------- help, version
def _every_command() -> list[list[str]]:
    commands = [[name] for name in cli.COMMANDS]
    group = cli.main.get_command(None, "export")  # type: ignore[arg-type]
    commands += [["export", sub] for sub in group.list_commands(None)]  # type: ignore[union-attr, arg-type]
    return commands


def test_the_group_lists_every_command():
    result = grader_cli("--help")
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:", 1)[1].split()
    assert set(cli.COMMANDS) <= set(listed)


@pytest.mark.parametrize("command", _every_command(), ids=" ".join)
def test_every_command_has_help(command):
    result = grader_cli(*command, "--help")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"Usage: grader {' '.join(command)} ")
    target = cli.main
    for name in command:
        target = target.get_command(None, name)  # type: ignore[arg-type, union-attr, assignment]
    opening = (target.help or "").split()[:4]  # Click wraps (and hyphenates) the rest
    assert len(opening) == 4 and " ".join(opening) in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", ["check", "grade"])
def test_check_and_grade_offer_every_limit_flag_with_its_default(command):
    text = " ".join(grader_cli(command, "--help").stdout.split())
    for flag in LIMIT_FLAGS:
        assert flag in text
    assert "default: 4GiB" in text and "default: 1MiB" in text


def test_version_is_the_installed_distributions():
    result = grader_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"grader, version {importlib.metadata.version('d2l-grader')}\n"


def test_an_unknown_command_is_a_usage_error():
    assert_usage_error(grader_cli("frobnicate"), "No such command 'frobnicate'")


# ----------------------------------------------------------------------------- limit flags
BAD_LIMITS = [
    ("--cell-timeout", "0", "not in the range x>0"),
    ("--cell-timeout", "-5", "not in the range x>0"),
    ("--cell-timeout", "soon", "is not a valid float"),
    ("--cell-timeout", "nan", "is not a finite number of seconds"),  # was a ValueError traceback
    ("--timeout", "inf", "is not a finite number of seconds"),  # crashed the first cell
    ("--memory-limit", "lots", "is not a size"),
    ("--memory-limit", "0", "must be larger than zero"),
    ("--memory-limit", "9" * 400, "is too large"),  # was an OverflowError traceback
    ("--output-limit", "1.5XB", "is not a size"),
    ("--output-limit", "0.0001KiB", "must be larger than zero"),
]


@pytest.mark.parametrize("flag, value, reason", BAD_LIMITS)
def test_a_bad_limit_flag_of_check_is_a_usage_error(flag, value, reason, not_json):
    assert_usage_error(grader_cli("check", not_json, flag, value), f"Invalid value for '{flag}'", reason)


@pytest.mark.parametrize("flag, value, reason", BAD_LIMITS)
def test_a_bad_limit_flag_of_grade_is_a_usage_error(flag, value, reason, tmp_path, course):
    first = next(iter(course.assignments))
    result = grader_cli("grade", str(tmp_path), "--assignment", first, "--out", str(tmp_path / "o"), flag, value)
    assert_usage_error(result, f"Invalid value for '{flag}'", reason)


# ----------------------------------------------------------------------------- check
def test_check_of_a_missing_file_says_so_in_one_line(tmp_path):
    missing = str(tmp_path / "nowhere.ipynb")
    result = grader_cli("check", missing)
    assert assert_refused(result) == f"grader: {missing}: no such file"


def test_check_of_a_file_that_is_not_json_reports_it_and_exits_2(not_json):
    result = grader_cli("check", not_json)
    assert_refused(result, not_json, "not a notebook")
    report = " ".join(result.stdout.split())  # the text report wraps long lines wherever the path ends
    assert "not a notebook" in report and "Score: 0/0" in report  # the report is still printed


EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "examples", "submission.ipynb")


@pytest.mark.parametrize("kind", ["fifo", "folder", "missing", "empty", "text", "link", "hard-link"])
def test_check_refuses_what_is_not_a_notebook_file_without_warming_a_kernel(tmp_path, kind):
    """The warm parent starts before the notebook is fully read (a cold check's critical path):
    only for a regular file that opens a JSON object; never a FIFO (opening it would block).
    A link to a real notebook is refused with its reason (a committed link to the course's
    reference must not be graded)."""
    path = tmp_path / "nb.ipynb"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("\ufeff  notebook? no", encoding="utf-8")
    elif kind == "link":  # to a real notebook: links are refused, and never followed to warm a kernel
        path.symlink_to(EXAMPLE)
    elif kind == "hard-link":  # a second name of a real notebook's data
        shutil.copy(EXAMPLE, tmp_path / "original.ipynb")
        os.link(tmp_path / "original.ipynb", path)
    result = grader_cli("check", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    if kind == "link":
        assert f"{path} is a symbolic link: the grader never follows links" in result.output
    elif kind == "hard-link":
        assert f"{path} has 2 hard links" in result.output


def test_check_of_an_unreadable_file_still_counts_zero_of_the_assignments_total(not_json, course):
    rubric = next(iter(course.assignments.values()))
    result = grader_cli("check", not_json, "--assignment", rubric.id, "--format", "json")
    assert_refused(result, "not a notebook")
    data = json.loads(result.stdout)
    assert (data["assignment"], data["score"], data["max_score"], data["status"]) == (
        rubric.id,
        0,
        rubric.max_score,
        "error",
    )


def test_check_writes_every_requested_report_before_refusing_an_unusable_file(not_json, course, tmp_path):
    rubric = next(iter(course.assignments.values()))
    junit, gradescope = tmp_path / "out" / "junit.xml", tmp_path / "results.json"
    result = grader_cli(
        "check",
        not_json,
        "--assignment",
        rubric.id,
        "--format",
        "gradescope",
        "--output",
        str(gradescope),
        "--report",
        f"junit={junit}",
        "--exit-zero",
    )
    assert_refused(result, "not a notebook")  # --exit-zero forgives failed checks, not unusable input
    assert result.stdout == ""
    assert json.loads(gradescope.read_text(encoding="utf-8"))["tests"][0]["max_score"] == rubric.max_score
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert (props["score"], props["max_score"]) == ("0", f"{rubric.max_score:g}")


def test_check_that_cannot_write_its_output_says_so_in_one_line(not_json, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = grader_cli("check", not_json, "--output", str(blocker / "report.txt"))
    assert_refused(result, f"cannot write {blocker / 'report.txt'}")


def test_check_of_an_unknown_assignment_names_every_known_one(not_json, course):
    line = assert_refused(grader_cli("check", not_json, "--assignment", "nosuch"), "unknown assignment 'nosuch'")
    assert line.endswith("known: " + ", ".join(course.assignments))


def test_check_of_a_folder_is_a_usage_error(tmp_path):
    assert_usage_error(grader_cli("check", str(tmp_path)), "is a directory")


def test_check_rejects_an_unknown_format(not_json):
    assert_usage_error(grader_cli("check", not_json, "--format", "pdf"), "Invalid value for '--format'")


# ----------------------------------------------------------------------------- grade
def test_grade_of_a_missing_folder_says_so_in_one_line(tmp_path, course):
    missing = tmp_path / "submissions"
    first = next(iter(course.assignments))
    result = grader_cli("grade", str(missing), "--assignment", first, "--out", str(tmp_path / "out"))
    assert assert_refused(result) == f"grader: {missing}: no such folder"
    assert not (tmp_path / "out").exists()


def test_grade_of_an_unknown_assignment_names_every_known_one(tmp_path, course):
    result = grader_cli("grade", str(tmp_path / "none"), "--assignment", "nosuch", "--out", str(tmp_path / "out"))
    line = assert_refused(result, "unknown assignment 'nosuch'")
    assert line.endswith("known: " + ", ".join(course.assignments))


@pytest.mark.parametrize("missing", ["--assignment", "--out"])
def test_grade_needs_an_assignment_and_an_output_folder(missing, tmp_path, course):
    args = {"--assignment": next(iter(course.assignments)), "--out": str(tmp_path / "out")}
    del args[missing]
    flat = [x for pair in args.items() for x in pair]
    assert_usage_error(grader_cli("grade", str(tmp_path), *flat), f"Missing option '{missing}'")


def test_grade_refuses_zero_jobs(tmp_path, course):
    result = grader_cli("grade", str(tmp_path), "--assignment", next(iter(course.assignments)), "--out", "o", "-j", "0")
    assert_usage_error(result, "Invalid value for '-j' / '--jobs'")


# ----------------------------------------------------------------------------- list
def test_list_shows_the_course_title_and_every_assignment_with_its_exercises(course):
    result = grader_cli("list")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    numbering = f" ({course.numbering})" if course.numbering else ""
    assert lines[0] == f"# {course.title}{numbering}"
    listed = [line.split()[0] for line in lines if line and not line.startswith((" ", "#"))]
    assert listed == list(course.assignments)
    for rubric in course.assignments.values():
        start = lines.index(f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points")
        shown = {
            line.split()[0]: float(line.split()[1]) for line in lines[start + 1 : start + 1 + len(rubric.exercises)]
        }
        assert shown == {e.id: sum(c.points for c in rubric.checks if c.exercise == e.id) for e in rubric.exercises}


def test_list_heads_each_chapter_with_its_title(course):
    lines = grader_cli("list").stdout.splitlines()
    chapters = {r.section.split(".")[0] for r in course.assignments.values()}
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [f"## {n} {course.chapters.get(n, '')}".rstrip() for n in sorted(chapters, key=int)]


def test_list_reports_a_rubric_that_does_not_load_and_exits_1(tmp_path):
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "broken.toml").write_text("[assignment\nid = ", encoding="utf-8")
    result = grader_cli("list", env={"D2L_GRADER_COURSE": str(tmp_path)})
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("grader: rubric not loaded:") and "broken.toml" in line


# ----------------------------------------------------------------------------- a wrong course
@pytest.mark.parametrize("command", [["list"], ["check", "{nb}"], ["verify"], ["build-notebooks"]])
def test_a_folder_that_is_not_a_course_is_refused_in_one_line(command, empty_course, not_json):
    args = [a.replace("{nb}", not_json) for a in command]
    result = grader_cli(*args, env=empty_course)
    assert_refused(result, f"D2L_GRADER_COURSE={empty_course['D2L_GRADER_COURSE']}", "not a course folder")


def test_a_course_folder_that_does_not_exist_is_refused_in_one_line(tmp_path):
    result = grader_cli("list", env={"D2L_GRADER_COURSE": str(tmp_path / "gone")})
    assert_refused(result, "not a course folder")


# ----------------------------------------------------------------------------- schema
@pytest.fixture(scope="module")
def rubric_schema() -> dict:
    result = CliRunner().invoke(cli.main, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


def test_schema_is_a_json_schema_every_course_rubric_satisfies(rubric_schema, course):
    validator = jsonschema.validators.validator_for(rubric_schema)(rubric_schema)
    assert course.assignments
    for rubric in course.assignments.values():
        with open(rubric.path, "rb") as f:
            data = tomllib.load(f)
        assert [e.message for e in validator.iter_errors(data)] == [], rubric.path


def test_schema_rejects_a_rubric_with_an_unknown_key(rubric_schema, course):
    rubric = next(iter(course.assignments.values()))
    with open(rubric.path, "rb") as f:
        data = tomllib.load(f)
    data["assignment"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, rubric_schema)


def test_schema_output_writes_the_same_schema_to_a_file(rubric_schema, tmp_path):
    target = tmp_path / "schemas" / "rubric.schema.json"
    result = grader_cli("schema", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == rubric_schema


# ----------------------------------------------------------------------------- export (error paths)
GRADEBOOK = "student,total,max,percent,status\nalice@uni.example,3,4,75.0,ok\n"


def test_export_of_a_gradebook_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    (tmp_path / "grades.csv").write_bytes(b"student,total\n\xff\xfe\x80 binary\n")
    result = grader_cli("export", "canvas", str(tmp_path), "--assignment-name", "A")  # was a UnicodeDecodeError
    assert_refused(result, "grades.csv", "not UTF-8 text")


def test_export_of_a_csv_the_reader_cannot_parse_is_refused_in_one_line(tmp_path):
    (tmp_path / "grades.csv").write_text(
        'student,total,max,percent,status\n"' + "x" * 200_000 + ",1,2,50,ok\n", encoding="utf-8"
    )
    result = grader_cli("export", "moodle", str(tmp_path), "--assignment-name", "A")  # was a csv.Error
    assert_refused(result, "grades.csv", "not a gradebook")


def test_export_of_a_folder_without_a_gradebook_names_the_file_it_looked_for(tmp_path):
    result = grader_cli("export", "moodle", str(tmp_path), "--assignment-name", "A")
    assert_refused(result, str(tmp_path / "grades.csv"))


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_export_of_a_path_that_does_not_exist_is_a_usage_error(lms, tmp_path):
    result = grader_cli("export", lms, str(tmp_path / "nope.csv"), "--assignment-name", "A")
    assert_usage_error(result, "does not exist")


@pytest.mark.parametrize("lms", ["canvas", "moodle"])
def test_export_needs_the_assignment_name(lms, tmp_path):
    (tmp_path / "grades.csv").write_text(GRADEBOOK, encoding="utf-8")
    assert_usage_error(grader_cli("export", lms, str(tmp_path)), "Missing option '--assignment-name'")


@pytest.mark.parametrize(
    "args, flag",
    [(["canvas", "--id-column", "name"], "--id-column"), (["moodle", "--id-field", "phone"], "--id-field")],
)
def test_export_refuses_an_identifier_it_does_not_know(args, flag, tmp_path):
    (tmp_path / "grades.csv").write_text(GRADEBOOK, encoding="utf-8")
    result = grader_cli("export", args[0], str(tmp_path), "--assignment-name", "A", *args[1:])
    assert_usage_error(result, f"Invalid value for '{flag}'")


def test_export_that_cannot_write_its_file_says_so_in_one_line(tmp_path):
    (tmp_path / "grades.csv").write_text(GRADEBOOK, encoding="utf-8")
    target = tmp_path / "grades.csv" / "canvas.csv"  # below a file: cannot exist
    result = grader_cli("export", "canvas", str(tmp_path), "--assignment-name", "A", "-o", str(target))
    assert_refused(result, f"cannot write {target}")
    assert sorted(os.listdir(tmp_path)) == ["grades.csv"]  # and leaves nothing half-written
