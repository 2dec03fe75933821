"""The phase recorder (grader/phases.py) costs nothing when it is off: what it would measure is
not even read."""

from __future__ import annotations

import json

import pytest

from grader import phases


def test_off_it_reads_nothing(monkeypatch):
    monkeypatch.delenv(phases.ENV, raising=False)
    assert phases.begin("nb.ipynb") is None
    phases.measure("kernel_cpu", lambda: pytest.fail("read while the recorder is off"))
    phases.mark("cells")


def test_on_it_records_phases_in_order_and_what_it_measured(monkeypatch, tmp_path):
    log = tmp_path / "phases.jsonl"
    monkeypatch.setenv(phases.ENV, str(log))
    recording = phases.begin("nb.ipynb")
    phases.mark("prepare")
    phases.measure("kernel_cpu", lambda: 0.25)
    phases.mark("cells")
    phases.finish(recording)
    record = json.loads(log.read_text())
    assert record["notebook"] == "nb.ipynb" and list(record["phases"]) == ["prepare", "cells"]
    assert record["kernel_cpu"] == 0.25
