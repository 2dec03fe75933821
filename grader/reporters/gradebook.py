"""`grades.csv`: one row per student, one column per check, then totals and status."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from ..rubric import Rubric

FIXED_TAIL = ("total", "max", "percent", "status")


def header(rubric: Rubric) -> list[str]:
    return ["student", *(c.id for c in rubric.checks), *FIXED_TAIL]


def render_csv(rubric: Rubric, records: Iterable[Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header(rubric))
    for record in records:
        result = record.result
        by_id = {c.id: c.score for c in result.checks}
        max_score = rubric.max_score
        percent = 100.0 * result.score / max_score if max_score else 0.0
        writer.writerow(
            [
                record.student,
                *(f"{by_id.get(c.id, 0.0):g}" for c in rubric.checks),
                f"{result.score:g}",
                f"{max_score:g}",
                f"{percent:.1f}",
                result.status,
            ]
        )
    return buf.getvalue()
