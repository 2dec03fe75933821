"""Both numberings of the book: d2l v0.17 (= d2l-zh 2.0), which the rubrics use, and d2l v1.0.

v1.0 moved the CNN chapter from 6 to 7 and the modern CNNs from 7 to 8, and renumbered some
exercises. `grader list --numbering v1` shows v1.0's numbers, and a notebook whose file name
carries a section number of either edition is recognised (a number both editions use for
different sections is said to be ambiguous, unless the names in the file name or notebook decide).
"""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course import Course, UnknownAssignment
from grader.notebook import assignments_numbered, detect_assignment


def fake(id: str, section: str, v1_section: str | None, names: set[str]) -> SimpleNamespace:
    return SimpleNamespace(
        id=id, section=section, v1_section=v1_section, notebook=f"{id}.ipynb", aliases=[], names=lambda: names
    )


COURSE = Course(
    root="/nowhere",
    title="t",
    assignments={
        r.id: r
        for r in (
            fake("why-conv", "6.1", "7.1", {"conv_audio"}),
            fake("conv-layer", "6.2", "7.2", {"corr2d", "X_diag"}),
            fake("alexnet", "7.1", "8.1", {"alexnet", "alexnet28"}),
            fake("vgg", "7.2", "8.2", {"vgg", "vgg_block"}),
            fake("nin", "7.3", "8.3", {"nin", "nin_block"}),
            fake("conv-from-scratch", "6.x", None, {"im2col"}),
        )
    },
)


def detect(name: str, code: str = "x = 1") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    return detect_assignment(nb, f"/tmp/{name}", COURSE).id  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "assignment"),
    [
        ("8.1-homework.ipynb", "alexnet"),  # only v1.0 has an 8.1
        ("d2l_8_2.ipynb", "vgg"),
        ("6.2 my answers.ipynb", "conv-layer"),  # only v0.17 has a 6.2
        ("7.3.ipynb", "nin"),  # v0.17's 7.3; v1.0's 7.3 (padding) is not in this course
        ("7.1-alexnet.ipynb", "alexnet"),  # the name decides what the number cannot
        ("hw-nin.ipynb", "nin"),
        ("myalexnet.ipynb", "alexnet"),  # six letters or more: also inside a word
    ],
)
def test_a_file_name_with_either_editions_number_or_a_name_is_recognised(name, assignment):
    assert detect(name) == assignment


def test_a_number_both_editions_use_is_ambiguous_unless_the_notebook_decides():
    with pytest.raises(UnknownAssignment) as info:
        detect("7.1.ipynb")
    assert str(info.value) == (
        "the notebook's file name gives a section number that is why-conv in d2l v1.0 and alexnet in d2l v0.17; "
        "pass --assignment with one of them"
    )
    assert detect("7.1.ipynb", "def alexnet(): pass\ndef alexnet28(): pass") == "alexnet"


def test_a_short_name_inside_another_word_is_not_a_match():
    """ "nin" is in "learning": a short name counts only as a whole word of the file name."""
    with pytest.raises(UnknownAssignment):
        detect("deep-learning-notes.ipynb")
    assert assignments_numbered("lecture-17-notes", COURSE) == []  # 17 alone is no section


def test_list_in_v1_numbering_shows_v1_sections_and_exercise_numbers(course):
    result = CliRunner().invoke(main, ["list", "--numbering", "v1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"# {course.title} (d2l v1.0 numbering)"
    for rubric in course.assignments.values():
        if rubric.v1_section:
            header = next(line for line in lines if line.startswith(f"{rubric.id} "))
            assert header.split()[1] == rubric.v1_section and header.endswith(f"(v0.17: {rubric.section})")
            for exercise in rubric.exercises:
                if exercise.v1 is not None:
                    assert any(line.split()[:3] == [exercise.id, "ex.", str(exercise.v1)] for line in lines)
        else:
            assert any(line.startswith(f"{rubric.id} ") for line in lines[lines.index("## not in d2l v1.0") :])
    chapters = [line for line in lines if line.startswith("## ") and line != "## not in d2l v1.0"]
    assert chapters == sorted(chapters, key=lambda line: int(line.split()[1]))
    assert all(line.split()[1] in {"7", "8"} for line in chapters)


RUBRIC = """
[assignment]
id = "renumbered"
title = "Renumbered"
section = "7.5"
v1_section = "8.5"
notebook = "renumbered.ipynb"
reference = "renumbered"

[[exercise]]
id = "ex2"
title = "Exercise two"
v1 = 3

[[exercise]]
id = "ex3"
title = "Exercise three"

[[exercise]]
id = "v1-ex2"
title = "An exercise only v1.0 has"
v1 = 2
v1_only = true

[[check]]
id = "x"
exercise = "ex2"
points = 1
name = "x"
expected = 1

[[manual]]
id = "two"
exercise = "ex2"
prompt = "Say something about two."

[[manual]]
id = "three"
exercise = "ex3"
prompt = "Say something about three."

[[manual]]
id = "v1-two"
exercise = "v1-ex2"
prompt = "Say something only v1.0 asks."
"""


def test_exercise_numbers_in_a_book_notebook_are_read_in_the_edition_its_file_name_gives(tmp_path):
    from grader.notebook import collect_manual, edition_of
    from grader.rubric import load_rubric

    (tmp_path / "rubrics").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "rubrics" / "renumbered.toml").write_text(RUBRIC)
    (tmp_path / "reference" / "renumbered.py").write_text("")
    rubric = load_rubric(str(tmp_path / "rubrics" / "renumbered.toml"), str(tmp_path))
    md = nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook(cells=[md("## Exercises"), md("2. answer B"), md("3. answer C")])

    def answers(name: str) -> dict[str, str]:
        return {m.id: m.answer for m in collect_manual(nb, rubric, edition_of(name, rubric))}

    assert edition_of("8.5-homework.ipynb", rubric) == "v1" and edition_of("7.5-homework.ipynb", rubric) == "v0.17"
    assert edition_of("homework.ipynb", rubric) == "v0.17"  # the rubric's own numbering when nothing says
    # v1.0: its exercise 3 is v0.17's exercise 2, and its exercise 2 exists only there
    assert answers("8.5-homework.ipynb") == {"two": "answer C", "three": "", "v1-two": "answer B"}
    assert answers("7.5-homework.ipynb") == {"two": "answer B", "three": "answer C", "v1-two": ""}
