"""Resource limits: the sizes the flags take, the sizes messages print, and what Limits refuses."""

from __future__ import annotations

import math
from dataclasses import fields
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.commands.common import make_limits
from grader.limits import Limits, format_size, parse_size

FAST = settings(max_examples=300, deadline=None, database=None)
BINARY = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
DECIMAL = {"KB": 1000, "MB": 1000**2, "GB": 1000**3}


# ----------------------------------------------------------------------------- parse_size
@pytest.mark.parametrize(
    "text, size",
    [
        ("512MiB", 512 * 1024**2),
        ("4GiB", 4 * 1024**3),
        ("100MB", 100 * 1000**2),
        ("1.5 KiB", 1536),
        (" 2 gib ", 2 * 1024**3),
        ("12", 12),
        ("12b", 12),
        ("3k", 3000),
        ("1 TiB", 1024**4),
        ("4 GiB", 4 * 1024**3),  # what format_size prints
        ("1000 bytes", 1000),  # likewise
    ],
)
def test_parse_size_reads_the_units_the_flags_document(text, size):
    assert parse_size(text) == size


@FAST
@given(st.integers(1, 10**6), st.sampled_from(sorted({**BINARY, **DECIMAL}.items())))
def test_parse_size_of_a_whole_number_of_units_is_exact(n, unit):
    name, factor = unit
    assert parse_size(f"{n}{name}") == parse_size(f"{n} {name.lower()}") == n * factor


@FAST
@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3), st.sampled_from(sorted(DECIMAL)))
def test_parse_size_of_a_decimal_amount_is_exact_to_the_byte(amount, unit):
    # as floats, '1.001KB' came out as 1000 bytes
    assert parse_size(f"{amount}{unit}") == int(amount * DECIMAL[unit])


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "is not a size"),
        ("lots", "is not a size"),
        ("-1MiB", "is not a size"),
        ("1e3", "is not a size"),
        ("4 GiBs", "is not a size"),
        ("1,5MiB", "is not a size"),
        ("0", "must be larger than zero"),
        ("0.0001KiB", "must be larger than zero"),  # rounds down to no bytes at all
        ("9" * 400, "is too large"),  # was an OverflowError from float('inf')
        ("8388608TiB", "is too large"),  # 2**63 bytes: more than a resource limit holds
    ],
)
def test_parse_size_refuses_what_is_not_a_usable_size_with_a_readable_reason(text, reason):
    with pytest.raises(ValueError, match=reason) as excinfo:
        parse_size(text)
    assert repr(text) in str(excinfo.value)


# ----------------------------------------------------------------------------- format_size
@pytest.mark.parametrize(
    "size, text",
    [(4 * 1024**3, "4 GiB"), (1536 * 1024**2, "1536 MiB"), (64 * 1024, "64 KiB"), (1000, "1000 bytes")],
)
def test_format_size_uses_the_largest_unit_that_divides_the_size(size, text):
    assert format_size(size) == text


@FAST
@given(st.integers(1, 2**20), st.sampled_from(sorted(BINARY.values())))
def test_format_then_parse_is_the_identity_for_exact_multiples(n, factor):
    assert parse_size(format_size(n * factor)) == n * factor


@FAST
@given(st.integers(1, 2**62))
def test_every_size_a_message_prints_can_be_passed_back_as_a_flag(size):
    assert parse_size(format_size(size)) == size


# ----------------------------------------------------------------------------- Limits
def test_default_limits_are_the_documented_ones():
    limits = Limits()
    assert (limits.cell_timeout, limits.timeout) == (60, 600)
    assert (limits.memory, limits.output, limits.total_output) == (4 * 1024**3, 1024**2, 4 * 1024**2)


TIMEOUTS = ["cell_timeout", "timeout", "harness_timeout", "call_timeout", "judge_timeout"]
SIZES = ["memory", "output", "total_output", "file_size", "processes"]


def test_every_limit_is_validated():
    assert {f.name for f in fields(Limits)} == set(TIMEOUTS) | set(SIZES)


@pytest.mark.parametrize("name", TIMEOUTS)
@pytest.mark.parametrize("value", [0, -1, -0.5, math.nan, math.inf])
def test_a_time_limit_must_be_a_positive_finite_number_of_seconds(name, value):
    with pytest.raises(ValueError, match=f"^{name.replace('_', ' ')} must be a positive, finite number of seconds$"):
        Limits(**{name: value})


@pytest.mark.parametrize("name", SIZES)
@pytest.mark.parametrize("value", [0, -1])
def test_a_size_or_count_limit_must_be_positive(name, value):
    with pytest.raises(ValueError, match=f"^{name.replace('_', ' ')} must be positive$"):
        Limits(**{name: value})


def test_limits_cannot_be_changed_once_made():
    limits = Limits()
    with pytest.raises(AttributeError):
        limits.memory = 1  # type: ignore[misc]


def test_the_output_flag_allows_four_times_as_much_per_notebook():
    limits = make_limits(cell_timeout=5, timeout=50, memory_limit=parse_size("1GiB"), output_limit=parse_size("2KiB"))
    assert (limits.cell_timeout, limits.timeout, limits.memory) == (5, 50, 1024**3)
    assert (limits.output, limits.total_output) == (2048, 4 * 2048)
