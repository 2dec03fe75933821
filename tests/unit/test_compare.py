"""compare(): the rules every value check and property check relies on, as properties —
reflexive on finite values, one rule for nan and inf (never a match unless allowed), no
broadcasting, tolerances that only ever loosen, dicts key by key, `equal` that is exact —
and the messages students read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader import harness, plaindata
from grader.compare import CheckFailed, compare
from grader.kinds.base import JudgeContext
from grader.kinds.value import KIND, ValueCheck

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = [np.dtype(name) for name in harness.ARRAY_DTYPES]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
nonempty = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONFINITE = [math.nan, math.inf, -math.inf]


def passes(got, expected, **kw):
    options = {"mode": "allclose", "rtol": 1e-5, "atol": 1e-6, "what": "X"} | kw
    try:
        compare(got, expected, **options)
    except CheckFailed:
        return False
    return True


def failure(got, expected, **kw):
    options = {"mode": "allclose", "rtol": 1e-5, "atol": 1e-6, "what": "X"} | kw
    with pytest.raises(CheckFailed) as info:
        compare(got, expected, **options)
    return str(info.value)


def finite_arrays(dtype, shape):
    if dtype.kind == "f":
        elements = st.floats(-1e3, 1e3, width=8 * dtype.itemsize)
    elif dtype.kind == "c":
        elements = st.complex_numbers(max_magnitude=1e3, width=8 * dtype.itemsize)
    else:
        elements = None
    return hnp.arrays(dtype, shape, elements=elements)


def through_the_kernel(value):
    harness._new_run()
    return plaindata.decode(json.loads(json.dumps(harness._encode(value))))


# ----------------------------------------------------------------------------- reflexive
@SETTINGS
@given(st.sampled_from(DTYPES), shapes, st.data(), st.sampled_from(["allclose", "equal"]))
def test_a_finite_array_matches_itself_after_the_trip_from_the_kernel(dtype, shape, data, mode):
    array = data.draw(finite_arrays(dtype, shape))
    assert passes(through_the_kernel(array), array, mode=mode, rtol=0.0, atol=0.0)
    assert passes(through_the_kernel(torch.from_numpy(array)), torch.from_numpy(array), mode=mode, rtol=0, atol=0)


@SETTINGS
@given(
    st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.complex_numbers(allow_infinity=False, allow_nan=False),
    st.sampled_from(["allclose", "equal"]),
)
def test_a_finite_number_matches_itself(number, mode):
    assume(not (isinstance(number, int) and number.bit_length() > harness.MAX_INT_BITS))
    assert passes(through_the_kernel(number), number, mode=mode, rtol=0.0, atol=0.0)


# ----------------------------------------------------------------------------- nan and inf
@SETTINGS
@given(
    st.sampled_from([np.float16, np.float32, np.float64, np.complex64, np.complex128]),
    nonempty,
    st.data(),
    st.sampled_from(NONFINITE),
    st.sampled_from(["allclose", "equal"]),
)
def test_a_non_finite_value_fails_unless_allowed_and_then_only_matches_itself(dtype, shape, data, bad, mode):
    expected = data.draw(finite_arrays(np.dtype(dtype), shape))
    index = data.draw(st.tuples(*[st.integers(0, n - 1) for n in shape]))
    got = expected.copy()
    got[index] = bad
    where = "[" + ", ".join(map(str, index)) + "]"
    message = failure(got, expected, mode=mode)
    assert "(non-finite values never match)" in message
    assert f"values differ at {where}: got " in message or expected[index] == got[index]
    # the same value expected (say, from the student's own all-nan input): still never a match,
    # with a message that says why
    assert "the expected value is not finite for your inputs" in failure(got, got.copy(), mode=mode)
    # allowed: nan matches nan, inf matches inf of the same sign, at the same positions only
    assert passes(got, got.copy(), mode=mode, allow_nonfinite=True)
    assert not passes(got, expected, mode=mode, allow_nonfinite=True)
    for other in NONFINITE:
        if other is not bad:
            swapped = got.copy()
            swapped[index] = other
            assert not passes(swapped, got, mode=mode, allow_nonfinite=True)


@pytest.mark.parametrize("mode", ["allclose", "equal"])
@pytest.mark.parametrize("bad", NONFINITE)
def test_a_non_finite_number_follows_the_same_rule_as_an_array(bad, mode):
    # bug: a nan scalar was unequal to itself while nan arrays were equal
    for allow in (False, True):
        scalar = passes(bad, bad, mode=mode, allow_nonfinite=allow)
        array = passes(np.array([bad]), np.array([bad]), mode=mode, allow_nonfinite=allow)
        zero_d = passes(np.array(bad), bad, mode=mode, allow_nonfinite=allow)
        assert scalar == array == zero_d == allow
    assert failure(bad, 3.0, mode=mode) == f"X is {bad!r}, expected 3.0 (non-finite values never match)"
    assert "expected value is not finite for your inputs" in failure(3.0, bad, mode=mode)
    assert not passes(complex(1, bad), complex(1, 0), mode=mode, allow_nonfinite=True)
    assert passes(complex(bad, 1), complex(bad, 1), mode=mode, allow_nonfinite=True)
    assert not passes(complex(bad, 1), complex(bad, 1), mode=mode)


def test_the_non_finite_messages():
    got = np.array([[1.0, math.nan], [3.0, 4.0]])
    want = np.array([[1.0, 3.0], [3.0, 4.0]])
    assert failure(got, want) == "X: values differ at [0, 1]: got nan, expected 3 (non-finite values never match)"
    assert failure(want, got) == (
        "X: the expected value is not finite for your inputs (nan at [0, 1]), and non-finite values never match"
    )
    assert failure(math.inf, math.inf) == (
        "X: the expected value is not finite for your inputs (it is inf), and non-finite values never match"
    )


# ----------------------------------------------------------------------------- shapes
@SETTINGS
@given(shapes, shapes, st.sampled_from(["allclose", "equal"]), st.booleans())
def test_a_shape_difference_always_fails_and_names_both_shapes(a, b, mode, allow):
    assume(a != b)
    message = failure(np.zeros(a), np.zeros(b), mode=mode, allow_nonfinite=allow)
    from grader.compare import shape_text

    assert f"returned shape {shape_text(a)}, expected {shape_text(b)}" in message


def test_arrays_never_broadcast():
    assert failure(np.ones(3), np.ones((1, 3))) == "X returned shape (3,), expected (1, 3)"
    assert failure(np.ones((1,)), np.ones(())) == "X returned shape (1,), expected ()"
    assert failure(5.0, np.full((2,), 5.0)) == "X returned shape (), expected (2,)"
    assert failure(np.zeros((2, 3)), np.zeros((3, 3))) == "X returned shape (2, 3), expected (3, 3)"


@SETTINGS
@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES), shapes.filter(lambda s: 0 in s))
def test_empty_arrays_of_equal_shape_match(a, b, shape):
    assert passes(np.zeros(shape, a), np.zeros(shape, b), mode="equal")


def test_one_element_arrays_against_numbers_and_bools():
    assert passes(np.array([[3.0]]), 3.0)
    assert passes(np.array([3], dtype=np.int8), 3, mode="equal")
    assert failure(np.array([3.5]), 3, mode="equal") == "X is 3.5, expected 3"
    assert failure(np.array([1.0, 2.0]), 3.0) == "X is an array of shape (2,), expected a number"
    assert passes(np.array(True), True) and passes(True, np.array(True))
    assert failure(np.array(False), True) == "X is False, expected True"


# ----------------------------------------------------------------------------- tolerance
tolerance = st.floats(0, 1) | st.sampled_from([0.0, 1e-8, 1e-5])


@SETTINGS
@given(st.data(), tolerance, tolerance, tolerance, tolerance)
def test_a_looser_tolerance_never_turns_a_pass_into_a_failure(data, r1, a1, r2, a2):
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int32, np.complex128]))
    shape = data.draw(nonempty)
    got = data.draw(finite_arrays(np.dtype(dtype), shape))
    expected = data.draw(finite_arrays(np.dtype(dtype), shape))
    tight, loose = (min(r1, r2), min(a1, a2)), (max(r1, r2), max(a1, a2))
    for g, e in ((got, expected), (got.reshape(-1)[0].item(), expected.reshape(-1)[0].item())):
        if passes(g, e, rtol=tight[0], atol=tight[1]):
            assert passes(g, e, rtol=loose[0], atol=loose[1])


@SETTINGS
@given(st.floats(-1e6, 1e6), st.floats(0, 1e3), st.floats(0, 1))
def test_allclose_is_numpys_rule(x, atol, rtol):
    y = x + atol / 2
    assert passes(np.array([y]), np.array([x]), rtol=rtol, atol=atol) == bool(np.isclose(y, x, rtol=rtol, atol=atol))


def test_the_values_differ_message():
    got = np.array([[1.0, 26.0], [3.0, 5.0]], dtype=np.float32)
    want = np.array([[1.0, 25.0], [3.0, 4.0]])
    assert failure(got, want, rtol=1e-5, atol=1e-5) == (
        "X: values differ at [0, 1]: got 26, expected 25 (rtol 1e-05, atol 1e-05) (2 of 4 elements differ)"
    )
    assert (
        failure(np.array([2, 3]), np.array([2, 4]), mode="equal")
        == "X: values differ at [1]: got 3, expected 4 (exact)"
    )
    # six digits that hide the difference give way to all of them
    assert failure(np.float32([0.1]), np.array([0.1]), mode="equal") == (
        "X: values differ at [0]: got 0.10000000149011612, expected 0.1 (exact)"
    )


def test_complex_values_are_compared_by_value():
    z = np.array([1 + 2j, 3 - 1j])
    assert passes(z, z.astype(np.complex64))
    assert passes(z + 1e-9, z)
    assert (
        failure(z.real, z)
        == "X: values differ at [0]: got 1, expected (1+2j) (rtol 1e-05, atol 1e-06) (2 of 2 elements differ)"
    )
    assert passes(np.array([1.0, 2.0]), np.array([1 + 0j, 2 + 0j]), mode="equal")
    assert failure(1 + 2j, 1 - 2j) == "X is (1+2j), expected (1-2j) (rtol 1e-05, atol 1e-06)"


# ----------------------------------------------------------------------------- equal is exact
@SETTINGS
@given(st.sampled_from([np.float16, np.float32, np.float64, np.complex64]), nonempty, st.data())
def test_equal_notices_one_ulp(dtype, shape, data):
    expected = data.draw(finite_arrays(np.dtype(dtype), shape))
    index = data.draw(st.tuples(*[st.integers(0, n - 1) for n in shape]))
    got = expected.copy()
    real = got.real if got.dtype.kind == "c" else got
    real[index] = np.nextafter(real[index], real.dtype.type(np.inf))
    assert not passes(got, expected, mode="equal")
    assert not passes(got.reshape(-1)[0].item() if got.size == 1 else got, expected, mode="equal")


def test_equal_does_not_round_through_float64():
    big = 2**53 + 1
    assert not passes(np.array([big], dtype=np.int64), np.array([float(2**53)]), mode="equal")
    assert not passes(np.array([float(2**53)]), np.array([big], dtype=np.int64), mode="equal")
    assert passes(np.array([2.0**60]), np.array([2**60], dtype=np.int64), mode="equal")
    assert not passes(np.array([2**63 + 1], dtype=np.uint64), np.array([2**63 - 1], dtype=np.int64), mode="equal")
    assert not passes(np.array([-1], dtype=np.int64), np.array([2**64 - 1], dtype=np.uint64), mode="equal")
    assert passes(np.array([7], dtype=np.uint64), np.array([7], dtype=np.int8), mode="equal")
    assert not passes(big, float(2**53), mode="equal")
    assert not passes(10**30 + 1, 1e30, mode="equal")
    assert passes(10**400, 10**400, mode="equal") and not passes(10**400 + 1, 10**400, mode="equal")
    assert passes(10**400 + 1, 10**400, rtol=1e-5)


@SETTINGS
@given(st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70))
def test_equal_ints_match_exactly_when_python_says_so(a, b):
    assert passes(a, b, mode="equal") == (a == b)
    if all(-(2**63) <= v < 2**63 for v in (a, b)):
        assert passes(np.array([a]), np.array([b]), mode="equal") == (a == b)


# ----------------------------------------------------------------------------- structures
def test_dicts_of_arrays_compare_key_by_key():
    # bug: `got != expected` on dicts of arrays raised inside compare
    want = {"A1": np.arange(3.0), "A2": [np.ones(2), 5]}
    got = {"A2": [np.ones(2), 5], "A1": np.arange(3.0)}
    assert passes(got, want)
    assert passes(got, {k: torch.as_tensor(v) if k == "A1" else v for k, v in want.items()})
    got["A1"] = np.array([0.0, 1.0, 2.5])
    assert failure(got, want, what="what") == (
        'what["A1"]: values differ at [2]: got 2.5, expected 2 (rtol 1e-05, atol 1e-06)'
    )
    assert (
        failure({"A1": [0, 1, 7]}, {"A1": [0, 1, 2]}, what="what")
        == 'what["A1"][2] is 7, expected 2 (rtol 1e-05, atol 1e-06)'
    )
    assert failure({"A1": 1}, {"A1": 1, "A2": 2}) == 'X has no key "A2"'
    assert failure({"A1": 1, "B": 2}, {"A1": 1}) == 'X has an unexpected key "B"'
    assert failure([{"a": {"b": 1}}], [{"a": {}}]) == 'X[0]["a"] has an unexpected key "b"'
    assert failure([1, 2], {"a": 1}) == "X returned a list, expected a dict"
    assert failure({"a": plaindata.Unsupported("an object of type Foo")}, {"a": 1}).startswith(
        'X["a"] is an object of type Foo, which is not plain data'
    )


@SETTINGS
@given(
    st.dictionaries(
        st.text(max_size=5),
        st.sampled_from(DTYPES).flatmap(lambda d: finite_arrays(d, (2,))),
        max_size=4,
    )
)
def test_a_dict_of_arrays_matches_itself_and_not_with_a_key_less(value):
    assert passes(through_the_kernel(value), value, mode="equal")
    if value:
        key = next(iter(value))
        smaller = {k: v for k, v in value.items() if k != key}
        assert f"has no key {json.dumps(key, ensure_ascii=False)}" in failure(smaller, value)
        assert f"has an unexpected key {json.dumps(key, ensure_ascii=False)}" in failure(value, smaller)


def test_other_values():
    assert passes("abc", "abc") and passes(None, None)
    assert failure("abd", "abc") == "X is 'abd', expected 'abc'"
    assert failure(np.ones(3), "abc") == "X is an array of shape (3,), expected 'abc'"
    assert failure("x" * 10_000, "abc").endswith("..., expected 'abc'")
    assert failure(10**5000, 3, mode="equal") == "X is an int of 16610 bits, expected 3"
    assert failure([1, 2], (1, 2, 3)) == "X has 2 items, expected 3"
    with pytest.raises(ValueError, match="mode"):
        compare(1, 1, mode="close", rtol=0, atol=0, what="X")


# ----------------------------------------------------------------------------- the rubric key
def test_value_checks_have_allow_nonfinite_and_pass_it_on():
    base = {"id": "c", "exercise": "e", "points": 1, "name": "X", "expected": 1.0}
    assert ValueCheck(**base).allow_nonfinite is False
    check = ValueCheck(**base, allow_nonfinite=True)
    assert "nan" in ValueCheck.model_fields["allow_nonfinite"].description
    with pytest.raises(ValueError):
        ValueCheck(**base, allow_nonfinite="yes")

    def judge(spec, value, expected):
        ctx = JudgeContext(
            what="X", reference=None, checks_module=None, students={}, rng=None, expected=lambda case: expected
        )
        KIND.judge(spec, None, value, ctx)

    judge(check, np.array([math.nan, 1.0]), np.array([math.nan, 1.0]))
    with pytest.raises(CheckFailed, match="non-finite values never match"):
        judge(ValueCheck(**base), np.array([math.nan, 1.0]), np.array([math.nan, 1.0]))
