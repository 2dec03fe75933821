"""Late penalties: deadlines with and without UTC offsets, days rounded up, grace, caps, and
where the submission time comes from. Every expectation is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.lateness import (
    LatenessError,
    LatePolicy,
    SubmissionTime,
    assess,
    days_late,
    parse_duration,
    parse_penalty,
    parse_percent,
    parse_submission_times,
    parse_time,
    read_submission_times,
    submission_time,
)
from grader.roster import Identity, parse_download_name
from grader.staging import student_id

BERLIN = ZoneInfo("Europe/Berlin")
DEADLINE = datetime(2024, 3, 1, 23, 59, tzinfo=UTC)


def policy(per_day: str = "10%/day", cap: str | None = None, grace: str | None = None) -> LatePolicy:
    return LatePolicy.from_options("2024-03-01T23:59Z", per_day, cap, grace)


def at(**late: float) -> SubmissionTime:
    return SubmissionTime(DEADLINE + timedelta(**late), "csv")


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-01T23:59Z", datetime(2024, 3, 1, 23, 59, tzinfo=UTC)),
        ("2024-03-01 23:59:30+01:00", datetime(2024, 3, 1, 23, 59, 30, tzinfo=timezone(timedelta(hours=1)))),
        ("2024-03-01T23:59", datetime(2024, 3, 1, 23, 59, tzinfo=BERLIN)),  # naive: the given local zone
    ],
)
def test_deadlines_are_iso_8601_with_naive_ones_in_local_time(text, expected):
    parsed = parse_time(text, local=BERLIN)
    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()


def test_a_naive_deadline_without_a_zone_is_the_machines_local_time():
    assert parse_time("2024-03-01T23:59") == datetime(2024, 3, 1, 23, 59).astimezone()


@pytest.mark.parametrize("text", ["2024-03-01", "tomorrow", "2024-13-01T10:00", "", "2024-03-01T25:00Z"])
def test_a_deadline_that_is_not_a_date_and_time_is_refused(text):
    with pytest.raises(LatenessError, match="not a date and time"):
        parse_time(text)


@pytest.mark.parametrize(
    "text, expected",
    [("10%/day", Fraction(1, 10)), ("10 % per day", Fraction(1, 10)), ("2.5%", Fraction(1, 40)), ("0%/day", 0)],
)
def test_penalties_are_a_percentage_per_day(text, expected):
    assert parse_penalty(text) == expected


@pytest.mark.parametrize("text", ["10", "10%/week", "-5%/day", "150%/day", "ten percent"])
def test_a_penalty_that_is_not_a_percentage_per_day_is_refused(text):
    with pytest.raises(LatenessError, match="not a late penalty"):
        parse_penalty(text)


def test_caps_are_percentages_up_to_100():
    assert parse_percent("50%") == Fraction(1, 2) and parse_percent("100%") == 1
    with pytest.raises(LatenessError):
        parse_percent("101%")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("0", timedelta(0)),
        ("90 s", timedelta(seconds=90)),
    ],
)
def test_grace_periods_are_durations_with_units(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15", "15 fortnights", "m", "1h x"])
def test_a_grace_period_without_a_known_unit_is_refused(text):
    with pytest.raises(LatenessError):
        parse_duration(text)


# ----------------------------------------------------------------------------- days late
@pytest.mark.parametrize(
    "late, days",
    [
        (timedelta(0), 0),
        (timedelta(seconds=-1), 0),
        (timedelta(microseconds=1), 1),
        (timedelta(seconds=1), 1),
        (timedelta(days=1), 1),
        (timedelta(days=1, microseconds=1), 2),
        (timedelta(days=6, hours=23), 7),
    ],
)
def test_days_late_are_rounded_up(late, days):
    assert days_late(policy(), SubmissionTime(DEADLINE + late, "csv")) == days


def test_grace_forgives_a_little_but_days_still_count_from_the_deadline():
    graced = policy(grace="15m")
    assert days_late(graced, at(minutes=15)) == 0
    assert days_late(graced, at(minutes=16)) == 1
    assert days_late(graced, at(days=1, minutes=1)) == 2


def test_a_day_late_is_24_hours_even_across_a_daylight_saving_change():
    # Berlin moved its clocks forward at 02:00 on 31 March 2024: that calendar day had 23 hours.
    berlin = LatePolicy.from_options("2024-03-30T12:00", "10%/day", local=BERLIN)
    assert days_late(berlin, SubmissionTime(datetime(2024, 3, 31, 12, 0, tzinfo=BERLIN), "csv")) == 1
    assert days_late(berlin, SubmissionTime(datetime(2024, 3, 31, 12, 30, tzinfo=BERLIN), "csv")) == 1
    assert days_late(berlin, SubmissionTime(datetime(2024, 3, 31, 13, 1, tzinfo=BERLIN), "csv")) == 2


def test_times_in_other_zones_compare_as_instants():
    in_new_york = datetime(2024, 3, 1, 19, 0, tzinfo=ZoneInfo("America/New_York"))  # 00:00 UTC on 2 March
    assert days_late(policy(), SubmissionTime(in_new_york, "csv")) == 1


# ----------------------------------------------------------------------------- penalties
@pytest.mark.parametrize(
    "late, cap, days, penalty, final",
    [
        (timedelta(0), None, 0, 0.0, 20.0),
        (timedelta(hours=1), None, 1, 0.1, 18.0),
        (timedelta(days=2, hours=1), None, 3, 0.3, 14.0),
        (timedelta(days=9), None, 9, 0.9, 2.0),
        (timedelta(days=12), None, 12, 1.0, 0.0),  # never below zero
        (timedelta(days=6, hours=1), "50%", 7, 0.5, 10.0),
    ],
)
def test_the_penalty_is_a_capped_fraction_of_the_raw_score_per_day(late, cap, days, penalty, final):
    result = assess(policy(cap=cap), SubmissionTime(DEADLINE + late, "csv"), 20.0)
    assert (result.days_late, result.penalty, result.raw, result.final) == (days, penalty, 20.0, final)


def test_fractional_scores_and_penalties_are_exact():
    result = assess(policy("2.5%/day"), at(days=2, hours=12), 7.5)  # 3 days: 7.5% off
    assert (result.penalty, result.final) == (0.075, 6.9375)


def test_a_raw_score_that_is_not_a_number_is_refused():
    with pytest.raises(LatenessError):
        assess(policy(), at(days=1), float("nan"))


@given(st.integers(min_value=-(10**7), max_value=10**7), st.integers(min_value=0, max_value=10**6))
def test_later_is_never_cheaper_and_the_final_score_stays_within_the_cap(seconds, extra):
    capped = policy("7%/day", cap="60%")
    first = assess(capped, at(seconds=seconds), 10.0)
    later = assess(capped, at(seconds=seconds + extra), 10.0)
    assert first.penalty <= later.penalty <= 0.6
    assert 4.0 <= later.final <= first.final <= 10.0


# ----------------------------------------------------------------------------- submission times
TIMES = "student,submitted_at\nalice,2024-03-02T10:00Z\nZo%C3%AB,2024-03-01T20:00\n"


def test_the_instructors_csv_gives_times_by_student_id_or_original_name():
    times = parse_submission_times(TIMES, local=BERLIN)
    assert times == {
        "alice": datetime(2024, 3, 2, 10, tzinfo=UTC),
        "Zo%C3%AB": datetime(2024, 3, 1, 20, tzinfo=BERLIN),
    }
    named = parse_submission_times("student,submitted_at\nZoë,2024-03-01T20:00Z\n")
    assert submission_time(student_id("Zoë"), times=named).at == datetime(2024, 3, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("name,when\nalice,2024-03-01T10:00Z\n", "columns student and submitted_at"),
        ("student,submitted_at\nalice,yesterday\n", "line 2: 'yesterday' is not a date and time"),
        ("student,submitted_at\nalice,2024-03-01T10:00Z\nalice,2024-03-01T11:00Z\n", "line 3: student 'alice'"),
    ],
)
def test_a_submission_times_file_that_cannot_be_used_says_where(tmp_path, content, complaint):
    path = tmp_path / "times.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LatenessError, match=complaint):
        read_submission_times(str(path))


def test_the_csv_wins_over_the_lms_and_the_file_time():
    times = parse_submission_times(TIMES)
    gradescope = Identity("gradescope", submitted_at=DEADLINE)
    found = submission_time("alice", times=times, identity=gradescope, mtime=0.0)
    assert found == SubmissionTime(datetime(2024, 3, 2, 10, tzinfo=UTC), "csv")


def test_gradescope_records_the_submission_time():
    found = submission_time("submission_1", identity=Identity("gradescope", submitted_at=DEADLINE), mtime=0.0)
    assert found == SubmissionTime(DEADLINE, "gradescope")


def test_a_canvas_late_flag_counts_one_day_and_no_flag_means_on_time_whatever_the_file_time():
    late = submission_time(
        "x", identity=parse_download_name("xuerin_LATE_98765_4321_nb"), mtime=DEADLINE.timestamp() + 9e5
    )
    on_time = submission_time(
        "x", identity=parse_download_name("xuerin_98765_4321_nb"), mtime=DEADLINE.timestamp() + 9e5
    )
    assert (late.late_flag, late.source, on_time.late_flag) == (True, "canvas", False)
    assert assess(policy(), late, 20.0).final == 18.0
    assert assess(policy(), on_time, 20.0).final == 20.0


def test_the_file_time_is_the_last_resort():
    found = submission_time("alice", identity=Identity("moodle", user_id="5"), mtime=DEADLINE.timestamp() + 60)
    assert found == SubmissionTime(DEADLINE + timedelta(minutes=1), "mtime")
    assert assess(policy(), found, 20.0).days_late == 1
    assert submission_time("alice") == SubmissionTime(None, "unknown")
    assert assess(policy(), SubmissionTime(None, "unknown"), 20.0).final == 20.0
