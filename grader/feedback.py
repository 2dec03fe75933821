"""Per-student feedback files: `OUT_DIR/feedback/<student>.html` and `.md`.

What a student gets back after grading: the score (the checks' points plus the marks a person
gave), every check with its verdict, the free-text items with their points and comments, and
what went wrong with the notebook itself. A hidden check is shown by name, points and
passed/failed only: its message and description could give away its inputs, so they are never
written, whatever they say.

The HTML is one self-contained file (inline CSS, no scripts, no fonts or images from anywhere,
a Content-Security-Policy that forbids loading anything), because it is mailed, uploaded to an
LMS or opened from a phone's downloads. Everything that comes from a notebook or a person is
escaped: `html.escape` in the page, backslash escapes or code fences in the Markdown.
"""

from __future__ import annotations

import html
import os
import re

from .files import write_atomic
from .manual import GradedBatch, clean_text
from .results import PASSED, CheckResult

FOLDER = "feedback"
FORMATS = ("html", "md")

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .3rem}
.score{font-size:1.3rem;font-weight:600;background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
.score small{display:block;font-size:.9rem;font-weight:400;color:#4b5563}
.item{background:#fff;border-radius:.5rem;padding:.6rem .9rem;margin:.5rem 0;overflow-wrap:anywhere}
.row{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline}
.name{font-weight:600;flex:1 1 12rem}.pts{white-space:nowrap}
.passed{color:#13773a}.failed,.error,.not-run{color:#b42318}.pending{color:#6b7280}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f1f3f5;padding:.5rem;border-radius:.3rem;margin:.4rem 0 0;font-size:.85rem}
.prompt{color:#4b5563;margin:.3rem 0}.comment{border-left:3px solid #9ca3af;padding-left:.6rem;margin:.4rem 0 0;white-space:pre-wrap}
"""


def _shown(check: CheckResult | None, hidden: bool) -> tuple[str, float, str]:
    """A check's status, points and the message a student may see."""
    if check is None:
        return "not run", 0.0, ""
    status = check.status
    if hidden:
        status = "passed" if check.status == PASSED else "failed"
        return status, check.score, ""
    return status, check.score, "" if check.status == PASSED else check.message


def _sections(batch: GradedBatch, student: str) -> list[tuple[str, list[tuple[str, str, str, str, str]]]]:
    """The checks by exercise (in the rubric's order): (title, [(id, status, points, message, description)])."""
    result = batch.result(student)
    by_id = {c.id: c for c in result.checks}
    titles = {e.id: e.title for e in batch.rubric.exercises}
    sections: dict[str, list[tuple[str, str, str, str, str]]] = {}
    for spec in batch.rubric.checks:
        check = by_id.get(spec.id)
        hidden = bool(spec.hidden or (check is not None and check.hidden))
        status, score, message = _shown(check, hidden)
        points = f"{score:g}/{float(spec.points):g}"
        name = spec.id + (" (hidden)" if hidden else "")
        description = "" if hidden else (spec.description or "")
        sections.setdefault(titles.get(spec.exercise, spec.exercise), []).append(
            (name, status, points, clean_text(message), clean_text(description))
        )
    return list(sections.items())


def _manual(batch: GradedBatch, student: str) -> list[tuple[str, str, str, str]]:
    """(item id, prompt, points shown, comment) per free-text item."""
    out = []
    for item in batch.items:
        mark = batch.marks.get(student, item.id)
        points = f"{mark.points:g}/{item.points:g}" if mark and mark.points is not None else "not marked yet"
        out.append((item.id, item.prompt, points, clean_text(mark.comment) if mark else ""))
    return out


def _problems(batch: GradedBatch, student: str) -> list[str]:
    result = batch.result(student)
    return [clean_text(e.message) for e in result.errors]


def _score_lines(batch: GradedBatch, student: str) -> tuple[str, str]:
    """The score as the gradebook has it: with the batch's late policy applied, if it has one
    (the student sees the same number the LMS gets, and why it is lower)."""
    score = batch.totals(student)
    total, percent, late = score.total, score.percent, ""
    rules = batch.late_rules()
    if rules is not None:
        lateness = rules.assess(batch.records[student], score.total)
        if lateness.days_late:
            total = round(lateness.final, 6)
            percent = 100.0 * total / score.max if score.max else 0.0
            days = f"{lateness.days_late} day{'s' if lateness.days_late != 1 else ''}"
            late = f" · late {days}: {100 * lateness.penalty:g}% off {score.total:g}"
    head = f"Score: {total:g}/{score.max:g} ({percent:.1f}%)"
    detail = f"automatic checks {score.automatic:g}/{score.automatic_max:g}"
    if batch.items:
        marked = sum(1 for m in batch.items if batch.marks.points(student, m.id) is not None)
        detail += f" · free-text answers {score.manual:g}/{score.manual_max:g} ({marked} of {len(batch.items)} marked)"
    return head, detail + late


def _title(batch: GradedBatch) -> str:
    return f"{batch.rubric.section} {batch.rubric.title}"


# ----------------------------------------------------------------------------- HTML
def render_html(batch: GradedBatch, student: str) -> str:
    e = html.escape
    head, detail = _score_lines(batch, student)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{e(_title(batch))} — {e(student)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{e(_title(batch))}</h1>",
        f'<p>Feedback for <strong>{e(student)}</strong></p><p class="score">{e(head)}<small>{e(detail)}</small></p>',
    ]
    problems = _problems(batch, student)
    if problems:
        out.append("<h2>Problems with the notebook</h2>")
        out += [f'<div class="item"><pre>{e(p)}</pre></div>' for p in problems]
    out.append("<h2>Checks</h2>")
    for title, checks in _sections(batch, student):
        out.append(f"<h3>{e(title)}</h3>")
        for name, status, points, message, description in checks:
            css = status.replace(" ", "-")
            out.append(
                f'<div class="item"><div class="row"><span class="name">{e(name)}</span>'
                f'<span class="pts">{e(points)}</span><span class="{css}">{e(status)}</span></div>'
                + (f'<div class="prompt">{e(description)}</div>' if description else "")
                + (f"<pre>{e(message)}</pre>" if message else "")
                + "</div>"
            )
    manual = _manual(batch, student)
    if manual:
        out.append("<h2>Free-text answers</h2>")
        for item_id, prompt, points, comment in manual:
            css = "pending" if points == "not marked yet" else "pts"
            out.append(
                f'<div class="item"><div class="row"><span class="name">{e(item_id)}</span>'
                f'<span class="{css}">{e(points)}</span></div><div class="prompt">{e(prompt)}</div>'
                + (f'<div class="comment">{e(comment)}</div>' if comment else "")
                + "</div>"
            )
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- Markdown
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#&~"})


def md_inline(text: str) -> str:
    """One line of inert Markdown: no emphasis, links, HTML, tables or headings from the text."""
    return " ".join(text.split()).translate(_MARKDOWN)


def md_block(text: str) -> str:
    """Text kept as written (a message with its layout) in a fence no backtick run inside can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def render_markdown(batch: GradedBatch, student: str) -> str:
    head, detail = _score_lines(batch, student)
    out = [f"# {md_inline(_title(batch))}", "", f"Feedback for **{md_inline(student)}**", ""]
    out += [f"**{md_inline(head)}**  ", md_inline(detail), ""]
    problems = _problems(batch, student)
    if problems:
        out += ["## Problems with the notebook", ""]
        for problem in problems:
            out += [md_block(problem), ""]
    out += ["## Checks", ""]
    for title, checks in _sections(batch, student):
        out += [f"### {md_inline(title)}", ""]
        for name, status, points, message, description in checks:
            bullet = f"* **{md_inline(name)}** — {md_inline(points)} — {md_inline(status)}"
            out.append(bullet + (f": {md_inline(description)}" if description else ""))
            if message:
                out += ["", *("    " + line for line in md_block(message).splitlines()), ""]
        out.append("")
    manual = _manual(batch, student)
    if manual:
        out += ["## Free-text answers", ""]
        for item_id, prompt, points, comment in manual:
            out += [f"* **{md_inline(item_id)}** — {md_inline(points)}: {md_inline(prompt)}"]
            if comment:
                out += ["", *(f"    > {md_inline(line)}" if line.strip() else "    >" for line in comment.splitlines())]
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_feedback(batch: GradedBatch, formats: tuple[str, ...] = FORMATS) -> list[str]:
    """Write every student's feedback file(s); returns their paths."""
    folder = os.path.join(batch.out_dir, FOLDER)
    paths = []
    for student in batch.students:
        if "html" in formats:
            paths.append(os.path.join(folder, student + ".html"))
            write_atomic(paths[-1], render_html(batch, student))
        if "md" in formats:
            paths.append(os.path.join(folder, student + ".md"))
            write_atomic(paths[-1], render_markdown(batch, student))
    return paths
