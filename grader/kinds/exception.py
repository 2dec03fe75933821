"""`kind = "exception"`: the name holds an exception the student caught.

`exception = "RuntimeError"` names its class or a base class; `match` is a regular
expression its message must match (validated when the rubric loads).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from ..compare import CheckFailed, describe
from ..plaindata import StudentException, Unsupported
from .base import CheckKind, CheckSpec, Identifier, JudgeContext


class ExceptionCheck(CheckSpec):
    kind: Literal["exception"]
    exception: Identifier = Field(description="the exception's class or one of its base classes")
    match: str | None = Field(None, description="a regular expression the exception's message must match")

    @field_validator("match")
    @classmethod
    def _is_a_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class ExceptionKind(CheckKind):
    name = "exception"
    spec = ExceptionCheck

    def judge(self, check: Any, case: Any, value: Any, ctx: JudgeContext) -> None:
        where = ctx.what
        if isinstance(value, Unsupported) or not isinstance(value, StudentException):
            raise CheckFailed(f"{where} should hold the exception object you caught, but it is {describe(value)}")
        if check.exception not in value.bases:
            raise CheckFailed(f"{where} is a {value.type}, expected a {check.exception}")
        if check.match and not re.search(check.match, value.message):
            shown = value.message if len(value.message) < 200 else value.message[:200] + "..."
            raise CheckFailed(f"{where} has the message {shown!r}, which is not the error this exercise produces")


KIND = ExceptionKind()
