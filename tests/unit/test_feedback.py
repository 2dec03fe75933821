"""`grader feedback`: one file per student, what a student may see and nothing more.

Built from hand-made results for the course's "conv-layer" (its free-text items given 2 points
each here): alice passed everything, bob failed a public and a hidden check and wrote hostile
text, hal's notebook could not be read. The Markdown is rendered with markdown-it (CommonMark,
which rich already brings) to check it is inert, and the HTML is parsed to list its tags.
"""

from __future__ import annotations

import dataclasses
import os
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from grader import cli
from grader.batch import BatchRecord
from grader.feedback import md_block, md_inline, render_html, render_markdown, write_feedback
from grader.manual import GradedBatch, Mark, Marks
from grader.results import ERROR, FAILED, PASSED, CheckResult, GradeResult, ManualItem, NotebookError

HOSTILE = "</textarea><script>alert('x')</script><img src=x onerror=alert(1)> \"q\" 'q' & *em* [a](http://x)"
SECRET = "SECRET-hidden-input-[[7, 3]]"
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "strong", "small"}
ALLOWED_TAGS |= {"div", "span", "pre"}


@pytest.fixture(scope="module")
def rubric(rubrics):
    base = rubrics["conv-layer"]
    return dataclasses.replace(base, manual=[m.model_copy(update={"points": 2.0}) for m in base.manual])


def _checks(rubric, failed: dict[str, tuple[str, str]]) -> list[CheckResult]:
    """Every check passed, but those in `failed` (id -> (status, message))."""
    out = []
    for c in rubric.checks:
        status, message = failed.get(c.id, (PASSED, ""))
        score = float(c.points) if status == PASSED else 0.0
        out.append(CheckResult(c.id, c.exercise, score, float(c.points), status, c.hidden, message, c.description))
    return out


@pytest.fixture(scope="module")
def hidden_ids(rubric) -> list[str]:
    ids = [c.id for c in rubric.checks if c.hidden]
    assert len(ids) >= 2
    return ids


@pytest.fixture
def batch(tmp_path, rubric, hidden_ids) -> GradedBatch:
    public = next(c.id for c in rubric.checks if not c.hidden)
    manual = [ManualItem(m.id, m.exercise, m.prompt, HOSTILE, m.points) for m in rubric.manual]
    results = {
        "alice": GradeResult(rubric.id, "alice.ipynb", rubric.max_score, checks=_checks(rubric, {})),
        "bob": GradeResult(
            rubric.id,
            "bob.ipynb",
            rubric.max_score,
            checks=_checks(
                rubric,
                {
                    public: (FAILED, "expected 3.0, got " + HOSTILE),
                    hidden_ids[0]: (FAILED, SECRET),
                    hidden_ids[1]: (ERROR, SECRET),
                },
            ),
            manual=manual,
            errors=[NotebookError("cell-error", "cell 4 raised ValueError: " + HOSTILE + "\n```\n# not a heading", 4)],
        ),
        "hal": GradeResult(
            rubric.id, "hal.ipynb", rubric.max_score, errors=[NotebookError("invalid-notebook", "not a notebook")]
        ),
    }
    marks = Marks(rubric.id)
    marks.put("bob", "ex1-observations", Mark(1.5, "Good start.\n" + HOSTILE))
    marks.put("bob", "ex3-form", Mark(None, "Comment without points"))
    records = {s: BatchRecord(s, r, "", "") for s, r in results.items()}
    return GradedBatch(str(tmp_path), rubric, records, marks)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


# ----------------------------------------------------------------------------- HTML
def test_html_shows_the_score_with_the_manual_points_and_every_check(batch, rubric, hidden_ids):
    text = "".join(parse(render_html(batch, "bob")).text)
    points = {c.id: c.points for c in rubric.checks}
    public = next(c.id for c in rubric.checks if not c.hidden)
    automatic = rubric.max_score - points[public] - points[hidden_ids[0]] - points[hidden_ids[1]]
    manual_max = sum(m.points for m in rubric.manual)  # 2 points per item
    full = rubric.max_score + manual_max
    assert f"Score: {automatic + 1.5:g}/{full:g} ({100 * (automatic + 1.5) / full:.1f}%)" in text
    assert f"automatic checks {automatic:g}/{rubric.max_score:g}" in text
    assert f"free-text answers 1.5/{manual_max:g} (1 of {len(rubric.manual)} marked)" in text
    for check in rubric.checks:
        assert check.id in text
    assert (
        "1.5/2" in text and text.count("not marked yet") == len(rubric.manual) - 1 and "Comment without points" in text
    )


def test_hidden_checks_show_name_points_and_pass_fail_but_never_their_message(batch, rubric, hidden_ids):
    for render in (render_html, render_markdown):
        text = render(batch, "bob")
        assert "SECRET" not in text
        for check in rubric.checks:
            if check.hidden and check.description:
                assert check.description not in text
    points = {c.id: c.points for c in rubric.checks}
    words = [t.strip() for t in parse(render_html(batch, "bob")).text if t.strip()]
    markdown = render_markdown(batch, "bob").splitlines()
    for hidden in hidden_ids[:2]:  # one failed, one errored: both read "failed", and nothing more
        at = words.index(f"{hidden} (hidden)")
        assert words[at + 1 : at + 3] == [f"0/{points[hidden]:g}", "failed"]
        assert f"* **{hidden} (hidden)** — 0/{points[hidden]:g} — failed" in markdown


def test_public_failures_show_their_message_and_notebook_problems_are_listed(batch):
    text = "".join(parse(render_html(batch, "bob")).text)
    assert "expected 3.0, got " + HOSTILE in text
    assert "cell 4 raised ValueError: " + HOSTILE in text
    hal = "".join(parse(render_html(batch, "hal")).text)
    assert "not a notebook" in hal and "not run" in hal and "Score: 0/" in hal


def test_hostile_text_stays_text_in_the_html(batch):
    page = render_html(batch, "bob")
    parsed = parse(page)
    assert parsed.tags <= ALLOWED_TAGS  # no script, img, a, textarea: the student's markup is text
    assert "<script" not in page and "</textarea>" not in page and "<img" not in page
    assert [a for a in parsed.attrs if a[0] in ("src", "href", "onerror", "style")] == []
    assert "&lt;script&gt;" in page and "&quot;q&quot;" in page and "&#x27;q&#x27;" in page


def test_html_is_self_contained_and_fits_a_phone(batch):
    page = render_html(batch, "alice")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "default-src 'none'" in page  # the file itself forbids loading anything
    for outside in ("http://", "https://", "src=", "href=", "@import", "url("):
        assert outside not in page
    assert "<style>" in page and "max-width" in page


# ----------------------------------------------------------------------------- Markdown
def test_markdown_renders_to_inert_html(batch):
    rendered = MarkdownIt("commonmark").render(render_markdown(batch, "bob"))
    parsed = parse(rendered)
    assert parsed.tags <= {"h1", "h2", "h3", "p", "strong", "ul", "li", "pre", "code", "blockquote", "br"}
    text = "".join(parsed.text)
    assert "expected 3.0, got " + HOSTILE in text  # the message, whole, as code
    assert "Good start." in text and "\"q\" 'q' & *em* [a](http://x)" in text  # the comment, literally
    assert "# not a heading" in text and "SECRET" not in text


def test_a_message_full_of_backticks_cannot_close_its_fence():
    text = "a ```` b\n```\nafter"
    block = md_block(text)
    rendered = MarkdownIt("commonmark").render(block)
    assert rendered.count("<pre>") == 1 and "after" in rendered.split("</pre>")[0]


def test_inline_markdown_escapes_what_could_make_markup():
    assert md_inline("a <b> *c* _d_ [e](f) `g` | # & ~") == r"a \<b\> \*c\* \_d\_ \[e\](f) \`g\` \| \# \& \~"
    assert md_inline("two\nlines") == "two lines"


# ----------------------------------------------------------------------------- files and command
def test_write_feedback_writes_each_format_per_student(batch, tmp_path):
    paths = write_feedback(batch, ("html", "md"))
    assert sorted(os.listdir(tmp_path / "feedback")) == [
        f"{s}.{x}" for s in ("alice", "bob", "hal") for x in ("html", "md")
    ]
    assert len(paths) == 6
    assert (tmp_path / "feedback" / "bob.html").read_text(encoding="utf-8") == render_html(batch, "bob")


def test_feedback_command_writes_html_only_when_asked(tmp_path, rubrics):
    rubric = rubrics["conv-layer"]
    os.makedirs(tmp_path / "results")
    result = GradeResult(rubric.id, "zoe.ipynb", rubric.max_score, checks=_checks(rubric, {}))
    (tmp_path / "results" / "zoe.json").write_text(BatchRecord("zoe", result, "", "").to_json(), encoding="utf-8")
    run = CliRunner().invoke(cli.main, ["feedback", str(tmp_path), "--format", "html"], prog_name="grader")
    assert run.exit_code == 0, run.output
    assert os.listdir(tmp_path / "feedback") == ["zoe.html"]
    assert "wrote 1 feedback file(s) for 1 student(s)" in run.stdout
    full = f"{rubric.max_score:g}"
    assert f"Score: {full}/{full} (100.0%)" in (tmp_path / "feedback" / "zoe.html").read_text(encoding="utf-8")


def test_feedback_command_on_a_folder_that_is_not_a_batch_exits_2(tmp_path):
    run = CliRunner().invoke(cli.main, ["feedback", str(tmp_path)], prog_name="grader")
    assert run.exit_code == 2 and run.stderr.strip().startswith("grader: ") and "no results/ folder" in run.stderr
