"""The summary's plots drawn by a process of their own (`grader/reporters/plot_process.py`):
it lowers itself to nice 19, answers one request with the two PNG files, and whatever goes
wrong with it, the summary is still written with both plots (drawn by the grader instead)."""

from __future__ import annotations

import time

import pytest

from grader.reporters import summary
from grader.reporters.plot_process import PlotProcess, PlotsUnavailable

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def data(rubrics):
    rubric = rubrics.get("conv-layer")
    rates = {c.id: (i % 4) / 4 for i, c in enumerate(rubric.checks)}
    return summary.plot_data(rubric, [25.0, 20.0, 3.5], summary.by_pass_rate(rubric, rates), rates)


def test_the_plot_process_draws_both_files_at_the_lowest_priority(data):
    plots = PlotProcess()
    assert plots._process is not None
    pid = plots._process.pid
    nice = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # it lowers itself first thing after Python starts
        with open(f"/proc/{pid}/stat") as f:
            nice = int(f.read().rsplit(")", 1)[1].split()[16])  # field 19 of proc(5)
        if nice == 19:
            break
        time.sleep(0.005)
    pngs = plots.render(data)
    assert nice == 19
    assert sorted(pngs) == sorted(summary.PLOT_FILES) and all(p.startswith(PNG) for p in pngs.values())
    with pytest.raises(PlotsUnavailable):  # one request each
        plots.render(data)


def test_a_dead_plot_process_costs_nothing_but_time(data, rubrics, tmp_path):
    plots = PlotProcess()
    assert plots._process is not None
    plots._process.kill()
    plots._process.wait()
    with pytest.raises(PlotsUnavailable):
        plots.render(data)
    dead = PlotProcess()
    assert dead._process is not None
    dead._process.kill()
    dead._process.wait()
    summary.write(str(tmp_path), rubrics.get("conv-layer"), [], render=dead.render)  # drawn here instead
    for name in summary.PLOT_FILES:
        assert (tmp_path / name).read_bytes().startswith(PNG)


def test_a_reply_with_other_files_is_refused(data):
    plots = PlotProcess()
    with pytest.raises(PlotsUnavailable, match="other files"):
        plots.render({**data, "files": ["score_histogram.png"]})  # it draws two; one was asked for


def test_closing_an_unused_plot_process_ends_it():
    plots = PlotProcess()
    process = plots._process
    assert process is not None
    plots.close()
    assert process.poll() is not None
    plots.close()  # twice: nothing left to end
