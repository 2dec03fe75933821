"""The probe's view of the kernel (grader.content.ProbeContext): library objects as they were,
and PyTorch operators switched off while the student's code runs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.content import ProbeContext


def unfold_rule(schema, args):
    return "F.unfold" if schema.name == "aten::im2col" else None


def test_a_switched_off_operator_is_stopped_whatever_name_leads_to_it():
    ctx = ProbeContext({})
    saved = F.unfold  # a reference taken before the check: the operator is the same
    x = torch.randn(1, 1, 4, 4)
    for route in (lambda: saved(x, 2), lambda: torch.nn.Unfold(2)(x)):
        message = r"F\.unfold is switched off in this check: write it by hand"
        with pytest.raises(RuntimeError, match=message), ctx.switched_off(unfold_rule, "write it by hand"):
            route()
    with ctx.switched_off(unfold_rule, "write it by hand"):
        assert torch.equal(x.unfold(2, 2, 1).sum(), x.unfold(2, 2, 1).sum())  # a view is allowed


def test_what_was_tried_is_known_even_when_the_code_caught_it():
    ctx = ProbeContext({})

    def sly(x):
        try:
            return F.unfold(x, 2)
        except RuntimeError:
            return x * 0

    result = ctx.call_switched_off(unfold_rule, "by hand", sly, torch.ones(1, 1, 3, 3))
    assert result["ruled_out"] == ["F.unfold"] and result["raised"] == ""
    stopped = ctx.call_switched_off(unfold_rule, "by hand", lambda x: F.unfold(x, 2), torch.ones(1, 1, 3, 3))
    assert stopped == {"value": None, "ruled_out": ["F.unfold"], "raised": "RuntimeError"}
    clean = ctx.call_switched_off(unfold_rule, "by hand", lambda x: x + 1, torch.ones(2))
    assert clean["ruled_out"] == [] and torch.equal(clean["value"], torch.full((2,), 2.0))


def test_an_error_of_another_kind_is_the_students_own():
    ctx = ProbeContext({})
    with pytest.raises(ZeroDivisionError):
        ctx.call_switched_off(unfold_rule, "by hand", lambda: 1 / 0)


def test_library_objects_come_from_the_originals_or_an_import():
    ctx = ProbeContext({})
    assert ctx.library("torch.nn.functional.conv2d") is F.conv2d  # a remembered module (none in the grader)
    assert ctx.library("json.dumps") is __import__("json").dumps  # not remembered: imported now
    with pytest.raises(LookupError):
        ctx.original("json.dumps")
