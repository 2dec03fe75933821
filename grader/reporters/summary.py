"""The class at a glance: `summary.md`, a score histogram and pass rates per check (PNG).

The summary answers an instructor's two questions after a batch: what did the class get wrong
(checks from the least passed, in the table and the plot alike), and whose notebook needs a
human (one line per student with every reason, then the details of each problem).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..rubric import Rubric

# Why a student is worth a look, by the kind of their notebook's problem, most serious first.
# The order is the order of the reasons on a student's line.
_REASONS = {
    "invalid-notebook": "unusable notebook",
    "unknown-assignment": "unusable notebook",
    "wrong-assignment": "wrong assignment",
    "internal-error": "grader error",
    "harness-failed": "checks could not be run",
    "kernel-died": "kernel died",
    "cell-timeout": "timeout",
    "notebook-timeout": "timeout",
    "harness-timeout": "timeout",
    "memory-limit": "memory limit hit",
    "process-limit": "process limit hit",
    "file-size-limit": "file size limit hit",
    "output-limit": "output limit hit",
    "cell-error": "error",
    "refused-file": "refused files",
}


def pass_rates(rubric: Rubric, records: list[Any]) -> dict[str, float]:
    rates = {}
    for check in rubric.checks:
        passed = sum(1 for r in records for c in r.result.checks if c.id == check.id and c.status == "passed")
        rates[check.id] = passed / len(records) if records else 0.0
    return rates


def by_pass_rate(rubric: Rubric, rates: dict[str, float]) -> list[Any]:
    """The checks from the least passed to the most (ties in rubric order): the table and the
    plot both put what the class failed first."""
    return sorted(rubric.checks, key=lambda c: rates[c.id])


def problem_lines(record: Any) -> list[str]:
    """One Markdown bullet per problem of a student's notebook: every error (a cell that
    raised included), a status other than ok, a result the next run grades again."""
    result = record.result
    messages = [_escape(e.message) for e in result.errors]
    if not messages and result.status != "ok":
        messages.append(f"status {result.status}")
    if getattr(record, "final", True) is False:
        messages = [m + " (not final: the next run grades it again)" for m in messages] or [
            "not final: the next run grades it again"
        ]
    return [f"* `{record.student}`: {message}" for message in messages]


def look_at_reasons(record: Any) -> list[str]:
    """Why a human should open this student's notebook, most serious first; [] if nothing.

    A score alone hides these: a cell that timed out after the graded names were defined, or
    a free-text answer left empty, can sit beside full marks.
    """
    result = record.result
    cells: dict[str, list[int]] = {}
    for error in result.errors:
        label = _REASONS.get(error.kind, _escape(error.kind))
        found = cells.setdefault(label, [])
        if error.cell is not None and error.cell not in found:
            found.append(error.cell)
    order = list(dict.fromkeys(_REASONS.values()))
    reasons = []
    for label in sorted(cells, key=lambda r: order.index(r) if r in order else len(order)):
        numbers = sorted(cells[label])
        where = f" (cell{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))})" if numbers else ""
        reasons.append(label + where)
    missing = [item.id for item in result.manual if not item.answer.strip()]
    if missing:
        reasons.append("missing free-text answers: " + ", ".join(_escape(m) for m in missing))
    if getattr(record, "final", True) is False:
        reasons.append("not final (the next run grades it again)")
    return reasons


def look_at_lines(records: list[Any]) -> list[str]:
    """One Markdown bullet per student worth a look, by student id as the gradebook shows it."""
    lines = []
    for record in sorted(records, key=lambda r: r.student):
        reasons = look_at_reasons(record)
        if reasons:
            lines.append(f"* `{record.student}`: " + "; ".join(reasons))
    return lines


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def _escape(text: str) -> str:
    """A message (which may quote a student's exception) as inert Markdown on one line."""
    return " ".join(text.split()).translate(_MARKDOWN)


def write(
    out_dir: str, rubric: Rubric, records: list[Any], render: Callable[[dict[str, Any]], dict[str, bytes]] | None = None
) -> None:
    """summary.md and its two plots; `render` draws the plots from `plot_data` (a
    `plot_process.PlotProcess`'s), and if it fails they are drawn here (`render_plots`)."""
    from ..files import write_atomic

    scores = [r.result.score for r in records]
    statuses = Counter(r.result.status for r in records)
    rates = pass_rates(rubric, records)
    ordered_checks = by_pass_rate(rubric, rates)
    _plots(out_dir, plot_data(rubric, scores, ordered_checks, rates), render)
    lines = [
        f"# {rubric.section} {rubric.title} — class summary",
        "",
        f"* submissions: {len(records)} (ok {statuses.get('ok', 0)}, error {statuses.get('error', 0)}, "
        f"timeout {statuses.get('timeout', 0)})",
    ]
    if scores:
        ordered = sorted(scores)
        median = (
            ordered[len(ordered) // 2]
            if len(ordered) % 2
            else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
        )
        lines.append(
            f"* score out of {rubric.max_score:g}: mean {sum(scores) / len(scores):.2f}, median {median:g}, "
            f"min {min(scores):g}, max {max(scores):g}"
        )
    lines += ["", "![score histogram](score_histogram.png)", "", "## Pass rate per check", ""]
    lines += ["| exercise | check | points | hidden | pass rate |", "|---|---|---|---|---|"]
    for check in ordered_checks:
        lines.append(
            f"| {check.exercise} | {check.id} | {check.points:g} | {'yes' if check.hidden else 'no'} | {100 * rates[check.id]:.0f}% |"
        )
    lines += ["", "![pass rate per check](pass_rates.png)", ""]
    look_at = look_at_lines(records)
    if look_at:
        lines += ["## Students to look at", ""]
        lines += look_at
        lines.append("")
    problems = [line for r in records for line in problem_lines(r)]
    if problems:
        lines += ["## Notebook problems", ""]
        lines += problems
        lines.append("")
    write_atomic(os.path.join(out_dir, "summary.md"), "\n".join(lines))


def _pyplot() -> Any:
    """pyplot drawing to files only (a batch may run where there is no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def warm_up() -> None:
    """Import what the plots need, ahead of time (`plot_process` does, at nice 19, while the
    batch runs; a batch without one, in a thread), so the summary, written last, only draws."""
    try:
        _pyplot()
        import matplotlib.ticker  # noqa: F401
    except Exception:  # the summary itself reports a real failure
        pass


PLOT_FILES = ("score_histogram.png", "pass_rates.png")


def plot_data(rubric: Rubric, scores: list[float], checks: list[Any], rates: dict[str, float]) -> dict[str, Any]:
    """What the plots show, as plain data (it crosses to the plot process as JSON): the
    checks in the order given (`by_pass_rate`)."""
    return {
        "files": list(PLOT_FILES),
        "title": f"{rubric.section} {rubric.title}",
        "max_score": float(rubric.max_score),
        "scores": [float(s) for s in scores],
        "checks": [c.id for c in checks],
        "rates": [float(rates[c.id]) for c in checks],
    }


def histogram_figure(data: dict[str, Any]) -> Any:
    """Scores in one-point bins; the count axis has whole-number ticks (students are not split)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _pyplot().subplots(figsize=(6, 3.5))
    max_score = data["max_score"]
    ax.hist(data["scores"], bins=max(1, int(max_score)), range=(0, max_score), color="#4477aa", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{data['title']}: scores")
    fig.tight_layout()
    return fig


def pass_rate_figure(data: dict[str, Any]) -> Any:
    """One bar per check in the order given, the first at the top."""
    ids = data["checks"]
    fig, ax = _pyplot().subplots(figsize=(7, 0.3 * len(ids) + 1.2))
    values = [100 * rate for rate in data["rates"]]
    colors = ["#cc3311" if v < 50 else "#ee7733" if v < 80 else "#009988" for v in values]
    ax.barh(ids, values, color=colors)
    ax.invert_yaxis()  # barh draws the first bar at the bottom
    ax.set_xlim(0, 100)
    ax.set_xlabel("students passing (%)")
    ax.set_title("pass rate per check")
    fig.tight_layout()
    return fig


def render_plots(data: dict[str, Any], only: tuple[str, ...] = PLOT_FILES) -> dict[str, bytes]:
    """The PNG files of `plot_data`'s `data` (name -> bytes); `only`: just these of them."""
    import io

    plt = _pyplot()
    pngs = {}
    for name, draw in zip(PLOT_FILES, (histogram_figure, pass_rate_figure), strict=True):
        if name not in only:
            continue
        fig = draw(data)
        buf = io.BytesIO()
        fig.savefig(buf, dpi=100, format="png")
        plt.close(fig)
        pngs[name] = buf.getvalue()
    return pngs


def _plots(out_dir: str, data: dict[str, Any], render: Callable[[dict[str, Any]], dict[str, bytes]] | None) -> None:
    from ..files import write_atomic

    pngs = None
    if render is not None:
        try:
            pngs = render(data)
        except Exception:  # the plot process failed: drawn here instead
            pngs = None
    if pngs is None:
        pngs = render_plots(data)
    for name in PLOT_FILES:
        write_atomic(os.path.join(out_dir, name), pngs[name])
