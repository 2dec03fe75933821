"""The phase recorder behind bench/breakdown.py: with D2L_GRADER_PHASES set, each graded
notebook appends where its time went; without it, nothing is written anywhere."""

from __future__ import annotations

import json

from nbfactory import variant

from grader import phases


def test_a_graded_notebook_records_its_phases(grader, rubrics, tmp_path, monkeypatch):
    log = tmp_path / "phases.jsonl"
    monkeypatch.setenv(phases.ENV, str(log))
    result = grader.grade(variant("conv-layer.ipynb", tmp_path), rubrics["conv-layer"])
    assert result.score == result.max_score
    (line,) = log.read_text().splitlines()
    record = json.loads(line)
    assert record["notebook"] == "conv-layer.ipynb"
    assert list(record["phases"]) == [
        "prepare",
        "kernel start",
        "cells",
        "harness",
        "kernel stop",
        "waiting for the judge",
        "judging",
        "report",
    ]
    assert all(seconds >= 0 for seconds in record["phases"].values())
    assert abs(sum(record["phases"].values()) - record["total"]) < 0.05
    # the kernel's own CPU time, where it can be measured (a control group, or its process tree)
    if record["kernel_cpu_after_harness"] is not None:
        assert 0 < record["kernel_cpu_after_cells"] <= record["kernel_cpu_after_harness"]


def test_without_the_variable_nothing_is_recorded(grader, rubrics, tmp_path, monkeypatch):
    monkeypatch.delenv(phases.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    grader.grade(variant("conv-layer.ipynb", tmp_path), rubrics["conv-layer"])
    assert phases._CURRENT.get() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv-layer.ipynb"]
