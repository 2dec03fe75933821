"""Rubric loading: every validation branch of the model and of the cross-reference pass.

A rubric with a typo in any key, a bad dtype or a bad regex fails to load with a message that
names the file, the check and the key. Each test starts from a copy of the course's real
rubrics and reference modules (in tmp_path), makes one mistake, and asserts the exact message.
Checks are found by id, so the expected `#N` is counted from the file, not hard-coded.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from grader import kinds
from grader.inputs import FLOAT_DTYPES, GENERATORS
from grader.rubric import RubricError, json_schema, load_rubric, rubric_paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# the files of the two rubrics these tests edit (conv-layer has every kind, pooling has probes)
COPIED = [
    "rubrics/conv-layer.toml",
    "rubrics/conv_layer_checks.py",
    "reference/conv_layer.py",
    "rubrics/pooling.toml",
    "rubrics/pooling_checks.py",
    "rubrics/pooling_probes.py",
    "reference/pooling.py",
]


@pytest.fixture
def root(tmp_path: Path, course) -> Path:
    """A copy of two of the course's rubrics with their course modules."""
    for folder in ("rubrics", "reference"):
        (tmp_path / folder).mkdir()
    for file in COPIED:
        shutil.copyfile(Path(course.root) / file, tmp_path / file)
    return tmp_path


class RubricFile:
    """One copied rubric, edited as text table by table (tables are found by their `id`)."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.path = root / "rubrics" / f"{name}.toml"

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def _block(self, table: str, id: str) -> tuple[int, int, int]:
        """(start, end, 1-based number) of the `[[table]]` whose first line is `id = "..."`."""
        text = self.text
        headers = [m.start() for m in re.finditer(rf"^\[\[{table}\]\]\n", text, re.M)]
        for number, start in enumerate(headers, 1):
            if text.startswith(f'[[{table}]]\nid = "{id}"\n', start):
                following = re.compile(r"^\[", re.M).search(text, start + 1)
                return start, following.start() if following else len(text), number
        raise AssertionError(f"no [[{table}]] {id!r} in {self.path.name}")

    def label(self, table: str, id: str) -> str:
        return f"[[{table}]] #{self._block(table, id)[2]} ({id})"

    def replace(self, table: str, id: str, old: str, new: str) -> RubricFile:
        start, end, _ = self._block(table, id)
        text = self.text
        block = text[start:end]
        assert block.count(old) == 1, (old, block)
        self.path.write_text(text[:start] + block.replace(old, new) + text[end:], encoding="utf-8")
        return self

    def set(self, table: str, id: str, key: str, value: str | None) -> RubricFile:
        """Set (a one-line value) or, with None, remove `key` in the table."""
        start, end, _ = self._block(table, id)
        text = self.text
        lines = [line for line in text[start:end].split("\n") if not line.startswith(f"{key} = ")]
        if value is not None:
            lines.insert(2, f"{key} = {value}")  # after `[[table]]` and `id = ...`
        self.path.write_text(text[:start] + "\n".join(lines) + text[end:], encoding="utf-8")
        return self

    def set_assignment(self, key: str, value: str | None) -> RubricFile:
        text = self.text
        head, rest = text.split("[assignment]\n", 1)
        body, tail = rest.split("\n\n", 1)
        lines = [line for line in body.split("\n") if not line.startswith(f"{key} = ")]
        if value is not None:
            lines.append(f"{key} = {value}")
        self.path.write_text(head + "[assignment]\n" + "\n".join(lines) + "\n\n" + tail, encoding="utf-8")
        return self

    def load(self):
        return load_rubric(str(self.path), str(self.root))

    def error(self) -> str:
        with pytest.raises(RubricError) as info:
            self.load()
        return str(info.value)


@pytest.fixture
def conv(root: Path) -> RubricFile:
    return RubricFile(root, "conv-layer")


@pytest.fixture
def pooling(root: Path) -> RubricFile:
    return RubricFile(root, "pooling")


# ----------------------------------------------------------------------------- the real rubrics
def test_every_real_rubric_loads(course):
    paths = rubric_paths(course.root)
    assert len(paths) >= 6
    for path in paths:
        rubric = load_rubric(path, course.root)
        assert rubric.checks and rubric.max_score > 0


@pytest.mark.parametrize("assignment", ["conv-layer", "pooling", "lenet"])
def test_one_exercise_public_part_keeps_its_public_checks_and_free_text_only(course, assignment):
    rubric = course.get(assignment)
    for exercise in rubric.exercises:
        part = rubric.public_part(exercise.id)
        assert [c.id for c in part.checks] == [
            c.id for c in rubric.checks if c.exercise == exercise.id and not c.hidden
        ]
        assert [m.id for m in part.manual] == [m.id for m in rubric.manual if m.exercise == exercise.id]
        assert part.max_score == sum(c.points for c in part.checks)
        assert [e.id for e in part.exercises] == [exercise.id]
    assert any(c.hidden for c in rubric.checks)  # so the filter above had something to leave out
    assert rubric.public_part(rubric.exercises[0].id).id == rubric.id  # still the same assignment


def test_a_diagnosis_names_a_reference_function_and_a_message(conv):
    label = conv.label("check", "min-kernel-size")
    text = conv.text  # the [[check.diagnoses]] table follows its check
    assert text.count('reference = "min_kernel_size_one_short"') == 1
    conv.path.write_text(text.replace('reference = "min_kernel_size_one_short"', 'reference = "no_such_mistake"'))
    assert conv.error() == (
        f"conv-layer.toml: {label}: diagnosis function 'no_such_mistake' is not defined in the reference module"
    )


def test_a_diagnosis_without_its_message_or_with_an_unknown_key_is_refused(conv):
    text = conv.text
    at = text.index('reference = "min_kernel_size_one_short"\nmessage = ')
    conv.path.write_text(text[:at] + text[at:].replace("message = ", "mesage = ", 1))
    error = conv.error()
    assert error.startswith("conv-layer.toml: " + conv.label("check", "min-kernel-size")) and "mesage" in error


def test_an_exercise_the_rubric_lacks_is_refused_naming_the_ones_it_has(course):
    rubric = course.get("conv-layer")
    with pytest.raises(LookupError) as info:
        rubric.public_part("ex9")
    assert str(info.value) == "no exercise 'ex9' in conv-layer; its exercises: " + ", ".join(
        e.id for e in rubric.exercises
    )


def test_the_issue_example_message_shape(conv):
    # the example of the issue, literally: the second check of conv-layer is corr2d-non-square
    assert conv.label("check", "corr2d-non-square") == "[[check]] #2 (corr2d-non-square)"
    conv.set("check", "corr2d-non-square", "atoll", "1e-5")
    assert conv.error() == "conv-layer.toml: [[check]] #2 (corr2d-non-square): unknown key `atoll`"


# ----------------------------------------------------------------------------- unknown keys
def test_unknown_key_in_assignment(conv):
    conv.set_assignment("sede", "62")
    assert conv.error() == "conv-layer.toml: [assignment]: unknown key `sede`"


def test_unknown_key_in_exercise(conv):
    conv.set("exercise", "ex1", "titel", '"x"')
    assert conv.error() == f"conv-layer.toml: {conv.label('exercise', 'ex1')}: unknown key `titel`"


# one check of each kind in conv-layer.toml; the last test of this group keeps it complete
CHECK_OF_KIND = {
    "value": "corr2d-non-square",
    "exception": "conv2d-gradient-error",
    "property": "x-diag-has-diagonal-edge",
}


@pytest.mark.parametrize("kind", sorted(CHECK_OF_KIND))
def test_unknown_key_in_a_check_of_each_kind(conv, kind):
    check = CHECK_OF_KIND[kind]
    conv.set("check", check, "tolerance", "1")
    assert conv.error() == f"conv-layer.toml: {conv.label('check', check)}: unknown key `tolerance`"


# the kinds conv-layer does not use: tests/unit/test_network_kinds.py
# (test_rubric_mistakes_in_the_new_kinds_are_reported) and tests/unit/test_fit_kind.py
# (test_rubric_mistakes_are_reported) have their unknown-key cases
TESTED_ELSEWHERE = {"structure", "gradient", "fit"}


def test_every_kind_has_an_unknown_key_test():
    assert set(CHECK_OF_KIND) | TESTED_ELSEWHERE == set(kinds.registry())


def test_a_key_of_another_kind_is_unknown(conv):
    # `match` belongs to exception checks: on a value check it is a typo like any other
    conv.set("check", "corr2d-example", "match", '"x"')
    assert conv.error() == f"conv-layer.toml: {conv.label('check', 'corr2d-example')}: unknown key `match`"


def test_unknown_key_in_manual(conv):
    conv.set("manual", "ex2-explanation", "pts", "1")
    assert conv.error() == f"conv-layer.toml: {conv.label('manual', 'ex2-explanation')}: unknown key `pts`"


def test_unknown_key_in_a_case_table(conv):
    conv.replace("check", "corr2d-non-square", "{ randn = [1, 2] }] },", "{ randn = [1, 2] }], arg = 1 },")
    assert conv.error() == f"conv-layer.toml: {conv.label('check', 'corr2d-non-square')}: unknown key `cases[1].arg`"


def test_unknown_key_in_an_input_table(conv):
    conv.replace("check", "corr2d-non-square", "{ randn = [6, 8] }", '{ randn = [6, 8], dtyp = "float64" }')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'corr2d-non-square')}: `cases[1].args[1]`: "
        "unknown key(s) dtyp in a randn table (it takes dtype, shape, scale)"
    )


def test_unknown_top_level_table(conv):
    conv.path.write_text(conv.text.replace("[[manual]]", "[[manuals]]"), encoding="utf-8")
    assert conv.error() == "conv-layer.toml: unknown key `manuals`"


def test_misspelt_check_tables_are_unknown_and_check_is_missing(conv):
    misspelt = conv.text.replace("[[check]]", "[[checks]]").replace("[[check.diagnoses]]", "[[checks.diagnoses]]")
    conv.path.write_text(misspelt, encoding="utf-8")
    assert conv.error() == "conv-layer.toml: missing key `check`; unknown key `checks`"


# ----------------------------------------------------------------------------- missing keys
@pytest.mark.parametrize("key", ["id", "title", "section", "notebook", "reference"])
def test_missing_assignment_key(conv, key):
    conv.set_assignment(key, None)
    assert conv.error() == f"conv-layer.toml: [assignment]: missing key `{key}`"


def test_missing_exercise_title(conv):
    conv.set("exercise", "ex1", "title", None)
    assert conv.error() == f"conv-layer.toml: {conv.label('exercise', 'ex1')}: missing key `title`"


@pytest.mark.parametrize(
    ("check", "key"),
    [
        ("corr2d-example", "exercise"),
        ("corr2d-example", "points"),
        ("conv2d-gradient-error", "exception"),
        ("x-diag-has-diagonal-edge", "property"),
    ],
)
def test_missing_check_key(conv, check, key):
    conv.set("check", check, key, None)
    assert conv.error() == f"conv-layer.toml: {conv.label('check', check)}: missing key `{key}`"


def test_missing_check_id_is_named_by_position(conv):
    label = conv.label("check", "corr2d-non-square")
    conv.replace("check", "corr2d-non-square", 'id = "corr2d-non-square"\n', "")
    assert conv.error() == "conv-layer.toml: " + label.replace("corr2d-non-square", "no id") + ": missing key `id`"


@pytest.mark.parametrize("key", ["exercise", "prompt"])
def test_missing_manual_key(conv, key):
    conv.set("manual", "ex1-observations", key, None)
    assert conv.error() == f"conv-layer.toml: {conv.label('manual', 'ex1-observations')}: missing key `{key}`"


def test_missing_assignment_and_checks(conv):
    conv.path.write_text("# nothing yet\n", encoding="utf-8")
    assert conv.error() == "conv-layer.toml: missing key `assignment`; missing key `check`"


# ----------------------------------------------------------------------------- types (strict)
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("points", '"2"', "`points`: Input should be a valid number"),
        ("points", "true", "`points`: Input should be a valid number"),
        ("points", "-1", "`points`: Input should be greater than or equal to 0"),
        ("hidden", '"yes"', "`hidden`: Input should be a valid boolean"),
        ("description", "1", "`description`: Input should be a valid string"),
        ("atol", '"1e-5"', "`atol`: Input should be a valid number"),
        ("rtol", "-1e-5", "`rtol`: Input should be greater than or equal to 0"),
        ("compare", '"exact"', "`compare`: Input should be 'allclose' or 'equal'"),
        ("needs", '["a b"]', "`needs[1]`: String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
        ("call", '"corr2d()"', "`call`: String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
    ],
)
def test_wrong_type_in_a_check(conv, key, value, message):
    conv.set("check", "corr2d-example", key, value)
    assert conv.error() == f"conv-layer.toml: {conv.label('check', 'corr2d-example')}: {message}"


def test_bad_check_id(conv):
    label = conv.label("check", "corr2d-example").replace("corr2d-example", "corr2d example")
    conv.replace("check", "corr2d-example", 'id = "corr2d-example"', 'id = "corr2d example"')
    assert (
        conv.error() == f"conv-layer.toml: {label}: `id`: String should match pattern '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("seed", '"62"', "`seed`: Input should be a valid integer"),
        ("seed", "-1", "`seed`: Input should be greater than or equal to 0"),
        ("section", "6.2", "`section`: Input should be a valid string"),
        ("aliases", '"conv"', "`aliases`: Input should be a valid list"),
        ("notebook", '"conv-layer.py"', "`notebook`: String should match pattern '^[^/\\\\]+\\.ipynb$'"),
        ("reference", '"conv-layer"', "`reference`: String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
        ("title", '""', "`title`: String should have at least 1 character"),
    ],
)
def test_wrong_type_in_assignment(conv, key, value, message):
    conv.set_assignment(key, value)
    assert conv.error() == f"conv-layer.toml: [assignment]: {message}"


def test_wrong_type_in_manual(conv):
    conv.set("manual", "ex1-observations", "points", '"1"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('manual', 'ex1-observations')}: `points`: Input should be a valid number"
    )


def test_every_problem_is_reported_at_once(conv):
    conv.set("check", "corr2d-example", "points", '"1"')
    conv.set("check", "corr2d-non-square", "atoll", "1")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'corr2d-example')}: `points`: Input should be a valid number; "
        f"{conv.label('check', 'corr2d-non-square')}: unknown key `atoll`"
    )


# ----------------------------------------------------------------------------- inputs
def _input_error(conv: RubricFile, spec: str) -> str:
    """Load conv-layer with `spec` as the only input of corr2d-example; return what follows the label."""
    conv.set("check", "corr2d-example", "args", f"[{spec}]")
    prefix = f"conv-layer.toml: {conv.label('check', 'corr2d-example')}: "
    error = conv.error()
    assert error.startswith(prefix), error
    return error[len(prefix) :]


def _good_argument(name: str) -> str:
    return {
        "tensor": "[1.0, 2.0]",
        "array": "[1.0, 2.0]",
        "randint": "[0, 10, [2]]",
        "arange": "2",
        "student": '"X_diag"',
        "tuple": "[1, 2]",
        "list": "[1, 2]",
    }.get(name, "[2]")


@pytest.mark.parametrize("name", list(GENERATORS))
def test_bad_dtype_for_every_generator(conv, name):
    kind = GENERATORS[name]
    if "dtype" not in kind.modifiers:
        message = f"unknown key(s) dtype in a {name} table (it takes nothing else)"
        bad = "float32"
    else:
        bad = "int64" if kind.dtypes == FLOAT_DTYPES else "float16"
        message = f"{name}: dtype must be one of {', '.join(kind.dtypes)}, not {bad!r}"
    spec = f'{{ {name} = {_good_argument(name)}, dtype = "{bad}" }}'
    assert _input_error(conv, spec) == f"`args[1]`: {message}"


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_generator_loads_in_a_rubric(conv, name):
    conv.set("check", "corr2d-example", "args", f"[{{ {name} = {_good_argument(name)} }}]")
    rubric = conv.load()
    (check,) = [c for c in rubric.checks if c.id == "corr2d-example"]
    assert len(check.all_cases[0].args) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{ randint = [0, 10] }", "randint takes [low, high, [shape]], e.g. { randint = [0, 10, [3, 4]] }"),
        ("{ randint = [0, 10, [2], 4] }", "randint takes [low, high, [shape]], e.g. { randint = [0, 10, [3, 4]] }"),
        ("{ randint = [0.5, 10, [2]] }", "randint takes [low, high, [shape]], e.g. { randint = [0, 10, [3, 4]] }"),
        ("{ randint = [5, 5, [2]] }", "randint: low (5) must be below high (5)"),
        ("{ randint = [6, 5, [2]] }", "randint: low (6) must be below high (5)"),
        ("{ randint = [0, 5, 2] }", "randint shape takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ randn = [6, -8] }", "randn takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ rand = 6 }", "rand takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ ones = [2.5] }", "ones takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ zeros = [true] }", "zeros takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ randn = [6], shape = [2, -3] }", "randn: shape takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
        ("{ arange = 9, shape = [2, 4] }", "arange: cannot reshape 9 values to shape [2, 4]"),
        ("{ tensor = [1.0, 2.0, 3.0], shape = [2, 2] }", "tensor: cannot reshape 3 values to shape [2, 2]"),
        ("{ randint = [0, 9, [6]], shape = [4] }", "randint: cannot reshape 6 values to shape [4]"),
        ("{ arange = -1 }", "arange takes a count >= 0, e.g. { arange = 9 }"),
        ("{ tensor = [[1.0, 2.0], [1.0]] }", "tensor takes a (nested) list of numbers with a regular shape"),
        ('{ tensor = "abc" }', "tensor takes a (nested) list of numbers with a regular shape"),
        ('{ randn = [6, 8], scale = "2" }', "randn: scale must be a finite number"),
        ("{ ones = [2], scale = 2 }", "unknown key(s) scale in a ones table (it takes dtype, shape)"),
        ('{ student = "X diag" }', 'student takes the name of a value in the notebook, e.g. { student = "X_diag" }'),
        ("{ tuple = 3 }", "tuple takes a list of inputs"),
        (
            "{ shape = [6, 8] }",
            "an input table needs exactly one of tensor, array, randn, rand, randint, arange, ones, zeros, student, tuple, list",
        ),
        (
            "{ randn = [6, 8], rand = [2] }",
            "an input table needs exactly one of tensor, array, randn, rand, randint, arange, ones, zeros, student, tuple, list (it has randn, rand)",
        ),
        # nested positions count from 1, like the pydantic ones before them
        ('{ tuple = [3, { randn = "x" }] }', "tuple[2]: randn takes a shape: a list of sizes >= 0, e.g. [6, 8]"),
    ],
)
def test_bad_input(conv, spec, message):
    assert _input_error(conv, spec) == f"`args[1]`: {message}"


def test_bad_input_in_a_plain_list_names_its_position(conv):
    assert _input_error(conv, "1, [2, { arange = -1 }]") == (
        "`args[2]`: [2]: arange takes a count >= 0, e.g. { arange = 9 }"
    )


def test_bad_expected_table(conv):
    conv.set("check", "min-kernel-size", "cases", "[{ args = [1], expected = { foo = 1 } }]")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'min-kernel-size')}: `cases[1].expected`: "
        "an expected value is a TOML value, or { tuple = [...] } for a tuple"
    )


# ----------------------------------------------------------------------------- regex, kind, targets
def test_bad_regex_in_match(conv):
    conv.set("check", "conv2d-gradient-error", "match", "'size (0'")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'conv2d-gradient-error')}: `match`: "
        "not a valid regular expression: missing ), unterminated subpattern at position 5"
    )


def test_match_must_be_a_string(conv):
    conv.set("check", "conv2d-gradient-error", "match", "1")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'conv2d-gradient-error')}: `match`: Input should be a valid string"
    )


@pytest.mark.parametrize("kind", ['"exceptional"', "1"])
def test_unknown_kind(conv, kind):
    conv.set("check", "conv2d-gradient-error", "kind", kind)
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'conv2d-gradient-error')}: `kind` must be one of "
        + ", ".join(kinds.registry())
    )


TARGETS = "give exactly one of `name`, `call` or `probe`"


def test_no_target(conv):
    conv.set("check", "conv2d-gradient-error", "name", None)
    assert conv.error() == f"conv-layer.toml: {conv.label('check', 'conv2d-gradient-error')}: {TARGETS}"


@pytest.mark.parametrize("extra", [("call", '"corr2d"'), ("probe", '"describe"')])
def test_two_targets(conv, extra):
    conv.set("check", "conv2d-gradient-error", *extra)
    assert conv.error() == f"conv-layer.toml: {conv.label('check', 'conv2d-gradient-error')}: {TARGETS}"


# ----------------------------------------------------------------------------- cases
@pytest.mark.parametrize(("key", "value"), [("args", "[1]"), ("expected", "1"), ("reference_args", "[1]")])
def test_cases_together_with_single_case_keys(conv, key, value):
    conv.set("check", "min-kernel-size", key, value)
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'min-kernel-size')}: "
        "give either `cases` or `args`/`expected`/`reference_args`, not both"
    )


def test_empty_cases(conv):
    conv.set("check", "min-kernel-size", "cases", "[]")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'min-kernel-size')}: `cases`: "
        "List should have at least 1 item after validation, not 0"
    )


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        (name, CHECK_OF_KIND[name])
        for name, kind in kinds.registry().items()
        if name in CHECK_OF_KIND and not kind.uses_expected
    ],
)
def test_expected_on_a_kind_that_does_not_use_it(conv, kind, check):
    conv.set("check", check, "expected", "1")
    assert conv.error() == f"conv-layer.toml: {conv.label('check', check)}: `expected` is not used by {kind} checks"


def test_expected_in_a_case_of_a_kind_that_does_not_use_it(conv):
    conv.set("check", "integral-kernel", "cases", "[{ args = [1] }, { args = [4], expected = 1 }]")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'integral-kernel')}: `expected` is not used by property checks"
    )


def test_value_check_on_a_name_needs_expected_or_reference(conv):
    conv.set("check", "y-diag-transposed-image", "reference", None)
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'y-diag-transposed-image')}: "
        "a value check on a name or probe needs `expected` or `reference`"
    )


def test_value_check_with_expected_in_only_some_cases(conv):
    conv.set("check", "y-diag-transposed-image", "reference", None)
    conv.set("check", "y-diag-transposed-image", "args", None)
    conv.set("check", "y-diag-transposed-image", "cases", "[{ expected = 1 }, { args = [1] }]")
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'y-diag-transposed-image')}: "
        "a value check on a name or probe needs `expected` or `reference`"
    )


def test_value_check_on_a_name_with_literal_expected_loads(conv):
    conv.set("check", "y-diag-transposed-image", "reference", None)
    conv.set("check", "y-diag-transposed-image", "args", None)
    conv.set("check", "y-diag-transposed-image", "expected", "{ tuple = [1, [2.0, 3.0]] }")
    (check,) = [c for c in conv.load().checks if c.id == "y-diag-transposed-image"]
    assert check.reference_function is None
    assert check.all_cases[0].has_expected


# ----------------------------------------------------------------------------- ids and exercises
def test_duplicate_check_id(conv):
    label = conv.label("check", "corr2d-non-square").replace("corr2d-non-square", "corr2d-example")
    conv.replace("check", "corr2d-non-square", 'id = "corr2d-non-square"', 'id = "corr2d-example"')
    assert conv.error() == f"conv-layer.toml: {label}: duplicate check id"


def test_duplicate_exercise_id(conv):
    conv.path.write_text(conv.text + '\n[[exercise]]\nid = "ex1"\ntitle = "again"\n', encoding="utf-8")
    assert conv.error() == "conv-layer.toml: [[exercise]] 'ex1' is declared twice"


def test_duplicate_manual_id(conv):
    label = conv.label("manual", "ex2-explanation").replace("ex2-explanation", "ex1-observations")
    conv.replace("manual", "ex2-explanation", 'id = "ex2-explanation"', 'id = "ex1-observations"')
    assert conv.error() == f"conv-layer.toml: {label}: duplicate id"


def test_manual_id_equal_to_a_check_id(conv):
    label = conv.label("manual", "ex2-explanation").replace("ex2-explanation", "corr2d-example")
    conv.replace("manual", "ex2-explanation", 'id = "ex2-explanation"', 'id = "corr2d-example"')
    assert conv.error() == f"conv-layer.toml: {label}: duplicate id"


def test_check_naming_an_unknown_exercise(conv):
    conv.set("check", "corr2d-example", "exercise", '"ex9"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'corr2d-example')}: unknown exercise 'ex9' (declare it in [[exercise]])"
    )


def test_manual_naming_an_unknown_exercise(conv):
    conv.set("manual", "ex2-explanation", "exercise", '"ex9"')
    assert conv.error() == f"conv-layer.toml: {conv.label('manual', 'ex2-explanation')}: unknown exercise 'ex9'"


# ----------------------------------------------------------------------------- course modules
def test_reference_module_missing(conv):
    conv.set_assignment("reference", '"conv_layr"')
    # reported once, not once per check that names a reference function
    assert conv.error() == "conv-layer.toml: [assignment] reference = 'conv_layr': there is no reference/conv_layr.py"


def test_checks_module_missing_is_reported_once(conv):
    conv.set_assignment("checks", '"conv_layer_chks"')
    assert conv.error() == (
        "conv-layer.toml: [assignment] checks = 'conv_layer_chks': there is no rubrics/conv_layer_chks.py"
    )


def test_probes_module_missing_is_reported_once(pooling):
    pooling.set_assignment("probes", '"pooling_probs"')
    assert pooling.error() == (
        "pooling.toml: [assignment] probes = 'pooling_probs': there is no rubrics/pooling_probs.py"
    )


@pytest.mark.parametrize(
    ("rubric", "module"),
    [
        ("conv-layer", "reference/conv_layer.py"),
        ("conv-layer", "rubrics/conv_layer_checks.py"),
        ("pooling", "rubrics/pooling_probes.py"),
    ],
)
def test_course_module_with_a_syntax_error(root, rubric, module):
    path = root / module
    lines = path.read_text(encoding="utf-8").count("\n")
    with path.open("a", encoding="utf-8") as f:
        f.write("def broken(:\n    pass\n")
    error = RubricFile(root, rubric).error()
    assert error == f"{rubric}.toml: {module}: syntax error on line {lines + 1}: invalid syntax"


@pytest.mark.parametrize("junk", [b"# \xff\xfe\n", b"x = 1\x00\n"])
def test_course_module_that_is_not_python_source(conv, junk):
    path = conv.root / "reference" / "conv_layer.py"
    path.write_bytes(path.read_bytes() + junk)
    error = conv.error()
    assert error.startswith("conv-layer.toml: reference/conv_layer.py: "), error
    assert ";" not in error  # one problem, not one per check


def test_functions_are_found_without_importing_the_module(conv):
    path = conv.root / "reference" / "conv_layer.py"
    path.write_text('raise SystemExit("imported!")\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert conv.load().id == "conv-layer"


def test_names_bound_by_import_or_assignment_count_as_defined(conv):
    path = conv.root / "reference" / "conv_layer.py"
    with path.open("a", encoding="utf-8") as f:
        f.write("\nfrom math import prod as by_import\nby_assignment = by_import\nimport os.path\n")
    for check, name in [("corr2d-example", "by_import"), ("corr2d-non-square", "by_assignment"), ("y-diag", "os")]:
        conv.set("check", check, "reference", f'"{name}"')
    conv.load()


def test_reference_function_not_defined(conv):
    conv.set("check", "y-diag", "reference", '"corr2d_typo"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'y-diag')}: "
        "reference function 'corr2d_typo' is not defined in the reference module"
    )


def test_call_check_defaults_to_the_reference_function_of_its_name(conv):
    conv.set("check", "min-kernel-size", "call", '"min_kernel_sz"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'min-kernel-size')}: "
        "reference function 'min_kernel_sz' is not defined in the reference module"
    )


def test_nested_function_is_not_a_reference_function(conv):
    path = conv.root / "reference" / "conv_layer.py"
    with path.open("a", encoding="utf-8") as f:
        f.write("\ndef outer():\n    def inner_only():\n        pass\n")
    conv.set("check", "y-diag", "reference", '"inner_only"')
    assert "reference function 'inner_only' is not defined in the reference module" in conv.error()


def test_property_function_not_defined(conv):
    conv.set("check", "x-diag-has-diagonal-edge", "property", '"has_diagonal_edg"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'x-diag-has-diagonal-edge')}: "
        "property 'has_diagonal_edg' is not defined in the checks module"
    )


def test_probe_function_not_defined(pooling):
    pooling.set("check", "avg-conv-is-a-convolution", "probe", '"with_pooling_off"')
    assert pooling.error() == (
        f"pooling.toml: {pooling.label('check', 'avg-conv-is-a-convolution')}: "
        "probe 'with_pooling_off' is not defined in the probes module"
    )


def test_probe_check_without_probes(conv):
    conv.set("check", "x-diag-has-diagonal-edge", "name", None)
    conv.set("check", "x-diag-has-diagonal-edge", "probe", '"describe"')
    assert conv.error() == (
        f"conv-layer.toml: {conv.label('check', 'x-diag-has-diagonal-edge')}: "
        "probe checks need `probes` (a module in rubrics/) in [assignment]"
    )


def test_property_checks_without_checks(conv):
    conv.set_assignment("checks", None)
    problem = "property checks need `checks` (a module in rubrics/) in [assignment]"
    property_checks = [c["id"] for c in tomllib.loads(conv.text)["check"] if c.get("kind") == "property"]
    assert len(property_checks) > 1
    assert conv.error() == "conv-layer.toml: " + "; ".join(
        f"{conv.label('check', check)}: {problem}" for check in property_checks
    )


# ----------------------------------------------------------------------------- the file itself
def test_not_toml(conv):
    conv.path.write_text("[assignment\nid = 1\n", encoding="utf-8")
    assert conv.error() == (
        "conv-layer.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 12)"
    )


def test_not_utf8(conv):
    conv.path.write_bytes(conv.path.read_bytes().replace(b"Convolutions for Images", b"Convolutions \xff"))
    assert conv.error().startswith("conv-layer.toml: not valid TOML: 'utf-8' codec can't decode byte 0xff")


def test_missing_file(root):
    with pytest.raises(RubricError, match=r"^nope\.toml: No such file or directory$"):
        load_rubric(str(root / "rubrics" / "nope.toml"), str(root))


# ----------------------------------------------------------------------------- JSON Schema
@pytest.fixture(scope="module")
def validator():
    from jsonschema import Draft202012Validator

    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_json_schema_is_valid_draft_2020_12(validator):
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_real_rubric_validates_against_the_schema(validator, course):
    for path in rubric_paths(course.root):
        with open(path, "rb") as f:
            data = tomllib.load(f)
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], path


@pytest.mark.parametrize(
    "check",
    [*CHECK_OF_KIND.values()],
)
def test_schema_refuses_an_unknown_key_in_a_check_of_each_kind(validator, conv, check):
    data = tomllib.loads(conv.text)
    assert validator.is_valid(data)
    (table,) = [c for c in data["check"] if c["id"] == check]
    table["atoll"] = 1e-5
    assert not validator.is_valid(data)


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("assignment", lambda d: d["assignment"].update(sede=1)),
        ("exercise", lambda d: d["exercise"][0].update(titel="x")),
        ("manual", lambda d: d["manual"][0].update(pts=1)),
        ("input", lambda d: d["check"][0]["args"].append({"randn": [2], "dtyp": "float64"})),
        ("top level", lambda d: d.update(checks=[])),
        ("points as a string", lambda d: d["check"][0].update(points="2")),
    ],
)
def test_schema_refuses_what_loading_refuses(validator, conv, where, change):
    data = tomllib.loads(conv.text)
    change(data)
    assert not validator.is_valid(data), where


def test_schema_knows_every_generator(validator, conv):
    data = tomllib.loads(conv.text)
    data["check"][0]["args"] = [tomllib.loads(f"x = {{ {n} = {_good_argument(n)} }}")["x"] for n in GENERATORS]
    assert validator.is_valid(data), [e.message for e in validator.iter_errors(data)]
