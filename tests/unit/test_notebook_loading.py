"""Reading a submitted file: pathological notebooks are refused in one sentence, quickly.

`grader.notebook.load` checks the file's shape on its raw text before `json` or `nbformat`
walk it: nesting depth and the number of JSON objects without recursion (`json_shape`), then
cells and code size. Nothing here starts a kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import notebook
from grader.notebook import MAX_CELLS, MAX_CODE_CHARS, MAX_JSON_CONTAINERS, MAX_JSON_DEPTH, UnusableNotebook, json_shape

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _cell(i: int, source: str = "x = 1", **extra) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"c{i}",
        "metadata": {},
        "outputs": [],
        "source": source,
        **extra,
    }


def _notebook(cells: list[dict], **metadata) -> dict:
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _write(tmp_path, text: str, name: str = "nb.ipynb") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _refused(path: str) -> str:
    with pytest.raises(UnusableNotebook) as info:
        notebook.load(path)
    reason = str(info.value)
    assert "\n" not in reason and reason.startswith(path + ": ")
    return reason


# ----------------------------------------------------------------------------- the caps
def test_json_nested_200k_deep_is_refused_without_a_recursion_error(tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    text = json.dumps(_notebook([_cell(0)])).replace('"metadata": {}', f'"metadata": {{"x": {deep}}}', 1)
    assert f"nested more than {MAX_JSON_DEPTH} levels deep" in _refused(_write(tmp_path, text))


def test_invalid_deep_json_is_refused_too(tmp_path):
    assert "not a notebook" in _refused(_write(tmp_path, '{"cells": ' + "[{" * 100_000))
    # brackets hidden from the scan by a stray quote: the parser's own recursion limit is caught
    assert "not a notebook" in _refused(_write(tmp_path, '"' + "[" * 100_000))


def test_nesting_just_inside_the_cap_loads(tmp_path):
    depth = MAX_JSON_DEPTH - 5  # the notebook itself takes a few levels
    nested = "[" * depth + "]" * depth
    text = json.dumps(_notebook([_cell(0)])).replace('"metadata": {}', f'"metadata": {{"x": {nested}}}', 1)
    assert notebook.load(_write(tmp_path, text)).cells[0].metadata["x"]


def test_too_many_cells_are_refused(tmp_path):
    text = json.dumps(_notebook([_cell(i) for i in range(MAX_CELLS + 1)]))
    assert f"more than {MAX_CELLS:,} cells" in _refused(_write(tmp_path, text))


def test_cells_are_counted_exactly_after_parsing(tmp_path):
    """The quick count looks for "cell_type" keys; cells without one are still counted (then
    nbformat would refuse them anyway, but only after validating all of them)."""
    cells = [{"source": "x", "metadata": {}} for _ in range(MAX_CELLS + 1)]
    assert f"{MAX_CELLS + 1:,} cells, more than the {MAX_CELLS:,}" in _refused(
        _write(tmp_path, json.dumps(_notebook(cells)))
    )


def test_a_notebook_at_the_cell_cap_loads(tmp_path):
    nb = notebook.load(_write(tmp_path, json.dumps(_notebook([_cell(i) for i in range(MAX_CELLS)]))))
    assert len(nb.cells) == MAX_CELLS


def test_too_many_json_objects_are_refused(tmp_path):
    output = {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"application/json": [[]] * (MAX_JSON_CONTAINERS + 1)},
    }
    text = json.dumps(_notebook([_cell(0, execution_count=1, outputs=[output])]))
    assert f"more than {MAX_JSON_CONTAINERS:,} JSON objects and lists" in _refused(_write(tmp_path, text))


def test_too_much_code_is_refused_but_long_markdown_is_not(tmp_path):
    code = "x = 1\n" * (MAX_CODE_CHARS // 6 + 1)
    assert "KiB of code, more than the 512 KiB" in _refused(_write(tmp_path, json.dumps(_notebook([_cell(0, code)]))))
    as_lines = _cell(0, code.splitlines(keepends=True))  # nbformat's other form of a source
    assert "KiB of code" in _refused(_write(tmp_path, json.dumps(_notebook([as_lines]))))
    prose = {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "[text] " * (MAX_CODE_CHARS // 3)}
    assert len(notebook.load(_write(tmp_path, json.dumps(_notebook([_cell(0), prose])))).cells) == 2


def test_the_course_notebooks_load(course):
    for folder in ("exercises", "reference"):
        for rubric in course.assignments.values():
            assert notebook.load(os.path.join(course.root, folder, rubric.notebook)).cells


# ----------------------------------------------------------------------------- 47 MiB files
@pytest.fixture(scope="session")
def huge_files(tmp_path_factory):
    """Files near the 50 MiB limit: 440,000 cells; one long string full of brackets; one long
    code cell (written as text: json.dump of 440,000 dicts alone takes seconds, and so did
    440,000 json.dumps of one cell each)."""
    folder = tmp_path_factory.mktemp("huge")
    head, tail = json.dumps(_notebook([_cell(0)])).split(json.dumps(_cell(0)))
    before_id, after_id = json.dumps(_cell(0)).split('"c0"')  # each cell is this text with its own id
    texts = {
        "many": head + ", ".join([f'{before_id}"c{i}"{after_id}' for i in range(440_000)]) + tail,
        "brackets": json.dumps(
            _notebook([_cell(0), {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "[{" * (23 * 2**20)}])
        ),
        "long-code": json.dumps(_notebook([_cell(0, "x = 1\n" * (7 * 2**20))])),
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = _write(folder, text, f"{name}.ipynb")
        assert 40 * 2**20 < os.path.getsize(paths[name]) < notebook.MAX_NOTEBOOK_BYTES
    return paths


@pytest.mark.xdist_group("huge-notebooks")  # the three files are written once, on one worker (~2 s)
@pytest.mark.parametrize("name, reason", [("many", "cells"), ("long-code", "KiB of code"), ("brackets", None)])
def test_a_47_mib_file_is_handled_quickly(huge_files, name, reason):
    """Measured on the project's 2-core machine: the refusals take 0.15-0.3 s and reading the
    bracket file 0.5 s (before these caps: 12.8 s for the 469k-cell file). The bound here is
    deliberately generous (a loaded CI machine), there only to catch a return to seconds of
    work per file."""
    started = time.monotonic()
    if reason is None:
        assert len(notebook.load(huge_files[name]).cells) == 2
    else:
        assert reason in _refused(huge_files[name])
    assert time.monotonic() - started < 10


# ----------------------------------------------------------------------------- json_shape
def _depth_and_containers(value) -> tuple[int, int]:
    if isinstance(value, list):
        inner = [_depth_and_containers(v) for v in value]
    elif isinstance(value, dict):
        inner = [_depth_and_containers(v) for v in value.values()]
    else:
        return 0, 0
    return 1 + max((d for d, _ in inner), default=0), 1 + sum(c for _, c in inner)


TRICKY_TEXT = st.lists(st.sampled_from([*"[]{}\"\\'/ab \n\t", "é", "\u2028", "😀", "\\u005c", '\\"']), max_size=12).map(
    "".join
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_json_shape_agrees_with_the_parser(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_shape(text, 10**9, 10**9) == _depth_and_containers(json.loads(text))


def test_json_shape_stops_early():
    text = "[" * 5_000_000 + "]" * 5_000_000
    assert json_shape(text, 100, 10**9)[0] <= 4 * 2**20 + 1  # the first chunk settles it


# ----------------------------------------------------------------------------- the command line
def test_check_refuses_a_deep_notebook_in_one_line_with_exit_2(tmp_path, rubrics):
    deep = "[" * 200_000 + "]" * 200_000
    text = json.dumps(_notebook([_cell(0)], d2l_grader={"assignment": "conv-layer"}))
    path = _write(tmp_path, text.replace('"metadata": {}', f'"metadata": {{"x": {deep}}}', 1))
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", path, "--assignment", "conv-layer", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nested more than 100 levels deep" in lines[0] and "Traceback" not in proc.stderr
    # the assignment's points, all lost, nothing else
    assert json.loads(proc.stdout)["max_score"] == rubrics["conv-layer"].max_score


def test_nbformat_writes_what_load_reads(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("[{\\"")')])
    path = str(tmp_path / "n.ipynb")
    nbformat.write(nb, path)
    assert notebook.load(path).cells[0].source == 'print("[{\\"")'


def test_a_name_missing_because_its_cell_raised_points_to_that_cell():
    from grader.results import CheckResult, NotebookError

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 6.2"),
            nbformat.v4.new_code_cell("import torch\nx = 1"),
            nbformat.v4.new_code_cell(
                "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    y = err\nraise TypeError('t')"
            ),
            nbformat.v4.new_code_cell("def f():\n    inner = 2\n    return inner\nz = 1 / 0"),
        ]
    )
    errors = [
        NotebookError("cell-error", "cell 3 raised TypeError: t", 3),
        NotebookError("cell-error", "cell 4 raised ZeroDivisionError: division by zero", 4),
    ]
    checks = [
        CheckResult(n, "ex1", 0.0, 1.0, "error", False, f"name `{n}` is not defined in your notebook")
        for n in ("y", "z", "f", "inner", "w")
    ]
    notebook.explain_missing_names(checks, errors, nb)
    said = {c.id: c.message.split("notebook", 1)[1] for c in checks}
    assert said == {
        "y": ": cell 3, which defines it, raised TypeError: t",  # bound inside an except block
        "z": ": cell 4, which defines it, raised ZeroDivisionError: division by zero",
        "f": ": cell 4, which defines it, raised ZeroDivisionError: division by zero",
        "inner": "",  # a function's local is no name of the notebook's
        "w": "",  # defined nowhere: nothing to point to
    }


# ----------------------------------------------------------------------------- free text without our metadata
def _md(text, answer=None):
    cell = nbformat.v4.new_markdown_cell(text)
    if answer:
        cell.metadata["d2l_grader"] = {"answer": answer}
    return cell


def _free_text(rubrics, cells):
    items = notebook.collect_manual(nbformat.v4.new_notebook(cells=cells), rubrics["conv-layer"])
    return {m.id: (m.answer, m.found) for m in items}


def test_free_text_without_metadata_is_found_after_its_prompt_or_heading_and_says_where(rubrics):
    prompts = {m.id: m.prompt for m in rubrics["conv-layer"].manual}
    code = nbformat.v4.new_code_cell
    cells = [
        _md("# 6.2 Convolutions"),
        _md("**" + prompts["ex1-observations"] + "**"),  # 2: the prompt, emphasised
        code("X_diag = 1"),
        _md("K finds the edge."),  # 4
        _md("Transposing moves it."),  # 5
        _md("### Exercise 3"),  # 6: a heading naming the exercise
        _md("W is sparse."),  # 7
        _md("## Exercises"),  # 8: the book's list, answers numbered
        _md("1. ignored: exercise 1 was found above"),
        _md("**4.** [1, -2, 1], and ones."),  # 10
        _md(prompts["ex2-explanation"] + "\n\nIt fails on 4-D input."),  # 11: prompt and answer in one cell
    ]
    found = _free_text(rubrics, cells)
    assert found["ex1-observations"] == (
        "K finds the edge.\n\nTransposing moves it.",
        "cells 4, 5, after the prompt in cell 2",
    )
    assert found["ex3-form"] == ("W is sparse.", "cell 7, after the heading in cell 6")
    assert found["ex4-kernels"] == ("[1, -2, 1], and ones.", "cell 10, numbered 4 in cell 10")
    assert found["ex2-explanation"] == ("It fails on 4-D input.", "cell 11, after the prompt in cell 11")


def test_a_tagged_cell_wins_and_a_missing_answer_says_where_it_was_looked_for(rubrics):
    prompts = {m.id: m.prompt for m in rubrics["conv-layer"].manual}
    cells = [
        _md(prompts["ex1-observations"]),
        _md("an untagged guess"),
        _md("the tagged answer", answer="ex1-observations"),
        _md(notebook.ANSWER_PLACEHOLDER, answer="ex2-explanation"),
        _md(prompts["ex3-form"]),  # a prompt with nothing after it: the next prompt ends it
        _md(prompts["ex4-kernels"]),
    ]
    found = _free_text(rubrics, cells)
    assert found["ex1-observations"] == ("the tagged answer", "cell 3, tagged ex1-observations")
    assert found["ex2-explanation"] == ("", "cell 4, tagged ex2-explanation")
    assert found["ex3-form"] == ("", "nothing after the prompt in cell 5")
    assert found["ex4-kernels"] == ("", "nothing after the prompt in cell 6")
    nothing = _free_text(rubrics, [_md("# Notes"), _md("some text")])
    assert nothing["ex1-observations"] == (
        "",
        "looked for a cell tagged ex1-observations, markdown after the prompt, a heading naming the exercise "
        "(Exercise 1), a cell starting with 1. under an Exercises heading",
    )
