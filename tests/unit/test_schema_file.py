"""The published JSON Schema of rubrics (rubrics/rubric.schema.json, which every rubric names
with `#:schema` for editor completion) is the one the model generates today."""

from __future__ import annotations

import json
from pathlib import Path

from grader.rubric import json_schema


def test_published_rubric_schema_is_generated_from_the_model(course):
    published = Path(course.root, "rubrics", "rubric.schema.json")
    assert json.loads(published.read_text(encoding="utf-8")) == json_schema(), (
        "rubrics/rubric.schema.json is stale: run `grader schema -o rubrics/rubric.schema.json`"
    )


def test_every_rubric_points_editors_at_the_schema(course):
    for rubric in course.assignments.values():
        first = Path(rubric.path).read_text(encoding="utf-8").splitlines()[0]
        assert first == "#:schema ./rubric.schema.json", rubric.path
