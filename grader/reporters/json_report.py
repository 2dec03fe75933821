"""`--format json`: exactly one JSON object, the contract other tools build on."""

from __future__ import annotations

import json

from ..results import GradeResult


def render(result: GradeResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=False)
