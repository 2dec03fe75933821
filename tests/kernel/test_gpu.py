"""The GPU path: probes that train or run a network put it on `ctx.device()`, CUDA where the
grading machine has it. The verdicts must be the same as on the CPU (within the checks' stated
tolerances). Without a GPU (this project's machines) there is nothing to compare: skipped."""

from __future__ import annotations

import pytest
import torch

from grader.grading import Grader
from grader.policy import SandboxPolicy
from tests.kernel.conftest import TEST_LIMITS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_every_reference_gets_the_same_verdicts_with_and_without_the_gpu(course):
    with_gpu = SandboxPolicy.from_limits(TEST_LIMITS, gpu=True)
    without = SandboxPolicy.from_limits(TEST_LIMITS, gpu=False)
    verdicts = []
    for policy in (with_gpu, without):
        with Grader(TEST_LIMITS, course=course, policy=policy) as grader:
            verdicts.append(
                {
                    rubric.id: {c.id: c.status for c in grader.grade(course.reference_notebook(rubric), rubric).checks}
                    for rubric in course.assignments.values()
                }
            )
    assert verdicts[0] == verdicts[1]
    assert all(status == "passed" for checks in verdicts[0].values() for status in checks.values())
