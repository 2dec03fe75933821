"""The judge's protocol (grader/judge_process.py), with the judge in a thread of this process.

In a real run the judge is a child of the warm parent (tests/kernel/test_judge.py); here the
same `serve` loop answers over the same socket, so the protocol, the course copies and every
failure the grader must survive are tested without a kernel.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from grader import judge_process
from grader.judge_process import JudgeUnavailable, RemoteJudge
from grader.judging import evaluate
from grader.planning import plan


def in_thread(calls: list[str] | None = None):
    """A `spawn` that runs the judge's loop in a thread (and notes each start)."""

    def spawn(path: str) -> None:
        if calls is not None:
            calls.append(path)
        threading.Thread(target=judge_process.serve, args=(path,), daemon=True).start()

    return spawn


@pytest.fixture
def rubric(course):
    return course.get("conv-layer")


@pytest.fixture
def new_judge(tmp_path):
    """RemoteJudge(tmp_path / folder, spawn), as many as a test makes, all closed after it."""
    made: list[RemoteJudge] = []

    def make(spawn, folder: str = "judge") -> RemoteJudge:
        made.append(RemoteJudge(str(tmp_path / folder), spawn))
        return made[-1]

    yield make
    for judge in made:
        judge.close()


def test_the_judge_gives_the_verdicts_judging_gives_here(rubric, new_judge):
    judge = new_judge(in_thread())
    for fetched, unavailable in (({}, None), (None, "the kernel died in cell 3")):
        remote = judge.evaluate(rubric, "ab" * 32, fetched, unavailable, 10.0)
        assert remote == evaluate(plan(rubric), fetched, unavailable, 10.0)
        assert [c.id for c in remote] == [c.id for c in rubric.checks]
    assert {c.status for c in remote} == {"error"} and remote[0].message == "the kernel died in cell 3"


def test_each_rubric_is_sent_once_with_copies_of_its_course_files_only(rubric, tmp_path, new_judge):
    starts: list[str] = []
    judge = new_judge(in_thread(starts))
    for _ in range(3):
        judge.evaluate(rubric, "", {}, None, 10.0)
    part = rubric.public_part(rubric.exercises[0].id)
    judge.evaluate(part, "", {}, None, 10.0)
    copies = sorted(
        os.path.relpath(os.path.join(folder, name), tmp_path / "judge")
        for folder, _, names in os.walk(tmp_path / "judge")
        for name in names
    )
    course_files = sorted(os.path.relpath(p, rubric.course_root) for p in rubric.module_paths())
    assert copies == [os.path.join("r1", f) for f in course_files] + [os.path.join("r2", f) for f in course_files]
    assert len(starts) == 1  # one judge for all of it
    assert oct(os.stat(tmp_path / "judge").st_mode & 0o777) == "0o700"


def test_a_judge_that_is_gone_is_reported_and_replaced_next_time(rubric, new_judge):
    starts: list[str] = []
    judge = new_judge(in_thread(starts))
    judge.evaluate(rubric, "", {}, None, 10.0)
    judge._conn.shutdown(socket.SHUT_RDWR)  # the judge's end of the line is gone
    with pytest.raises(JudgeUnavailable):
        judge.evaluate(rubric, "", {}, None, 10.0)
    assert judge.evaluate(rubric, "", {}, None, 10.0) == evaluate(plan(rubric), {}, None, 10.0)
    assert len(starts) == 2


def test_a_judge_that_never_connects_is_given_up(rubric, tmp_path, monkeypatch, new_judge):
    monkeypatch.setattr(judge_process, "CONNECT_TIMEOUT", 0.3)
    judge = new_judge(lambda path: None)
    with pytest.raises(JudgeUnavailable, match="did not start"):
        judge.evaluate(rubric, "", {}, None, 10.0)
    assert not os.path.exists(tmp_path / "judge" / judge_process.SOCKET_NAME)


def test_a_judge_that_fails_or_answers_for_other_checks_is_not_believed(rubric, new_judge):
    judge = new_judge(in_thread())
    judge.evaluate(rubric, "", {}, None, 10.0)
    with pytest.raises(JudgeUnavailable, match="unknown request"):
        judge._ask({"op": "nonsense"}, 10.0)
    fewer = rubric.public_part(rubric.exercises[0].id)
    judge._sent[id(fewer)] = (fewer, "r1")  # as if the judge held the whole rubric under this one's key
    with pytest.raises(JudgeUnavailable, match="other checks"):
        judge.evaluate(fewer, "", {}, None, 10.0)


def test_course_files_outside_the_course_folder_are_refused(rubric, tmp_path):
    from dataclasses import replace

    elsewhere = replace(rubric, reference_module="../../outside")
    with pytest.raises(JudgeUnavailable, match="outside the course folder"):
        RemoteJudge._copy_course_files(elsewhere, str(tmp_path / "copy"))


def test_preparing_while_the_notebook_runs_starts_the_judge_once_and_never_raises(rubric, monkeypatch, new_judge):
    starts: list[str] = []
    judge = new_judge(in_thread(starts))
    judge.prepare(rubric)
    assert len(starts) == 1 and list(judge._sent.values()) == [(rubric, "r1")]
    assert judge.evaluate(rubric, "", {}, None, 10.0) == evaluate(plan(rubric), {}, None, 10.0)
    assert len(starts) == 1 and judge._copies == 1  # neither started nor sent again
    monkeypatch.setattr(judge_process, "CONNECT_TIMEOUT", 0.3)
    silent = new_judge(lambda path: None, "silent")
    silent.prepare(rubric)  # a judge that never comes: nothing raised here ...
    with pytest.raises(JudgeUnavailable):  # ... the notebook is judged in the grader instead
        silent.evaluate(rubric, "", {}, None, 10.0)


def test_closing_while_a_judge_is_awaited_returns_at_once(rubric, tmp_path, new_judge):
    judge = new_judge(lambda path: None)  # the judge never comes
    waiting = threading.Thread(target=judge.prepare, args=(rubric,))
    waiting.start()
    deadline = time.monotonic() + 10
    while not os.path.exists(tmp_path / "judge" / judge_process.SOCKET_NAME) and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    judge.close()
    waiting.join(10)
    assert not waiting.is_alive() and time.monotonic() - started < judge_process.CONNECT_TIMEOUT / 3  # generous
    with pytest.raises(JudgeUnavailable, match="closed"):
        judge.evaluate(rubric, "", {}, None, 10.0)


def test_a_rubric_that_cannot_be_sent_is_judged_here(rubric, new_judge):
    from dataclasses import replace

    odd = replace(rubric, aliases=[lambda: None])  # a local object: pickle refuses it
    judge = new_judge(in_thread())
    with pytest.raises(JudgeUnavailable):
        judge.evaluate(odd, "", {}, None, 10.0)
    assert judge.evaluate(rubric, "", {}, None, 10.0) == evaluate(plan(rubric), {}, None, 10.0)
