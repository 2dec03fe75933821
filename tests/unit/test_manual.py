"""Marks for free-text answers: the store (manual.json), the gradebook's manual columns, the
spreadsheet round trip (`grader manual export|import`) and the review page's server.

The batch folders are built from GradeResult objects written as `grader grade` writes them,
for the course's "conv-layer" (its [[manual]] items, however many the rubric has). The course
gives those items 0 points, so a copy of the course whose items are worth 2 points each is used
wherever points are given.
"""

from __future__ import annotations

import csv
import dataclasses
import http.client
import io
import json
import os
import re
import shutil
import threading

import pytest
from click.testing import CliRunner

from grader import cli
from grader.batch import BatchRecord, BatchWriter
from grader.course import load_course
from grader.export import read_gradebook
from grader.manual import GradedBatch, ManualError, Marks, export_csv, import_csv, read_marks
from grader.results import PASSED, CheckResult, GradeResult, ManualItem, NotebookError
from grader.review import ReviewServer

HOSTILE = "</textarea><script>alert('x')</script> \"quoted\" & <b>bold</b>"
ITEM_POINTS = 2.0


def scored_course(root) -> str:
    """A copy of the course whose [[manual]] items in conv-layer are worth ITEM_POINTS each."""
    original = load_course()
    source = original.root
    for folder in ("rubrics", "reference"):
        shutil.copytree(os.path.join(source, folder), os.path.join(root, folder))
    if os.path.exists(os.path.join(source, "course.toml")):
        shutil.copy(os.path.join(source, "course.toml"), root)
    path = os.path.join(root, "rubrics", "conv-layer.toml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text, count = re.subn(r"(\[\[manual\]\]\n(?:[a-z]+ = .*\n)*)", rf"\1points = {ITEM_POINTS:g}\n", text)
    assert count == len(original.get("conv-layer").manual)  # every item, whatever their number
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(root)


def write_batch(out, rubric, answers: dict[str, dict[str, str]], failing: dict[str, set[str]] | None = None) -> None:
    """OUT_DIR/results/<student>.json for each student, as `grader grade` leaves them."""
    os.makedirs(os.path.join(out, "results"), exist_ok=True)
    for student, texts in answers.items():
        wrong = (failing or {}).get(student, set())
        checks = [
            CheckResult(
                c.id,
                c.exercise,
                0.0 if c.id in wrong else c.points,
                c.points,
                "failed" if c.id in wrong else PASSED,
                c.hidden,
            )
            for c in rubric.checks
        ]
        manual = [ManualItem(m.id, m.exercise, m.prompt, texts.get(m.id, ""), m.points) for m in rubric.manual]
        result = GradeResult(rubric.id, f"{student}.ipynb", rubric.max_score, checks=checks, manual=manual)
        record = BatchRecord(student, result, "sha-" + student, "rubric-sha", name=f"{student}.ipynb")
        with open(os.path.join(out, "results", student + ".json"), "w", encoding="utf-8") as f:
            f.write(record.to_json())


@pytest.fixture(scope="module")
def course_root(tmp_path_factory) -> str:
    return scored_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def rubric(course_root):
    return load_course(course_root).get("conv-layer")


@pytest.fixture
def out(tmp_path, rubric):
    folder = tmp_path / "graded"
    write_batch(
        folder,
        rubric,
        {
            "alice": {"ex1-observations": "It finds the diagonal.", "ex3-form": "Banded."},
            "bob": {"ex1-observations": HOSTILE},
            "carol": {},
        },
        failing={"bob": {rubric.checks[0].id}},
    )
    return folder


@pytest.fixture
def batch(out, rubric) -> GradedBatch:
    return GradedBatch.open(str(out), rubric)


def gradebook_header(out, batch: GradedBatch) -> list[str]:
    batch.write_gradebook()
    with open(os.path.join(out, "grades.csv"), encoding="utf-8") as f:
        return next(csv.reader(f))


def gradebook(out) -> dict[str, dict[str, str]]:
    with open(os.path.join(out, "grades.csv"), encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


# ----------------------------------------------------------------------------- the store
def test_a_mark_is_written_to_manual_json_and_read_back(batch, out):
    batch.set_mark("alice", "ex1-observations", 1.5, "  Good, but say why.  ")
    data = json.loads((out / "manual.json").read_text(encoding="utf-8"))
    assert data == {
        "schema_version": 1,
        "assignment": "conv-layer",
        "marks": {"alice": {"ex1-observations": {"points": 1.5, "comment": "Good, but say why."}}},
    }
    again = GradedBatch.open(str(out), batch.rubric)
    assert again.marks.get("alice", "ex1-observations").points == 1.5
    assert [p for p in os.listdir(out) if p.startswith(".grader-")] == []  # written aside, then renamed


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        (-0.5, "between 0 and 2"),
        (2.5, "between 0 and 2"),
        (float("nan"), "not a number"),
        (float("inf"), "not a number"),
        ("lots", "not a number"),
        (True, "not a number"),
        ([1], "not a number"),
    ],
)
def test_points_outside_zero_to_the_items_worth_are_refused_and_nothing_is_written(batch, out, points, reason):
    with pytest.raises(ManualError, match=reason):
        batch.set_mark("alice", "ex1-observations", points, "")
    assert not (out / "manual.json").exists() and not (out / "grades.csv").exists()


def test_points_as_text_accept_a_decimal_comma_and_empty_means_not_marked(batch):
    assert batch.set_mark("alice", "ex1-observations", " 1,5 ").points == 1.5
    assert batch.set_mark("alice", "ex1-observations", "", "see me").points is None
    assert batch.marks.get("alice", "ex1-observations").comment == "see me"


def test_an_unknown_student_or_item_is_a_one_line_error_naming_it(batch):
    with pytest.raises(ManualError, match="no student 'zed'"):
        batch.set_mark("zed", "ex1-observations", 1)
    with pytest.raises(ManualError, match=r"no free-text item 'ex9' in 'conv-layer' \(its items: ex1-observations"):
        batch.set_mark("alice", "ex9", 1)


def test_an_empty_mark_removes_the_entry(batch, out):
    batch.set_mark("alice", "ex1-observations", 2, "fine")
    batch.set_mark("alice", "ex1-observations", None, "")
    assert json.loads((out / "manual.json").read_text())["marks"] == {}


def test_an_item_the_rubric_gives_no_points_takes_comments_only(tmp_path, rubrics):
    rubric = rubrics["conv-layer"]  # the course as shipped: its free-text items are worth 0
    write_batch(tmp_path, rubric, {"alice": {"ex1-observations": "x"}})
    batch = GradedBatch.open(str(tmp_path), rubric)
    with pytest.raises(ManualError, match="worth 0 points in the rubric"):
        batch.set_mark("alice", "ex1-observations", 1)
    assert batch.set_mark("alice", "ex1-observations", 0, "a comment").comment == "a comment"


def test_the_rubric_comes_from_the_course_the_results_name(out, course_root, monkeypatch):
    monkeypatch.setenv("D2L_GRADER_COURSE", course_root)
    batch = GradedBatch.open(str(out))
    assert batch.rubric.id == "conv-layer" and batch.students == ["alice", "bob", "carol"]
    assert batch.answer("bob", "ex1-observations") == HOSTILE and batch.answer("carol", "ex3-form") == ""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not a marks file"),
        (
            '{"schema_version": 1, "assignment": "conv-layer", "marks": {"alice": {"ex1-observations": 3}}}',
            "is not {points, comment}",
        ),
        ('{"schema_version": 7, "assignment": "conv-layer", "marks": {}}', "schema version 7"),
        ('{"schema_version": 1, "assignment": "pooling", "marks": {}}', "holds marks for assignment 'pooling'"),
    ],
)
def test_a_damaged_or_foreign_manual_json_is_refused_in_one_line(out, rubric, content, reason):
    (out / "manual.json").write_text(content, encoding="utf-8")
    with pytest.raises(ManualError, match=reason) as info:
        GradedBatch.open(str(out), rubric)
    assert "\n" not in str(info.value) and "manual.json" in str(info.value)


def test_a_folder_without_results_says_what_it_expected(tmp_path, rubric):
    with pytest.raises(ManualError, match="no results/ folder"):
        GradedBatch.open(str(tmp_path), rubric)
    (tmp_path / "results").mkdir()
    with pytest.raises(ManualError, match="run `grader grade` first"):
        GradedBatch.open(str(tmp_path), rubric)


def test_saves_from_many_threads_at_once_are_all_kept(batch, out):
    students, items = batch.students, [m.id for m in batch.items]
    pairs = [(s, i) for s in students for i in items]
    threads = [threading.Thread(target=batch.set_mark, args=(s, i, 1, f"{s}/{i}")) for s, i in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = read_marks(str(out))
    assert stored is not None
    assert {(s, i): m.comment for s, items in stored.marks.items() for i, m in items.items()} == {
        (s, i): f"{s}/{i}" for s, i in pairs
    }


# ----------------------------------------------------------------------------- grades.csv
def test_the_gradebook_has_a_column_per_item_and_totals_that_include_the_marks(batch, out, rubric):
    batch.set_mark("alice", "ex1-observations", 1.5)
    batch.set_mark("bob", "ex3-form", 2, "ok")
    batch.set_mark("bob", "ex2-explanation", None, "only a comment")
    rows = gradebook(out)
    with open(out / "grades.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    manual_columns = [column for m in rubric.manual for column in (f"manual:{m.id}", f"manual:{m.id}:comment")]
    assert header == ["student", *(c.id for c in rubric.checks), *manual_columns, "total", "max", "percent", "status"]
    full = rubric.max_score + len(rubric.manual) * ITEM_POINTS
    first = rubric.checks[0]
    assert rows["alice"]["manual:ex1-observations"] == "1.5" and rows["alice"]["manual:ex3-form"] == ""
    assert (rows["alice"]["total"], rows["alice"]["max"]) == (f"{rubric.max_score + 1.5:g}", f"{full:g}")
    assert rows["bob"]["manual:ex2-explanation"] == ""  # a comment alone is not a mark
    assert rows["bob"]["manual:ex2-explanation:comment"] == "only a comment"
    assert rows["bob"]["manual:ex3-form:comment"] == "ok" and rows["alice"]["manual:ex1-observations:comment"] == ""
    assert rows["bob"]["total"] == f"{rubric.max_score - first.points + 2:g}"
    assert rows["carol"]["percent"] == f"{100 * rubric.max_score / full:.1f}"
    exported = {r.student: (r.total, r.max) for r in read_gradebook(str(out))}  # what the LMS exports read
    assert exported["alice"] == (rubric.max_score + 1.5, full)


def test_marks_survive_a_regrade_and_its_gradebook_includes_them(batch, out, rubric):
    batch.set_mark("alice", "ex1-observations", 2, "kept")
    before = (out / "manual.json").read_bytes()
    writer = BatchWriter(str(out), rubric)  # what `grader grade` does to the folder again
    for record in batch.records.values():
        writer.write_result(record)
    writer.write_gradebook(batch.records[s] for s in batch.students)
    assert (out / "manual.json").read_bytes() == before
    assert gradebook(out)["alice"]["manual:ex1-observations"] == "2"


def test_a_student_graded_again_while_marking_keeps_the_new_result_in_the_gradebook(batch, out, rubric):
    write_batch(out, rubric, {"bob": {}})  # `grader grade --student bob` meanwhile: bob passes everything now
    batch.set_mark("alice", "ex1-observations", 1)
    assert gradebook(out)["bob"]["total"] == f"{rubric.max_score:g}"


def result_file(out, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text(encoding="utf-8"))


def test_a_saved_mark_is_copied_into_that_students_results_file_only(batch, out):
    before = result_file(out, "alice")
    batch.set_mark("alice", "ex1-observations", 1.5, "Say why.")
    after = result_file(out, "alice")
    assert after["marks"] == {"ex1-observations": {"points": 1.5, "comment": "Say why."}}
    assert {k: v for k, v in after.items() if k != "marks"} == {k: v for k, v in before.items() if k != "marks"}
    assert result_file(out, "bob").get("marks", {}) == {}
    batch.set_mark("alice", "ex1-observations", None, "")  # a mark taken back leaves no copy behind
    assert "marks" not in result_file(out, "alice")


def test_a_student_graded_again_gets_their_marks_back_in_the_results_file(batch, out, rubric):
    batch.set_mark("alice", "ex1-observations", 2, "kept")
    write_batch(out, rubric, {"alice": {}})  # `grader grade` writes alice's result anew, without marks
    assert "marks" not in result_file(out, "alice")
    records = GradedBatch.open(str(out), rubric).records
    BatchWriter(str(out), rubric).write_gradebook(records[s] for s in sorted(records))
    assert result_file(out, "alice")["marks"] == {"ex1-observations": {"points": 2.0, "comment": "kept"}}
    assert GradedBatch.open(str(out), rubric).records["alice"].marks["ex1-observations"]["comment"] == "kept"


def test_a_regrade_into_a_folder_with_marks_of_another_assignment_is_refused(out, rubric):
    (out / "manual.json").write_text(Marks("pooling").to_json(), encoding="utf-8")
    with pytest.raises(ManualError, match="grade each assignment into its own folder"):
        BatchWriter(str(out), rubric).write_gradebook([])


# ----------------------------------------------------------------------------- CSV exchange
def read_rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_export_writes_one_csv_per_item_with_every_answer_and_mark(batch, out, rubric):
    batch.set_mark("alice", "ex1-observations", 1, "good")
    paths = export_csv(batch)
    assert sorted(os.listdir(out / "manual")) == sorted(f"{m.id}.csv" for m in rubric.manual)
    rows = read_rows(out / "manual" / "ex1-observations.csv")
    assert [r["student"] for r in rows] == ["alice", "bob", "carol"]
    assert rows[0] | {"prompt": ""} == {
        "student": "alice",
        "item": "ex1-observations",
        "max": "2",
        "prompt": "",
        "answer": "It finds the diagonal.",
        "points": "1",
        "comment": "good",
    }
    assert rows[1]["answer"] == HOSTILE and rows[2]["answer"] == "" and len(paths) == len(rubric.manual)
    assert (out / "manual" / "ex1-observations.csv").read_bytes().startswith(b"\xef\xbb\xbfstudent,")  # Excel: UTF-8


def test_export_keeps_a_formula_like_answer_from_running_in_a_spreadsheet(tmp_path, rubric):
    write_batch(tmp_path, rubric, {"eve": {"ex1-observations": '=HYPERLINK("http://x","y")'}})
    export_csv(GradedBatch.open(str(tmp_path), rubric))
    (row,) = read_rows(tmp_path / "manual" / "ex1-observations.csv")
    assert row["answer"] == "'" + '=HYPERLINK("http://x","y")'


def test_export_then_import_round_trips_marks_and_rewrites_the_gradebook(batch, out):
    export_csv(batch)
    path = out / "manual" / "ex3-form.csv"
    rows = read_rows(path)
    rows[0].update(points="2", comment="Exactly: banded,\nwith a line break")
    rows[1].update(points="0.5")
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert import_csv(batch, [str(path)]) == 2
    stored = read_marks(str(out))
    assert stored is not None
    assert stored.get("alice", "ex3-form").comment == "Exactly: banded,\nwith a line break"
    assert stored.get("bob", "ex3-form").points == 0.5 and stored.get("carol", "ex3-form") is None
    assert gradebook(out)["alice"]["manual:ex3-form"] == "2"


def write_csv(path, rows: list[list[str]]) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["student", "item", "answer", "points", "comment"], *rows])
    return str(path)


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (["bob", "ex1-observations", "", "3", ""], "between 0 and 2, got 3"),
        (["zed", "ex1-observations", "", "1", ""], "no student 'zed'"),
        (["bob", "ex9", "", "1", ""], "no free-text item 'ex9'"),
        (["bob", "ex1-observations", "", "one", ""], "points 'one' is not a number"),
    ],
)
def test_a_bad_row_names_its_file_and_line_and_nothing_is_merged(batch, out, tmp_path, bad_row, reason):
    batch.set_mark("carol", "ex1-observations", 1, "before")
    before = (out / "manual.json").read_bytes()
    good = write_csv(tmp_path / "good.csv", [["alice", "ex1-observations", "", "2", ""]])
    bad = write_csv(
        tmp_path / "bad.csv",
        [["alice", "ex3-form", "a\nmulti-line\nanswer", "1", ""], ["carol", "ex3-form", "", "", ""], bad_row],
    )
    with pytest.raises(ManualError) as info:
        import_csv(batch, [good, bad])
    assert str(info.value) == f"{bad}, line 6: " + str(info.value).split(": ", 1)[1]  # the row after a 3-line one
    assert reason in str(info.value)
    assert (out / "manual.json").read_bytes() == before


def test_the_same_answer_marked_twice_across_files_is_refused(batch, tmp_path):
    one = write_csv(tmp_path / "one.csv", [["alice", "ex1-observations", "", "2", ""]])
    two = write_csv(tmp_path / "two.csv", [["alice", "ex1-observations", "", "1", ""]])
    with pytest.raises(
        ManualError, match=r"two.csv, line 2: 'alice' 'ex1-observations' is already marked at .*one.csv, line 2"
    ):
        import_csv(batch, [one, two])


def test_a_csv_without_the_mark_columns_is_refused(batch, tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("student,total\nalice,3\n", encoding="utf-8")
    with pytest.raises(ManualError, match=r"not a marks file \(missing column\(s\) item, points, comment\)"):
        import_csv(batch, [str(path)])


# ----------------------------------------------------------------------------- the commands
def grader_cli(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli.main, list(args), prog_name="grader", env=env)


def test_manual_export_and_import_commands_round_trip(out, course_root, rubric):
    env = {"D2L_GRADER_COURSE": course_root}
    result = grader_cli("manual", "export", str(out), env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("wrote ") == len(rubric.manual)  # a file per item
    path = out / "manual" / "ex1-observations.csv"
    rows = read_rows(path)
    rows[1].update(points="1.5", comment="Good")
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = grader_cli("manual", "import", str(path), env=env)  # the folder is found from the file's place
    assert result.exit_code == 0, result.output
    assert "imported 1 mark(s)" in result.stdout
    assert gradebook(out)["bob"]["manual:ex1-observations"] == "1.5"


def test_manual_import_of_a_bad_row_exits_2_with_one_line(out, course_root, tmp_path):
    bad = write_csv(tmp_path / "marks.csv", [["alice", "ex1-observations", "", "9", ""]])
    result = grader_cli("manual", "import", bad, "--out", str(out), env={"D2L_GRADER_COURSE": course_root})
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == f"grader: {bad}, line 2: points for 'ex1-observations' must be between 0 and 2, got 9"
    )
    assert not (out / "manual.json").exists()


def test_manual_import_of_a_file_from_elsewhere_asks_for_the_folder(tmp_path, course_root):
    loose = write_csv(tmp_path / "marks.csv", [])
    result = grader_cli("manual", "import", loose, env={"D2L_GRADER_COURSE": course_root})
    assert result.exit_code == 2 and "give its folder with --out DIR" in result.stderr


def test_review_of_a_folder_that_is_not_a_batch_exits_2(tmp_path, course_root):
    result = grader_cli("review", str(tmp_path), "--no-browser", env={"D2L_GRADER_COURSE": course_root})
    assert result.exit_code == 2 and result.stderr.startswith("grader: ") and "no results/ folder" in result.stderr


# ----------------------------------------------------------------------------- the review server
@pytest.fixture
def server(batch):
    server = ReviewServer(batch)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.close()


def request(server, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{server.port}", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def post_mark(server, payload: dict, headers: dict[str, str] | None = None):
    body = json.dumps(payload).encode()
    return request(
        server, "POST", f"/{server.token}/mark", body, {"Content-Type": "application/json", **(headers or {})}
    )


def test_the_page_is_served_only_with_the_token_and_carries_no_student_data(server):
    response, page = request(server, "GET", f"/{server.token}/")
    assert response.status == 200
    csp = response.getheader("Content-Security-Policy")
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.count(f'nonce="{nonce}"'.encode()) == 2  # the page's own style and script, and nothing else
    assert b"{{nonce}}" not in page and b"<script>alert" not in page and b"alice" not in page
    assert b"innerHTML" not in page and b"insertAdjacentHTML" not in page and b"document.write" not in page
    assert response.getheader("Referrer-Policy") == "no-referrer" and response.getheader("Cache-Control") == "no-store"
    for path in ("/", "/state", f"/{server.token[:-1]}x/", f"/{server.token[:-1]}x/state"):
        assert request(server, "GET", path)[0].status == 404


def test_state_carries_hostile_answers_as_json_strings(server):
    response, data = request(server, "GET", f"/{server.token}/state")
    assert response.status == 200 and response.getheader("Content-Type").startswith("application/json")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    state = json.loads(data)
    assert state["students"] == ["alice", "bob", "carol"]
    assert state["answers"]["ex1-observations"][1] == HOSTILE
    assert (state["items"][0]["id"], state["items"][0]["max"]) == ("ex1-observations", ITEM_POINTS)


@pytest.mark.parametrize("host", ["evil.example:80", "attacker.test", "127.0.0.1", "localhost:1"])
def test_a_request_for_another_host_name_is_refused(server, host):
    """DNS rebinding: a name the attacker controls, pointed at 127.0.0.1, must not reach the page."""
    for method, path in (("GET", f"/{server.token}/state"), ("POST", f"/{server.token}/mark")):
        response, _ = request(server, method, path, b"{}", {"Host": host, "Content-Type": "application/json"})
        assert response.status == 403


def test_a_posted_mark_is_saved_and_the_reply_has_the_new_total(server, batch, out):
    response, data = post_mark(server, {"student": "bob", "item": "ex1-observations", "points": "1.5", "comment": "ok"})
    assert response.status == 200, data
    reply = json.loads(data)
    assert (
        reply["mark"] == {"points": 1.5, "comment": "ok"}
        and reply["max"] == batch.rubric.max_score + len(batch.rubric.manual) * ITEM_POINTS
    )
    assert read_marks(str(out)).get("bob", "ex1-observations").points == 1.5
    _, state = request(server, "GET", f"/{server.token}/state")
    assert json.loads(state)["marks"]["bob"]["ex1-observations"] == {"points": 1.5, "comment": "ok"}


@pytest.mark.parametrize(
    ("path", "payload", "headers", "status"),
    [
        ("/{token}/mark", {"student": "bob", "item": "ex1-observations", "points": 5}, {}, 400),
        ("/{token}/mark", {"student": "bob"}, {}, 400),
        (
            "/{token}/mark",
            {"student": "bob", "item": "ex1-observations", "points": 1},
            {"Origin": "http://evil.example"},
            403,
        ),
        (
            "/{token}/mark",
            {"student": "bob", "item": "ex1-observations", "points": 1},
            {"Content-Type": "text/plain"},
            415,
        ),
        ("/wrong/mark", {"student": "bob", "item": "ex1-observations", "points": 1}, {}, 404),
        ("/mark", {"student": "bob", "item": "ex1-observations", "points": 1}, {}, 404),
    ],
)
def test_a_bad_or_foreign_post_stores_nothing(server, out, path, payload, headers, status):
    body = json.dumps(payload).encode()
    response, data = request(
        server, "POST", path.format(token=server.token), body, {"Content-Type": "application/json", **headers}
    )
    assert response.status == status
    if status == 400:
        assert json.loads(data)["error"]
    assert not (out / "manual.json").exists()


def test_an_oversized_post_is_refused_before_it_is_read(server, out):
    response, _ = request(
        server,
        "POST",
        f"/{server.token}/mark",
        b"x",
        {"Content-Type": "application/json", "Content-Length": str(10**9)},
    )
    assert response.status == 413 and not (out / "manual.json").exists()


def test_an_assignment_without_free_text_items_exports_nothing(tmp_path, rubric):
    bare = dataclasses.replace(rubric, manual=[])
    write_batch(tmp_path, bare, {"alice": {}})
    batch = GradedBatch.open(str(tmp_path), bare)
    assert batch.items == [] and export_csv(batch) == []
    assert gradebook_header(tmp_path, batch) == [
        "student",
        *(c.id for c in bare.checks),
        "total",
        "max",
        "percent",
        "status",
    ]


def test_gradebook_render_keeps_working_without_marks(rubric, batch):
    from grader.reporters import gradebook as book

    rows = list(csv.DictReader(io.StringIO(book.render_csv(rubric, batch.records.values()))))
    assert [r["manual:ex1-observations"] for r in rows] == ["", "", ""]
    assert {r["max"] for r in rows} == {f"{rubric.max_score + len(rubric.manual) * ITEM_POINTS:g}"}


def test_an_unreadable_result_is_named_rather_than_left_out_of_the_gradebook(out, rubric):
    (out / "results" / "dan.json").write_text("{", encoding="utf-8")
    with pytest.raises(ManualError, match=r"dan.json: unreadable result"):
        GradedBatch.open(str(out), rubric)


def test_notebook_errors_do_not_stop_marking(tmp_path, rubric):
    write_batch(tmp_path, rubric, {"hal": {}})
    path = tmp_path / "results" / "hal.json"
    data = json.loads(path.read_text())
    data["errors"] = [NotebookError("invalid-notebook", "not a notebook").to_dict()]
    data["checks"] = []
    path.write_text(json.dumps(data))
    batch = GradedBatch.open(str(tmp_path), rubric)
    batch.set_mark("hal", "ex1-observations", 0, "nothing to read")
    assert gradebook(tmp_path)["hal"]["status"] == "error"
