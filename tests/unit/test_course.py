"""The course: each rubric loads on its own, so one broken rubric never stops the others;
course.toml is validated; the course folder is found or refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.course import COURSE_ENV, CourseError, UnknownAssignment, load_course, section_key


@pytest.fixture
def root(tmp_path: Path, course) -> Path:
    """A copy of the real course (rubrics/, reference/, course.toml; notebooks left out)."""
    skip = shutil.ignore_patterns("*.ipynb", "__pycache__")
    for folder in ("rubrics", "reference"):
        shutil.copytree(Path(course.root) / folder, tmp_path / folder, ignore=skip)
    shutil.copy(Path(course.root) / "course.toml", tmp_path / "course.toml")
    return tmp_path


def write_rubric(root: Path, file: str, id: str, section: str) -> None:
    (root / "reference" / "tiny.py").write_text("def f(x):\n    return x\n", encoding="utf-8")
    (root / "rubrics" / file).write_text(
        f"""[assignment]
id = "{id}"
title = "Tiny {id}"
section = "{section}"
notebook = "{id}.ipynb"
reference = "tiny"

[[exercise]]
id = "ex1"
title = "one"

[[check]]
id = "f"
exercise = "ex1"
points = 1
call = "f"
args = [1]
""",
        encoding="utf-8",
    )


def test_the_real_course_loads_without_problems(course):
    assert course.problems == {}
    assert len(course.assignments) >= 6
    assert course.title and course.chapters


def test_a_broken_rubric_lands_in_problems_and_the_others_load(root, course):
    path = root / "rubrics" / "conv-layer.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("seed = 62", "sede = 62"), encoding="utf-8")
    loaded = load_course(str(root))
    assert list(loaded.assignments) == [a for a in course.assignments if a != "conv-layer"]
    assert loaded.problems == {str(path): "conv-layer.toml: [assignment]: unknown key `sede`"}
    for rubric in loaded.assignments.values():
        assert rubric.course_root == str(root)


def test_get_on_a_broken_rubric_says_why(root):
    path = root / "rubrics" / "conv-layer.toml"
    path.write_text("[assignment\n", encoding="utf-8")
    loaded = load_course(str(root))
    with pytest.raises(UnknownAssignment) as info:
        loaded.get("conv-layer")
    assert str(info.value) == (
        "assignment 'conv-layer' could not be loaded: conv-layer.toml: not valid TOML: "
        "Expected ']' at the end of a table declaration (at line 1, column 12)"
    )


def test_a_rubric_that_is_not_utf8_is_a_problem_not_a_crash(root):
    path = root / "rubrics" / "pooling.toml"
    path.write_bytes(b"# \xff\n" + path.read_bytes())
    loaded = load_course(str(root))
    assert "pooling" not in loaded.assignments and "conv-layer" in loaded.assignments
    assert loaded.problems[str(path)].startswith("pooling.toml: not valid TOML: 'utf-8' codec can't decode")


def test_get_an_unknown_assignment_names_the_known_ones(course):
    with pytest.raises(UnknownAssignment) as info:
        course.get("nope")
    assert str(info.value) == f"unknown assignment 'nope'; known: {', '.join(course.assignments)}"


def test_get_returns_the_rubric(course):
    assert course.get("conv-layer").id == "conv-layer"


def test_duplicate_assignment_id(root):
    shutil.copy(root / "rubrics" / "pooling.toml", root / "rubrics" / "zz-pooling.toml")
    loaded = load_course(str(root))
    assert loaded.assignments["pooling"].path == str(root / "rubrics" / "pooling.toml")
    assert loaded.problems == {
        str(root / "rubrics" / "zz-pooling.toml"): "zz-pooling.toml: assignment id 'pooling' is used twice"
    }


def test_assignments_are_sorted_by_section(tmp_path):
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "reference").mkdir()
    for file, id, section in [
        ("a.toml", "ten", "6.10"),
        ("b.toml", "nine", "6.9"),
        ("c.toml", "two", "6.2"),
        ("d.toml", "seven", "7.1"),
        ("e.toml", "appendix", "A.1"),
        ("f.toml", "six", "6"),
    ]:
        write_rubric(tmp_path, file, id, section)
    loaded = load_course(str(tmp_path))
    assert loaded.problems == {}
    assert list(loaded.assignments) == ["six", "two", "nine", "ten", "seven", "appendix"]


def test_section_key_never_compares_numbers_with_words():
    sections = ["6.10", "6.9", "Appendix A", "6.x", "10.1", "6"]
    assert sorted(sections, key=section_key) == ["6", "6.9", "6.10", "6.x", "10.1", "Appendix A"]


def test_the_real_course_is_in_section_order(course):
    keys = [section_key(r.section) for r in course.assignments.values()]
    assert keys == sorted(keys)


# ----------------------------------------------------------------------------- the folder
def test_a_wrong_course_folder_raises_one_line(tmp_path):
    with pytest.raises(CourseError) as info:
        load_course(str(tmp_path / "nowhere"))
    assert str(info.value) == f"{tmp_path / 'nowhere'}: not a course folder (it has no rubrics/ folder)"


def test_a_wrong_course_folder_from_the_environment_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(COURSE_ENV, str(tmp_path))
    with pytest.raises(CourseError) as info:
        load_course()
    assert str(info.value) == f"{COURSE_ENV}={tmp_path}: not a course folder (it has no rubrics/ folder)"


def test_course_folder_from_the_environment(root, monkeypatch):
    monkeypatch.setenv(COURSE_ENV, str(root))
    assert load_course().root == str(root)


def test_course_helpers(course):
    rubric = course.get("conv-layer")
    assert course.chapter_of(rubric) == "Convolutional Neural Networks"
    assert course.reference_notebook(rubric) == str(Path(course.root) / "reference" / "conv-layer.ipynb")
    assert course.starter_notebook(rubric) == str(Path(course.root) / "exercises" / "conv-layer.ipynb")


# ----------------------------------------------------------------------------- course.toml
def test_without_course_toml_the_folder_names_the_course(root):
    (root / "course.toml").unlink()
    loaded = load_course(str(root))
    assert loaded.title == root.name and loaded.numbering == "" and loaded.chapters == {}
    assert loaded.assignments


def test_course_toml_is_read(root):
    loaded = load_course(str(root))
    assert loaded.chapters == {"6": "Convolutional Neural Networks", "7": "Modern Convolutional Neural Networks"}
    assert loaded.v1_chapters == {"7": "Convolutional Neural Networks", "8": "Modern Convolutional Neural Networks"}
    assert loaded.numbering.startswith("d2l v0.17")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[course]\ntitel = "x"\n', "[course]: missing key `title`; [course]: unknown key `titel`"),
        (
            '[course]\ntitle = "x"\n[[chapter]]\nnumber = 6\ntitle = "c"\n',
            "`chapter`: `[1].number`: Input should be a valid string",
        ),
        ('[course]\ntitle = ""\n', "[course]: `title`: String should have at least 1 character"),
        ('title = "x"\n', "missing key `course`; unknown key `title`"),
        ('[course]\ntitle = "x"\n[[chapters]]\nnumber = "6"\n', "unknown key `chapters`"),
    ],
)
def test_course_toml_is_validated(root, text, message):
    (root / "course.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CourseError) as info:
        load_course(str(root))
    assert str(info.value) == f"{root / 'course.toml'}: {message}"


@pytest.mark.parametrize("content", [b"[course\n", b'[course]\ntitle = "\xff"\n'])
def test_course_toml_that_cannot_be_read_is_a_course_error(root, content):
    (root / "course.toml").write_bytes(content)
    with pytest.raises(CourseError) as info:
        load_course(str(root))
    assert str(info.value).startswith(f"{root / 'course.toml'}: ")
    assert "\n" not in str(info.value)
