"""Submissions are read, never followed (grader/staging.py), without a kernel.

Every trick of the issue and its neighbours: a notebook that is a link to the course's
reference, a student folder that is a link, a link to /etc/shadow, a FIFO named x.ipynb, a
hard link, links inside a student's folder (to a file, to a folder, a loop), a linked
.ipynb_checkpoints. Nothing behind a link is ever opened: links point at FIFOs here, so a
read through one would hang, and each call runs under a short deadline.
"""

from __future__ import annotations

import os
import threading

import pytest

from grader import staging
from grader.staging import SubmissionRefused, discover, read_notebook_bytes, stage

NB = "conv-layer.ipynb"
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def quickly(func, *args, **kwargs):
    """Run `func` with a deadline: opening a FIFO would block it, and fail the test."""
    out: dict = {}

    def target():
        try:
            out["value"] = func(*args, **kwargs)
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"{func.__name__} blocked: it opened something it should not have"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture
def course(tmp_path):
    """A stand-in for the course's reference folder, and a FIFO standing for /etc/shadow."""
    reference = tmp_path / "course" / "reference"
    reference.mkdir(parents=True)
    (reference / NB).write_bytes(NOTEBOOK.replace(b"[]", b'[{"answer": 42}]'))
    (reference / "conv_layer.py").write_text("SECRET = 1\n")
    shadow = tmp_path / "shadow"
    os.mkfifo(shadow)
    return reference, shadow


@pytest.fixture
def subs(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


def by_student(found):
    return {s.student: s for s in found}


# ----------------------------------------------------------------------------- discovery
def test_plain_layouts_are_found(subs):
    (subs / "ada.ipynb").write_bytes(NOTEBOOK)
    (subs / "roster.csv").write_text("ada\n")  # not a submission
    (subs / ".DS_Store").write_text("")  # hidden: skipped
    (subs / "bea").mkdir()
    (subs / "bea" / NB).write_bytes(NOTEBOOK)
    (subs / "bea" / "data.txt").write_text("1 2 3")
    found = by_student(quickly(discover, str(subs), NB))
    assert sorted(found) == ["ada", "bea"]
    assert found["ada"].notebook == str(subs / "ada.ipynb") and found["ada"].own_files is None
    assert found["bea"].notebook == str(subs / "bea" / NB) and found["bea"].own_files == str(subs / "bea")
    assert not found["bea"].problem and not found["bea"].notes


def test_a_notebook_linked_to_the_reference_is_refused(subs, course):
    reference, _ = course
    (subs / "alice").mkdir()
    (subs / "alice" / NB).symlink_to(reference / NB)
    (subs / "amy.ipynb").symlink_to(reference / NB)
    found = by_student(quickly(discover, str(subs), NB))
    for student, label in (("alice", f"alice/{NB}"), ("amy", "amy.ipynb")):
        assert found[student].notebook is None
        assert found[student].problem.startswith(f"{label} is a symbolic link")


def test_a_student_folder_that_is_a_link_is_refused_and_not_entered(subs, course):
    reference, _ = course
    (subs / "bobby").symlink_to(reference)
    (found,) = quickly(discover, str(subs), NB)
    assert (found.student, found.notebook, found.own_files) == ("bobby", None, None)
    assert found.problem.startswith("bobby is a symbolic link")


def test_a_link_to_etc_shadow_is_never_opened(subs, course):
    _, shadow = course  # a FIFO: opening it would block
    (subs / "dave.ipynb").symlink_to(shadow)
    (subs / "dave2").symlink_to(shadow)
    found = by_student(quickly(discover, str(subs), NB))
    assert found["dave"].problem.startswith("dave.ipynb is a symbolic link")
    assert found["dave2"].problem.startswith("dave2 is a symbolic link")
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        quickly(read_notebook_bytes, str(subs / "dave.ipynb"))


def test_a_fifo_named_like_a_notebook_is_refused_without_blocking(subs):
    os.mkfifo(subs / "x.ipynb")
    (subs / "yan").mkdir()
    os.mkfifo(subs / "yan" / NB)
    found = by_student(quickly(discover, str(subs), NB))
    assert found["x"].problem == "x.ipynb is a FIFO, not a regular file"
    assert found["yan"].problem == f"yan/{NB} is a FIFO, not a regular file"
    with pytest.raises(SubmissionRefused, match="FIFO"):
        quickly(read_notebook_bytes, str(subs / "x.ipynb"))


def test_a_hard_linked_notebook_is_refused(subs, course):
    reference, _ = course
    os.link(reference / NB, subs / "erin.ipynb")  # the same file as the reference notebook
    (subs / "fred").mkdir()
    os.link(reference / NB, subs / "fred" / NB)
    found = by_student(quickly(discover, str(subs), NB))
    assert found["erin"].problem.startswith("erin.ipynb has 3 hard links")
    assert found["fred"].problem.startswith(f"fred/{NB} has 3 hard links")
    with pytest.raises(SubmissionRefused, match="hard links"):
        read_notebook_bytes(str(subs / "erin.ipynb"))


def test_links_inside_a_student_folder_are_left_out_and_listed(subs, course):
    reference, shadow = course
    gil = subs / "gil"
    gil.mkdir()
    (gil / NB).write_bytes(NOTEBOOK)
    (gil / "helper.py").symlink_to(reference / "conv_layer.py")
    (gil / "ref").symlink_to(reference)  # a link to a folder
    (gil / "loop").symlink_to(".")  # a loop
    (gil / "shadow").symlink_to(shadow)
    os.link(reference / "conv_layer.py", gil / "copy.py")
    os.mkfifo(gil / "pipe")
    (gil / ".ipynb_checkpoints").symlink_to(reference)  # hidden: skipped, linked or not
    (gil / "data").mkdir()
    (gil / "data" / "k.txt").write_text("1 -2 1")
    (found,) = quickly(discover, str(subs), NB)
    assert found.notebook == str(gil / NB) and not found.problem
    notes = "\n".join(found.notes)
    for name in ("helper.py", "ref", "loop", "shadow"):
        assert f"gil/{name} is a symbolic link" in notes
    assert "gil/copy.py has 2 hard links" in notes and "gil/pipe is a FIFO" in notes
    assert "checkpoints" not in notes and "k.txt" not in notes
    assert all(n.endswith("(it was not given to the notebook)") for n in found.notes)


def test_a_notebook_in_a_linked_folder_is_not_chosen(subs, course):
    reference, _ = course
    (subs / "hal").mkdir()
    (subs / "hal" / "work").symlink_to(reference)  # reference/conv-layer.ipynb would be "hal/work/..."
    found = by_student(quickly(discover, str(subs), NB))
    assert found["hal"].notebook is None and found["hal"].problem == "no .ipynb notebook in the submission folder"


def test_a_folder_that_links_to_itself_is_refused(subs):
    (subs / "ivy").symlink_to(subs / "ivy")
    (found,) = quickly(discover, str(subs), NB)
    assert found.problem.startswith("ivy is a symbolic link")


def test_several_notebooks_choose_the_named_one(subs):
    (subs / "jo").mkdir()
    (subs / "jo" / "scratch.ipynb").write_bytes(NOTEBOOK)
    (subs / "jo" / "hw").mkdir()
    (subs / "jo" / "hw" / NB).write_bytes(NOTEBOOK)
    (subs / "kim").mkdir()
    (subs / "kim" / "a.ipynb").write_bytes(NOTEBOOK)
    (subs / "kim" / "b.ipynb").write_bytes(NOTEBOOK)
    found = by_student(discover(str(subs), NB))
    assert found["jo"].notebook == str(subs / "jo" / "hw" / NB)
    assert found["kim"].notebook is None and "none is named conv-layer.ipynb: a.ipynb, b.ipynb" in found["kim"].problem


def test_the_submissions_folder_itself_may_be_a_link(tmp_path, subs):
    (subs / "ada.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "linked").symlink_to(subs)
    (found,) = discover(str(tmp_path / "linked"), NB)
    assert found.notebook is not None and not found.problem


def test_no_such_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        discover(str(tmp_path / "nope"), NB)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        discover(str(tmp_path / "file"), NB)


# ----------------------------------------------------------------------------- reading
def test_read_notebook_bytes_reads_a_plain_file(subs):
    (subs / "ada.ipynb").write_bytes(NOTEBOOK)
    assert read_notebook_bytes(str(subs / "ada.ipynb")) == NOTEBOOK
    (subs / "bea").mkdir()
    (subs / "bea" / "hw").mkdir()
    (subs / "bea" / "hw" / NB).write_bytes(NOTEBOOK)
    assert read_notebook_bytes(str(subs / "bea" / "hw" / NB), below=str(subs / "bea")) == NOTEBOOK


def test_read_notebook_bytes_below_a_folder_refuses_a_linked_folder_on_the_way(subs, course):
    reference, _ = course
    (subs / "cy").mkdir()
    (subs / "cy" / "hw").symlink_to(reference)
    with pytest.raises(SubmissionRefused, match="lies in a folder that is a symbolic link"):
        read_notebook_bytes(str(subs / "cy" / "hw" / NB), below=str(subs / "cy"))
    (subs / "dee").symlink_to(reference)
    with pytest.raises(SubmissionRefused, match="is a symbolic link"):
        read_notebook_bytes(str(subs / "dee" / NB), below=str(subs / "dee"))
    with pytest.raises(SubmissionRefused, match="not inside the student's folder"):
        read_notebook_bytes(str(reference / NB), below=str(subs / "cy"))


def test_read_notebook_bytes_refuses_what_is_too_large_or_missing(subs):
    (subs / "big.ipynb").write_bytes(b" " * 2048)
    with pytest.raises(SubmissionRefused, match="larger than"):
        read_notebook_bytes(str(subs / "big.ipynb"), limit=1024)
    with pytest.raises(SubmissionRefused, match="no such file"):
        read_notebook_bytes(str(subs / "nope.ipynb"))
    (subs / "dir.ipynb").mkdir()
    with pytest.raises(SubmissionRefused, match="a folder, not a regular file"):
        read_notebook_bytes(str(subs / "dir.ipynb"))


def test_digests_follow_the_data_not_links(subs, course):
    reference, _ = course
    (subs / "eve").mkdir()
    (subs / "eve" / NB).write_bytes(NOTEBOOK)
    (subs / "eve" / "k.txt").write_text("1")
    (subs / "eve" / "ref.py").symlink_to(reference / "conv_layer.py")
    before = staging.own_files_sha256(str(subs / "eve"))
    (reference / "conv_layer.py").write_text("SECRET = 2\n")  # behind a link: not the student's
    assert staging.own_files_sha256(str(subs / "eve")) == before
    (subs / "eve" / "k.txt").write_text("2")
    assert staging.own_files_sha256(str(subs / "eve")) != before
    assert staging.notebook_sha256(str(subs / "eve" / NB), str(subs / "eve")) == staging.notebook_sha256(
        str(subs / "eve" / NB)
    )
    assert staging.notebook_sha256(None) == "" and staging.own_files_sha256(None) == ""


# ----------------------------------------------------------------------------- staging
def test_stage_copies_only_the_students_own_regular_files(subs, course, tmp_path):
    reference, shadow = course
    gil = subs / "gil"
    (gil / "hw").mkdir(parents=True)
    (gil / "hw" / NB).write_bytes(NOTEBOOK)
    (gil / "k.txt").write_text("1 -2 1")
    (gil / "data").mkdir()
    (gil / "data" / "x.csv").write_text("1,2")
    (gil / "helper.py").symlink_to(reference / "conv_layer.py")
    (gil / "ref").symlink_to(reference)
    (gil / "loop").symlink_to(".")
    (gil / "shadow").symlink_to(shadow)
    os.link(reference / "conv_layer.py", gil / "copy.py")
    os.mkfifo(gil / "pipe")
    (gil / ".git").mkdir()
    (gil / ".git" / "config").write_text("secret")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / ".kernel").mkdir()  # the kernel's sockets: left alone
    notes = quickly(stage, str(gil / "hw" / NB), str(gil), str(scratch))
    copied = sorted(
        os.path.relpath(os.path.join(root, f), scratch) for root, _dirs, files in os.walk(scratch) for f in files
    )
    assert copied == [NB, "data/x.csv", "k.txt"]  # the notebook at the top, where the kernel starts
    assert (scratch / NB).read_bytes() == NOTEBOOK and (scratch / "k.txt").read_text() == "1 -2 1"
    assert not any(os.path.islink(os.path.join(root, n)) for root, d, f in os.walk(scratch) for n in d + f)
    text = "\n".join(notes)
    for name in ("helper.py", "ref", "loop", "shadow"):
        assert f"gil/{name} is a symbolic link" in text
    assert "gil/copy.py has 2 hard links" in text and "gil/pipe is a FIFO" in text and ".git" not in text


def test_stage_refuses_a_linked_notebook(subs, course, tmp_path):
    reference, _ = course
    (subs / "amy.ipynb").symlink_to(reference / NB)
    (subs / "al").mkdir()
    (subs / "al" / NB).symlink_to(reference / NB)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        stage(str(subs / "amy.ipynb"), None, str(scratch))
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        stage(str(subs / "al" / NB), str(subs / "al"), str(scratch))
    assert os.listdir(scratch) == []


def test_stage_never_writes_through_a_link_in_the_scratch_folder(subs, tmp_path):
    (subs / "ada.ipynb").write_bytes(NOTEBOOK)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (scratch / "ada.ipynb").symlink_to(victim)
    assert stage(str(subs / "ada.ipynb"), None, str(scratch)) == []
    assert victim.read_text() == "untouched" and (scratch / "ada.ipynb").read_bytes() == NOTEBOOK
    assert not os.path.islink(scratch / "ada.ipynb")


def test_stage_uses_the_bytes_it_is_given_and_caps_the_students_files(subs, tmp_path):
    (subs / "bo").mkdir()
    (subs / "bo" / NB).write_bytes(NOTEBOOK)
    (subs / "bo" / "a.bin").write_bytes(b"a" * 600)
    (subs / "bo" / "b.bin").write_bytes(b"b" * 600)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    notes = stage(str(subs / "bo" / NB), str(subs / "bo"), str(scratch), notebook_data=b"{}", max_bytes=1000)
    assert (scratch / NB).read_bytes() == b"{}"
    assert (scratch / "a.bin").exists() and not (scratch / "b.bin").exists()
    assert notes == ["bo/b.bin was not given to the notebook: the student's files exceed 0 MiB in all"]
