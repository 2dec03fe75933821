"""Input generation: every generator of the catalogue, its dtypes and shapes, and reproducibility
per (rubric seed, check id, case)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.inputs import (
    DTYPES,
    GENERATORS,
    Generated,
    InputError,
    Sequence,
    json_schema,
    kernel_seed,
    materialize,
    parse_spec,
    rng_for,
    student_refs,
    substitute,
)
from grader.plaindata import StudentRef


def make(spec, seed: int = 7, check: str = "c", case: int = 0):
    return materialize(parse_spec(spec), rng_for(seed, check, case))


# ----------------------------------------------------------------------------- the catalogue
# One example per generator: (table, dtype, shape, test of the values). The coverage test
# below fails when a generator is added to the catalogue without an example here.
EXAMPLES = {
    "tensor": ({"tensor": [[1.0, -1.0]]}, np.float32, (1, 2), lambda v: v.tolist() == [[1.0, -1.0]]),
    "array": ({"array": [1, 2, 3, 4], "shape": [2, 2]}, np.float32, (2, 2), lambda v: v.tolist() == [[1, 2], [3, 4]]),
    "randn": ({"randn": [6, 8]}, np.float32, (6, 8), lambda v: v.std() > 0.3 and abs(v.mean()) < 1),
    "rand": ({"rand": [50]}, np.float32, (50,), lambda v: v.min() >= 0 and v.max() < 1),
    "randint": ({"randint": [-2, 3, [200]]}, np.float32, (200,), lambda v: set(v.tolist()) == {-2, -1, 0, 1, 2}),
    "arange": ({"arange": 9, "shape": [3, 3]}, np.float32, (3, 3), lambda v: v.ravel().tolist() == list(range(9))),
    "ones": ({"ones": [2, 3]}, np.float32, (2, 3), lambda v: (v == 1).all()),
    "zeros": ({"zeros": [0, 3]}, np.float32, (0, 3), lambda v: v.size == 0),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_array_generator(name):
    table, dtype, shape, values_ok = EXAMPLES[name]
    value = make(table)
    assert isinstance(value, np.ndarray)
    assert value.dtype == dtype and value.shape == shape
    assert values_ok(value)


def test_student_generator_is_a_placeholder():
    assert make({"student": "X_diag"}) == StudentRef("X_diag")


@pytest.mark.parametrize(("name", "kind"), [("tuple", tuple), ("list", list)])
def test_sequence_generators_materialize_their_items(name, kind):
    value = make({name: [6, {"ones": [2]}, {"tuple": [1, {"student": "X"}]}]})
    assert type(value) is kind and len(value) == 3
    assert value[0] == 6
    assert value[1].tolist() == [1.0, 1.0]
    assert value[2] == (1, StudentRef("X"))


def test_every_generator_of_the_catalogue_has_a_test():
    assert set(EXAMPLES) | {"student", "tuple", "list"} == set(GENERATORS)


@pytest.mark.parametrize("value", [3, 2.5, "max", True, [1, [2, "a"]], math.inf])
def test_plain_values_pass_through(value):
    assert make(value) == value


def test_nan_is_a_legitimate_input():
    assert math.isnan(make(math.nan))


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", [n for n, k in GENERATORS.items() if "dtype" in k.modifiers])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_dtype_is_honoured(name, dtype):
    if dtype not in GENERATORS[name].dtypes:
        with pytest.raises(InputError, match=f"^{name}: dtype must be one of"):
            parse_spec({**EXAMPLES[name][0], "dtype": dtype})
        return
    value = make({**EXAMPLES[name][0], "dtype": dtype})
    assert value.dtype == DTYPES[dtype]


@pytest.mark.parametrize("name", ["randn", "rand"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scale_keeps_the_dtype(name, dtype):
    plain = make({name: [4, 5], "dtype": dtype})
    scaled = make({name: [4, 5], "dtype": dtype, "scale": 10})
    assert scaled.dtype == DTYPES[dtype]
    np.testing.assert_allclose(scaled, plain * 10, rtol=1e-6)


def test_float64_draws_are_not_rounded_to_float32():
    value = make({"randn": [100], "dtype": "float64"})
    assert not np.array_equal(value, value.astype(np.float32).astype(np.float64))


def test_randint_as_int64():
    value = make({"randint": [0, 10, [3, 4]], "dtype": "int64"})
    assert value.dtype == np.int64 and value.shape == (3, 4)
    assert value.min() >= 0 and value.max() < 10


def test_reshape_after_generation():
    value = make({"randn": [12], "shape": [3, 4]})
    again = make({"randn": [12]})
    assert value.shape == (3, 4)
    np.testing.assert_array_equal(value.ravel(), again)


# ----------------------------------------------------------------------------- reproducibility
SPECS = [{"randn": [3, 4]}, {"rand": [5]}, {"randint": [0, 100, [6]]}]


def test_materialize_is_reproducible_per_seed_check_and_case():
    for spec in SPECS:
        np.testing.assert_array_equal(make(spec), make(spec))


@pytest.mark.parametrize("change", [{"seed": 8}, {"check": "d"}, {"case": 1}])
def test_each_of_seed_check_and_case_changes_the_draw(change):
    for spec in SPECS:
        assert not np.array_equal(make(spec), make(spec, **change))


def test_draws_depend_only_on_their_own_check():
    # the inputs of a check are the same whatever other checks draw before it
    rng = rng_for(62, "other-check", 0)
    rng.standard_normal(1000)
    np.testing.assert_array_equal(make({"randn": [4]}, 62, "mine"), make({"randn": [4]}, 62, "mine"))


def test_consecutive_inputs_draw_from_one_generator():
    rng = rng_for(1, "c", 0)
    first, second = materialize(parse_spec([{"randn": [3]}, {"randn": [3]}]), rng)
    assert not np.array_equal(first, second)


def test_kernel_seed_is_stable_and_a_valid_seed():
    seed = kernel_seed(62, "corr2d-example")
    assert seed == kernel_seed(62, "corr2d-example") != kernel_seed(62, "corr2d-non-square")
    assert 0 <= seed < 2**31
    assert kernel_seed(2**40, "x") < 2**31


# ----------------------------------------------------------------------------- parsing
def test_parse_returns_validated_specs():
    assert parse_spec({"randn": [2, 3], "dtype": "float64", "scale": 2}) == Generated(
        "randn", (2, 3), "float64", None, 2.0
    )
    assert parse_spec({"randint": [0, 3, [2]], "shape": [1, 2]}) == Generated(
        "randint", (0, 3, (2,)), "float32", (1, 2)
    )
    assert parse_spec({"tuple": [1, {"student": "X"}]}) == Sequence("tuple", (1, StudentRef("X")))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "NoneType is not an input"),
        ({"randint": [3, 3, [1]]}, "randint: low (3) must be below high (3)"),
        ({"randint": [True, 3, [1]]}, "randint takes [low, high, [shape]]"),
        ({"randn": [2], "scale": math.inf}, "randn: scale must be a finite number"),
        ({"randn": [2], "scale": True}, "randn: scale must be a finite number"),
        ({"arange": True}, "arange takes a count >= 0"),
        ({"list": {"a": 1}}, "list takes a list of inputs"),
        ([1, {"tuple": [{"ones": [-1]}]}], "[2]: tuple[1]: ones takes a shape"),
    ],
)
def test_parse_errors(spec, message):
    with pytest.raises(InputError) as info:
        parse_spec(spec)
    assert str(info.value).startswith(message)


# ----------------------------------------------------------------------------- student values
def test_student_refs_and_substitute():
    args = materialize(
        parse_spec([{"student": "X"}, {"tuple": [1, {"student": "Y"}]}, [{"student": "X"}]]), rng_for(0, "", 0)
    )
    assert student_refs(args) == ["X", "Y", "X"]
    assert substitute(args, {"X": "x", "Y": "y"}) == ["x", (1, "y"), ["x"]]


# ----------------------------------------------------------------------------- schema
def test_input_schema_accepts_the_examples_and_refuses_unknown_modifiers():
    from jsonschema import Draft202012Validator

    schema = {"$defs": {"Input": json_schema()}, "$ref": "#/$defs/Input"}
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for table, *_ in EXAMPLES.values():
        assert validator.is_valid(table), table
    assert validator.is_valid({"student": "X"})
    assert validator.is_valid({"tuple": [1, {"randn": [2]}]})
    assert not validator.is_valid({"ones": [2], "scale": 2})
    assert not validator.is_valid({"randn": [2], "dtype": "int64"})
    assert not validator.is_valid({"randint": [0, 1]})


@pytest.mark.parametrize(
    "table",
    [
        {"randn": [2, 3]},
        {"rand": [4]},
        {"tensor": [[1, 2], [3, 4]]},
        {"randint": [0, 5, [4, 1]]},
        {"arange": 6, "shape": [2, 3]},
        {"arange": 5},
        {"ones": [3, 0]},
    ],
)
def test_a_tables_result_shape_is_the_shape_it_makes(table):
    spec = parse_spec(table)
    assert spec.result_shape == materialize(spec, np.random.default_rng(0)).shape
