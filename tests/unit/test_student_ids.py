"""Student ids: readable when safe, otherwise percent-encoded; unique, stable, reversible, and
valid file names everywhere (`results/<id>.json`). Collisions are errors naming both entries."""

from __future__ import annotations

import os
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lms_samples import GRADESCOPE_METADATA

from grader.staging import (
    MAX_ID_LENGTH,
    StudentIdCollision,
    discover,
    name_from_id,
    student_id,
    submission_student_id,
)

ID_CHARS = re.compile(r"^[A-Za-z0-9._@%~-]+$")
WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def valid_everywhere(student: str) -> bool:
    """A file name Linux, macOS and Windows all accept, and not hidden."""
    return (
        bool(ID_CHARS.match(student))
        and not student.startswith(".")
        and not student.endswith((".", " "))
        and student.split(".", 1)[0].lower() not in WINDOWS_DEVICES
        and len(student + ".json") <= 255
    )


@pytest.mark.parametrize("name", ["alice", "a.lee@uni.edu", "s-01_x", "B0b", "x.y.z"])
def test_safe_names_are_their_own_id(name):
    assert student_id(name) == name and name_from_id(name) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Zoë", "Zo%C3%AB"),
        ("Zoé", "Zo%C3%A9"),
        ("carol x", "carol%20x"),
        ("carol_x", "carol_x"),
        ("bob!", "bob%21"),
        ("50%", "50%25"),
        ("Zo%C3%AB", "Zo%25C3%25AB"),  # a name that looks like an id is not confused with one
        ("con", "%63on"),
        ("CON.backup", "%43ON.backup"),
        ("lpt1", "%6Cpt1"),
        ("trailing.", "trailing%2E"),
        (".hidden", "%2Ehidden"),
        ("a/b", "a%2Fb"),
    ],
)
def test_unsafe_names_are_percent_encoded(name, expected):
    assert student_id(name) == expected
    assert valid_everywhere(expected)
    assert name_from_id(expected) == name


def test_the_issue_collisions_are_now_different_students():
    pairs = [("Zoë", "Zoé"), ("bob", "bob!"), ("carol x", "carol_x")]
    for a, b in pairs:
        assert student_id(a) != student_id(b)
        assert student_id(a).lower() != student_id(b).lower()


def test_unicode_normalisation_forms_stay_distinct_and_reversible():
    nfc, nfd = unicodedata.normalize("NFC", "Zoë"), unicodedata.normalize("NFD", "Zoë")
    assert nfc != nfd and student_id(nfc) != student_id(nfd)
    assert (name_from_id(student_id(nfc)), name_from_id(student_id(nfd))) == (nfc, nfd)


def test_names_that_are_not_utf8_round_trip():
    name = os.fsdecode(b"caf\xe9")  # Latin-1 bytes, as an old archive may hold
    assert student_id(name) == "caf%E9" and name_from_id("caf%E9") == name


def test_long_names_are_shortened_with_a_hash_and_stay_unique():
    a, b = "é" * 200, "é" * 199 + "è"
    ids = student_id(a), student_id(b)
    assert ids[0] != ids[1]
    for student in ids:
        assert len(student) <= MAX_ID_LENGTH and valid_everywhere(student) and "~" in student
        assert not re.search(r"%.?~", student)  # never an escape cut in half
        with pytest.raises(ValueError, match="shortened"):
            name_from_id(student)


def test_ids_are_stable():
    assert [student_id("Zoë") for _ in range(3)] == ["Zo%C3%AB"] * 3


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=40
)


@given(names)
def test_every_name_gets_a_valid_reversible_id(name):
    student = student_id(name)
    assert valid_everywhere(student) and len(student) <= MAX_ID_LENGTH
    if "~" not in student:  # not shortened: the name is in the id
        assert name_from_id(student) == name


@given(names, names)
def test_different_names_get_different_ids(a, b):
    if a != b:
        assert student_id(a) != student_id(b)


# ----------------------------------------------------------------------------- collisions in a folder
def _notebook(path) -> None:
    path.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


def test_a_file_and_a_folder_of_the_same_name_collide_naming_both(tmp_path):
    _notebook(tmp_path / "bob.ipynb")
    (tmp_path / "bob").mkdir()
    _notebook(tmp_path / "bob" / "conv-layer.ipynb")
    with pytest.raises(StudentIdCollision) as info:
        discover(str(tmp_path), "conv-layer.ipynb")
    assert "'bob.ipynb'" in str(info.value) and "'bob/'" in str(info.value)


def test_names_differing_only_in_case_collide(tmp_path):
    _notebook(tmp_path / "Bob.ipynb")
    try:
        _notebook(tmp_path / "bob.ipynb")
    except FileExistsError:  # pragma: no cover - a case-insensitive file system
        pytest.skip("this file system ignores case")
    if len(os.listdir(tmp_path)) == 1:  # pragma: no cover
        pytest.skip("this file system ignores case")
    with pytest.raises(StudentIdCollision, match=r"'Bob.ipynb' and 'bob.ipynb'"):
        discover(str(tmp_path), "conv-layer.ipynb")


def test_names_the_old_scheme_merged_are_separate_students(tmp_path):
    for name in ("Zoë.ipynb", "Zoé.ipynb", "bob!.ipynb"):
        _notebook(tmp_path / name)
    for folder in ("bob", "carol x", "carol_x"):
        (tmp_path / folder).mkdir()
        _notebook(tmp_path / folder / "conv-layer.ipynb")
    found = discover(str(tmp_path), "conv-layer.ipynb")
    assert {s.student: s.name for s in found} == {
        "Zo%C3%A9": "Zoé.ipynb",
        "Zo%C3%AB": "Zoë.ipynb",
        "bob%21": "bob!.ipynb",
        "bob": "bob",
        "carol%20x": "carol x",
        "carol_x": "carol_x",
    }
    assert [s.student for s in found] == sorted(s.student for s in found)


# ----------------------------------------------------------------------------- LMS download names
CANVAS_FIRST = "xuerin_98765_4321_conv-layer.ipynb"
CANVAS_AGAIN = "xuerin_LATE_98765_4400_conv-layer-1.ipynb"  # the same student's resubmission


def test_a_canvas_resubmission_keeps_its_student_id_and_records_its_name(tmp_path):
    ids = []
    for n, name in enumerate((CANVAS_FIRST, CANVAS_AGAIN)):
        folder = tmp_path / f"download{n}"
        folder.mkdir()
        _notebook(folder / name)
        (found,) = discover(str(folder), "conv-layer.ipynb")
        assert found.name == name
        ids.append(found.student)
    assert ids == ["xuerin_98765", "xuerin_98765"]


def test_two_canvas_files_of_one_student_collide_naming_both(tmp_path):
    _notebook(tmp_path / CANVAS_FIRST)
    _notebook(tmp_path / "xuerin_98765_4321_conv-layer-1.ipynb")
    _notebook(tmp_path / "leeann_98766_4400_conv-layer.ipynb")  # another student: no part of the clash
    with pytest.raises(StudentIdCollision) as info:
        discover(str(tmp_path), "conv-layer.ipynb")
    message = str(info.value)
    both = "'xuerin_98765_4321_conv-layer-1.ipynb' and 'xuerin_98765_4321_conv-layer.ipynb'"
    assert f"{both} would both be student xuerin_98765" in message and "leeann" not in message


@pytest.mark.parametrize(
    "name",
    [
        "Carol Xu_1234567_assignsubmission_file_",  # Moodle: one folder per participant, already stable
        "conv-layer-octocat",  # GitHub Classroom: one repository per login
        "submission_123456",  # Gradescope: its stable key is in submission_metadata.yml, not the name
        "alice",
        "Xuerin_98765_4321_conv-layer",  # not Canvas's (Canvas lower-cases the name)
    ],
)
def test_names_other_than_canvas_downloads_keep_their_decodable_id(tmp_path, name):
    (tmp_path / name).mkdir()
    _notebook(tmp_path / name / "conv-layer.ipynb")
    (found,) = discover(str(tmp_path), "conv-layer.ipynb")
    assert found.student == student_id(name) == submission_student_id(name) and name_from_id(found.student) == name


def _gradescope_export(folder, metadata: str | None, *submissions: str) -> None:
    folder.mkdir()
    if metadata is not None:
        (folder / "submission_metadata.yml").write_text(metadata, encoding="utf-8")
    for name in submissions:
        (folder / name).mkdir()
        _notebook(folder / name / "conv-layer.ipynb")


def test_a_gradescope_submission_is_its_submitters_student_across_exports(tmp_path):
    """Gradescope names the folders after the submission; its metadata says who submitted it:
    the id is the submitter's SID (the email without one), so a later export of a newer
    submission is the same student for --resume, --student and the marks."""
    _gradescope_export(tmp_path / "first", GRADESCOPE_METADATA, "submission_111", "submission_222")
    found = discover(str(tmp_path / "first"), "conv-layer.ipynb")
    assert [(s.student, s.name) for s in found] == [
        ("gradescope_1001", "submission_111"),
        ("gradescope_dan@uni.example", "submission_222"),
    ]
    newer = GRADESCOPE_METADATA.replace("submission_111", "submission_333")
    _gradescope_export(tmp_path / "later", newer, "submission_333")
    (again,) = discover(str(tmp_path / "later"), "conv-layer.ipynb")
    assert (again.student, again.name) == ("gradescope_1001", "submission_333")


@pytest.mark.parametrize(
    "metadata", [None, "{ not: [yaml", "- a list, not submissions\n"], ids=["none", "broken", "other"]
)
def test_without_usable_gradescope_metadata_the_folder_names_stay_the_ids(tmp_path, metadata):
    _gradescope_export(tmp_path / "export", metadata, "submission_111")
    (found,) = discover(str(tmp_path / "export"), "conv-layer.ipynb")
    assert found.student == "submission_111"


def test_gradescope_metadata_that_is_a_link_is_not_read(tmp_path):
    (tmp_path / "elsewhere.yml").write_text(GRADESCOPE_METADATA, encoding="utf-8")
    _gradescope_export(tmp_path / "export", None, "submission_111")
    (tmp_path / "export" / "submission_metadata.yml").symlink_to(tmp_path / "elsewhere.yml")
    found = {s.name: s for s in discover(str(tmp_path / "export"), "conv-layer.ipynb")}
    assert found["submission_111"].student == "submission_111"
    assert "symbolic link" in found["submission_metadata.yml"].problem  # a link is refused, as any
