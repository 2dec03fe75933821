"""The pipe kernel's shortcut past IPython's input transformations (`pipe_kernel.plain_python`)
and its top-level-await check (`_async_possible`): whenever a shortcut is taken, IPython itself
would have given the same answer. Hypothesis builds cells from fragments of Python and of
IPython's own syntax (magics, shell escapes, help, prompts, autocall escapes, indentation,
blank lines, strings spanning lines, top-level await)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.async_helpers import _should_be_async
from IPython.core.inputtransformer2 import TransformerManager

from grader.pipe_kernel import _as_is, _async_possible, plain_python

FRAGMENTS = [
    "x = 1",
    "import torch",
    "def f(a, b):",
    "    return a % b",
    "    return a != b",
    "    pass",
    "y = f(2, 3)",
    "print('100%')",
    "%time y = 1",
    "%%timeit",
    "!ls",
    "files = !ls",
    "t = %time 1",
    "f?",
    "??f",
    "help(f)",
    ">>> x = 2",
    "... x",
    "...",
    "In [1]: x = 3",
    "   ...: x = 4",
    "[nav] In [2]: x",
    "/f 1 2",
    ",f a b",
    ";f a b",
    "a = [1,",
    "     2]",
    "s = '''",
    "''' ",
    's = """text',
    '"""',
    "",
    "   ",
    "\t",
    "  x = 5",
    "await g()",
    "async def g():",
    "async with m:",
    "async for i in r:",
    "result = await h",
    "x = 'await'",
    "# a comment with ? and %",
    "class C:",
    "    y: int = 2",
    "z = (1 if x else 2)",
    "\\",
    "x = 1; y = 2",
    "if x:\n    y = 1\nelse:\n    y = 2",
]

cells = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map("\n".join)
endings = st.sampled_from(["", "\n", "\n\n", "  \n"])


@settings(max_examples=600, deadline=None)
@given(cells, endings)
def test_a_cell_taken_as_plain_python_is_what_ipython_makes_of_it(cell, ending):
    cell += ending
    if plain_python(cell):
        assert TransformerManager().transform_cell(cell) == _as_is(cell)


@settings(max_examples=600, deadline=None)
@given(cells)
def test_a_cell_without_await_or_async_never_needs_the_coroutine_runner(cell):
    if not _async_possible(cell):
        assert _should_be_async(cell) is False


def test_ordinary_notebook_code_takes_the_shortcut_and_ipython_syntax_does_not():
    assert plain_python("import torch\nX = torch.ones((6, 8))\nX[:, 2:6] = 0\nX")
    assert plain_python("def f(a):\n    return a\n\n\ny = f(1)\n")
    for cell in ["%time x = 1", "x = !ls", "f?", ">>> x", "  x = 1", "\nx = 1", "In [1]: x", "/f 1", "x\n   \ny"]:
        assert not plain_python(cell), cell
    assert not plain_python("")
    assert _async_possible("await g()") and not _async_possible("x = 1")
