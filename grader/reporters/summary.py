"""The class at a glance: `summary.md`, a score histogram and pass rates per check (PNG)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from ..rubric import Rubric


def pass_rates(rubric: Rubric, records: list[Any]) -> dict[str, float]:
    rates = {}
    for check in rubric.checks:
        passed = sum(1 for r in records for c in r.result.checks if c.id == check.id and c.status == "passed")
        rates[check.id] = passed / len(records) if records else 0.0
    return rates


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


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def _escape(text: str) -> str:
    """A message (which may quote a student's exception) as inert Markdown on one line."""
    return " ".join(text.split()).translate(_MARKDOWN)


def write(out_dir: str, rubric: Rubric, records: list[Any]) -> None:
    from ..files import write_atomic

    scores = [r.result.score for r in records]
    statuses = Counter(r.result.status for r in records)
    rates = pass_rates(rubric, records)
    _plots(out_dir, rubric, scores, rates)
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
    for check in sorted(rubric.checks, key=lambda c: rates[c.id]):
        lines.append(
            f"| {check.exercise} | {check.id} | {check.points:g} | {'yes' if check.hidden else 'no'} | {100 * rates[check.id]:.0f}% |"
        )
    lines += ["", "![pass rate per check](pass_rates.png)", ""]
    problems = [line for r in records for line in problem_lines(r)]
    if problems:
        lines += ["## Notebook problems", ""]
        lines += problems
        lines.append("")
    write_atomic(os.path.join(out_dir, "summary.md"), "\n".join(lines))


def _plots(out_dir: str, rubric: Rubric, scores: list[float], rates: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = max(1, int(rubric.max_score))
    ax.hist(scores, bins=bins, range=(0, rubric.max_score), color="#4477aa", edgecolor="white")
    ax.set_xlabel(f"score (out of {rubric.max_score:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{rubric.section} {rubric.title}: scores")
    fig.tight_layout()
    _save(fig, os.path.join(out_dir, "score_histogram.png"))
    plt.close(fig)

    ids = [c.id for c in rubric.checks]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(ids) + 1.2))
    values = [100 * rates[i] for i in ids]
    colors = ["#cc3311" if v < 50 else "#ee7733" if v < 80 else "#009988" for v in values]
    ax.barh(ids[::-1], values[::-1], color=colors[::-1])
    ax.set_xlim(0, 100)
    ax.set_xlabel("students passing (%)")
    ax.set_title("pass rate per check")
    fig.tight_layout()
    _save(fig, os.path.join(out_dir, "pass_rates.png"))
    plt.close(fig)


def _save(fig: Any, path: str) -> None:
    import io

    from ..files import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    write_atomic(path, buf.getvalue())
