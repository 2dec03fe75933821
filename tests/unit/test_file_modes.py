"""Output files get the mode `open()` would give them under the process's umask, never
world-writable (grader.files): the gradebook, the results, the summary and its plots."""

from __future__ import annotations

import os
import stat

import pytest

from grader import files
from grader.batch import BatchRecord, BatchWriter
from grader.reporters import summary
from grader.results import GradeResult


@pytest.fixture
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    ("umask", "expected"),
    [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o000, 0o664)],
    indirect=["umask"],
)
def test_written_file_has_the_umask_mode_without_world_write(umask, expected, tmp_path):
    path = tmp_path / "grades.csv"
    files.write_atomic(str(path), "student,total\n")
    assert _mode(path) == expected


@pytest.mark.parametrize("umask", [0o027], indirect=True)
def test_a_replaced_file_gets_the_new_mode_not_the_old_one(umask, tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("old")
    os.chmod(path, 0o666)
    files.write_atomic(str(path), "new")
    assert _mode(path) == 0o640 and path.read_text() == "new"


@pytest.mark.parametrize("umask", [0o000], indirect=True)
def test_an_explicit_mode_still_loses_the_world_write_bit(umask, tmp_path):
    path = tmp_path / "report.json"
    files.write_atomic(str(path), "{}", mode=0o666)
    assert _mode(path) == 0o664


@pytest.mark.parametrize("umask", [0o027, 0o002], indirect=True)
def test_reading_the_umask_leaves_it_as_it_was(umask):
    assert files.current_umask() == umask
    assert os.umask(umask) == umask  # still set: reading did not change it


@pytest.mark.parametrize("umask", [0o027], indirect=True)
def test_everything_a_batch_writes_follows_the_umask(umask, rubrics, tmp_path):
    rubric = next(iter(rubrics.values()))
    writer = BatchWriter(str(tmp_path), rubric)
    record = BatchRecord("alice", GradeResult(rubric.id, "alice.ipynb", rubric.max_score), "sha", "rubric-sha")
    writer.write_result(record)
    writer.write_gradebook([record])
    writer.write_summary([record])
    written = ["results/alice.json", "grades.csv", "summary.md", "pass_rates.png", "score_histogram.png"]
    assert {name: _mode(tmp_path / name) for name in written} == dict.fromkeys(written, 0o640)
    assert not any(_mode(tmp_path / name) & stat.S_IWOTH for name in written)


def test_a_pngs_mode_is_the_same_as_the_markdowns(rubrics, tmp_path):
    rubric = next(iter(rubrics.values()))
    summary.write(str(tmp_path), rubric, [])
    assert _mode(tmp_path / "pass_rates.png") == _mode(tmp_path / "summary.md") == files.output_mode()
