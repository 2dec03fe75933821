"""Late work: how late a submission was and what that costs, under a policy the instructor states.

Pure functions, so a policy gives the same grades on every machine and in every re-run: nothing
here reads the clock, and the only files read are the ones named (`read_submission_times`).

* The deadline is ISO 8601 with a time (`2024-03-01T23:59+01:00`, `2024-03-01 23:59Z`). Without
  a UTC offset it is the local time of the machine that grades (or of `local`, if given): say
  the offset when graders may be elsewhere. A date alone is refused, since "midnight at the
  start of the day" is rarely what is meant.
* Days late are 24-hour periods after the deadline, each one started counting whole (one
  second late is one day late; daylight-saving changes do not shorten a day). A grace period
  forgives a submission that late or less; after it, days still count from the deadline.
* The penalty is a fraction of the raw score per day late, capped: `10%/day` with a cap of
  `50%` takes 10% off a score one day late and half of it from five days on.

Where the submission time comes from, first found wins: a `submitted_at` column of a CSV the
instructor gives; the LMS (Gradescope's metadata records the time; a Canvas download name only
says LATE or not, which counts as one day late — give the CSV for more); the file's
modification time, which a download, copy or `git clone` may have reset (the last resort).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction

from .roster import CANVAS, GRADESCOPE, Identity, original_name

UTC = timezone.utc  # datetime.UTC is Python 3.11+

DAY = timedelta(days=1)


class LatenessError(ValueError):
    """A deadline, policy or submission-times file that cannot be used; str() is why."""


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime  # with a UTC offset
    per_day: Fraction  # of the raw score, per day late
    cap: Fraction = Fraction(1)  # at most this much of the raw score is taken
    grace: timedelta = timedelta(0)

    @classmethod
    def from_options(
        cls,
        deadline: str,
        penalty: str,
        cap: str | None = None,
        grace: str | None = None,
        local: tzinfo | None = None,
    ) -> LatePolicy:
        """The policy from command-line text (`--deadline`, `--late-penalty`, `--late-cap`, `--grace`)."""
        return cls(
            deadline=parse_time(deadline, local),
            per_day=parse_penalty(penalty),
            cap=parse_percent(cap) if cap else Fraction(1),
            grace=parse_duration(grace) if grace else timedelta(0),
        )


@dataclass(frozen=True)
class SubmissionTime:
    """When a submission was made, as far as is known, and where that came from."""

    at: datetime | None  # None: unknown, or only a late flag
    source: str  # "csv", "gradescope", "canvas" (its LATE flag or its absence), "mtime", "unknown"
    late_flag: bool = False  # the LMS said late without saying when


@dataclass(frozen=True)
class Lateness:
    days_late: int
    penalty: float  # fraction of the raw score taken off
    raw: float
    final: float
    source: str  # SubmissionTime.source


# ----------------------------------------------------------------------------- parsing
_HAS_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d")


def parse_time(text: str, local: tzinfo | None = None) -> datetime:
    """An ISO 8601 date and time; without a UTC offset, local time (`local`, else the machine's)."""
    value = text.strip()
    if not _HAS_TIME.match(value):
        raise LatenessError(f"{text!r} is not a date and time (ISO 8601, e.g. 2024-03-01T23:59+01:00)")
    try:
        when = from_iso(value)
    except ValueError:
        raise LatenessError(f"{text!r} is not a date and time (ISO 8601, e.g. 2024-03-01T23:59+01:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=local) if local else when.astimezone()
    return when


def from_iso(value: str) -> datetime:
    """`datetime.fromisoformat`, the same on every Python we support: before 3.11 it refused a
    trailing `Z` and fractions of other than 3 or 6 digits, which the LMS exports use."""
    found = re.fullmatch(r"(.*?[T ]\d\d:\d\d(?::\d\d)?)(?:[.,](\d+))?(Z|z|[+-]\d\d:?\d\d(?::?\d\d)?)?", value)
    if found is None:
        return datetime.fromisoformat(value)  # a date alone, or something it will refuse
    clock, fraction, zone = found.groups()
    text = clock + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    if zone:
        zone = "+00:00" if zone in ("Z", "z") else zone
        if ":" not in zone[1:]:  # +0100 -> +01:00
            zone = zone[:3] + ":" + zone[3:5] + (":" + zone[5:] if len(zone) > 5 else "")
        text += zone
    return datetime.fromisoformat(text)


def parse_percent(text: str) -> Fraction:
    """`50%` -> 1/2 (0% to 100%)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text)
    if not found or Fraction(found[1]) > 100:
        raise LatenessError(f"{text!r} is not a percentage from 0% to 100%")
    return Fraction(found[1]) / 100


def parse_penalty(text: str) -> Fraction:
    """`10%/day` (or `10% per day`, or `10%`) -> 1/10 of the raw score per day late."""
    found = re.fullmatch(r"\s*([^/]*?)\s*(?:(?:/|\bper\b)\s*day\s*)?", text)
    try:
        return parse_percent(found[1] if found else text)
    except LatenessError:
        raise LatenessError(f"{text!r} is not a late penalty such as 10%/day") from None


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600}
_UNITS |= {"d": 86400, "day": 86400, "days": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> timedelta:
    """`15m`, `2h`, `1d`, `1h30m`, `0`: a grace period (a unit is required, except for 0)."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    parts = _PART.findall(value)
    if not parts or _PART.sub("", value).strip() or any(unit not in _UNITS for _, unit in parts):
        raise LatenessError(f"{text!r} is not a duration such as 15m, 2h or 1d")
    return timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))


def parse_submission_times(text: str, local: tzinfo | None = None) -> dict[str, datetime]:
    """The instructor's CSV: a `student` column (the grader's student id, or the file or folder
    name) and a `submitted_at` column (as `parse_time`)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [name.strip() for name in reader.fieldnames or []]
    if "student" not in fields or "submitted_at" not in fields:
        raise LatenessError("the submission times need the columns student and submitted_at")
    times: dict[str, datetime] = {}
    for line, record in enumerate(reader, start=2):
        record = {(key or "").strip(): (value or "").strip() for key, value in record.items()}
        student, when = record["student"], record["submitted_at"]
        if not student:
            continue
        if student in times:
            raise LatenessError(f"line {line}: student {student!r} appears twice")
        try:
            times[student] = parse_time(when, local)
        except LatenessError as exc:
            raise LatenessError(f"line {line}: {exc}") from None
    return times


def read_submission_times(path: str, local: tzinfo | None = None) -> dict[str, datetime]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return parse_submission_times(f.read(), local)
    except OSError as exc:
        raise LatenessError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LatenessError(f"{path}: not UTF-8 text") from None
    except (LatenessError, csv.Error) as exc:
        raise LatenessError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------- computing
def submission_time(
    student: str,
    *,
    times: Mapping[str, datetime] | None = None,
    identity: Identity | None = None,
    mtime: float | None = None,
) -> SubmissionTime:
    """When `student` (a grader student id) submitted: the instructor's times, then the LMS,
    then the file's modification time (`os.stat(...).st_mtime`, given by the caller)."""
    times = times or {}
    for key in (student, original_name(student)):
        if key in times:
            return SubmissionTime(times[key], "csv")
    if identity is not None and identity.lms == GRADESCOPE and identity.submitted_at is not None:
        return SubmissionTime(identity.submitted_at, "gradescope")
    if identity is not None and identity.lms == CANVAS:
        # Canvas marks late submissions in the name and writes the file's time as the download's.
        return SubmissionTime(None, "canvas", late_flag=identity.late)
    if mtime is not None:
        return SubmissionTime(datetime.fromtimestamp(mtime, UTC), "mtime")
    return SubmissionTime(None, "unknown")


def days_late(policy: LatePolicy, submitted: SubmissionTime) -> int:
    """Whole days late, each started day counting (0 within the grace period)."""
    if submitted.at is None:
        return 1 if submitted.late_flag else 0
    # In UTC: Python subtracts two times that share a zone by their wall clocks, which would
    # make the day of a daylight-saving change 24 hours long.
    late = submitted.at.astimezone(UTC) - policy.deadline.astimezone(UTC)
    if late <= policy.grace or late <= timedelta(0):
        return 0
    return -(-late // DAY)  # rounded up, exactly


def assess(policy: LatePolicy, submitted: SubmissionTime, raw: float) -> Lateness:
    """The late penalty on a raw score: `final = raw × (1 − min(days × per_day, cap))`."""
    if not math.isfinite(raw):
        raise LatenessError(f"the raw score {raw!r} is not a number")
    days = days_late(policy, submitted)
    penalty = min(days * policy.per_day, policy.cap)
    final = Fraction(raw) * (1 - penalty)
    return Lateness(days, float(penalty), raw, float(final), submitted.source)
