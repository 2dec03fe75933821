"""The content API: the only part of the engine that course content may import.

Rubric checks modules (`rubrics/*_checks.py`), probes (`rubrics/*_probes.py`), reference
solutions (`reference/*.py`) and notebook sources (`exercises/sources/*.py`) use these
names and nothing else of `grader`, so the engine's internals can change freely without
breaking a course. A test enforces it.

For property checks (run in the grader):
    CheckFailed       raise it with a message the student can act on
    compare           compare(got, expected, mode="allclose"|"equal", rtol=, atol=, what=)
    PropertyContext   the `ctx` a property function gets (args, reference, rng, options, what, students)
    shape_text        (2, 3) as text, for messages
    Network           what a structure check's property gets: a network verified and measured
                      in the grader (layers in call order, parameters, MACs, shapes)
    describe_network  describe_network(module_or_factory, input_shape, *args) -> Network, for
                      a reference network (the same code that describes the student's)

For probes (run *inside* the student's kernel, where this module is not importable): a
probe is `fn(ctx, *args)` and reads the student's names only through `ctx`
(`ctx.get(name)` raises the "not defined in your notebook" error, `ctx.has(name)`).
`ProbeContext(namespace)` is the same object for running a probe in the grader, e.g. to
describe a reference network with the very code that describes the student's.

For notebook sources: `md`, `code`, `answer` (see `grader.authoring`).
"""

from __future__ import annotations

from .authoring import answer, code, md
from .compare import CheckFailed, compare, shape_text
from .harness import ProbeContext
from .kinds.property import PropertyContext
from .structure import Network, describe_network

__all__ = [
    "CheckFailed",
    "Network",
    "ProbeContext",
    "PropertyContext",
    "answer",
    "code",
    "compare",
    "describe_network",
    "md",
    "shape_text",
]
