"""The rubric model: what an instructor writes in `rubrics/<assignment>.toml`.

A rubric names the assignment, its exercises, the auto-graded checks (what to fetch from
the student's notebook, what inputs to call it with, how to judge the answer, points,
tolerances, public or hidden) and the free-text items collected for manual grading.
Loading validates everything up front and reports every problem with its place in the
file, because an instructor's typo must never turn into a wrong grade at 2 a.m.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import tomllib

from .course import course_root

CHECK_KINDS = ("value", "exception", "property")
COMPARE_MODES = ("allclose", "equal")
GENERATORS = ("tensor", "array", "randn", "rand", "randint", "arange", "ones", "zeros", "student", "tuple", "list")


class RubricError(ValueError):
    """A rubric file is invalid; the message lists every problem found."""


@dataclass
class Case:
    """One set of inputs for a check (a check passes only if every case passes)."""

    args: list[Any] = field(default_factory=list)
    reference_args: list[Any] | None = None  # defaults to args
    expected: Any = None
    has_expected: bool = False


@dataclass
class Check:
    id: str
    exercise: str
    points: float
    kind: str = "value"
    hidden: bool = False
    description: str = ""
    name: str | None = None  # fetch a value bound to this name
    call: str | None = None  # or call this student function with each case's args
    probe: str | None = None  # or run this kernel-side probe from the rubric's probes module
    cases: list[Case] = field(default_factory=list)
    reference: str | None = None  # reference function computing the expected value in the grader
    compare: str = "allclose"
    rtol: float = 1e-5
    atol: float = 1e-6
    exception: str | None = None  # for kind = "exception": required exception type
    match: str | None = None  # ... and a regular expression its message must match
    prop: str | None = None  # for kind = "property": function in the checks module
    options: dict[str, Any] = field(default_factory=dict)  # passed to the property function
    needs: list[str] = field(default_factory=list)  # names a probe uses (for assignment detection)

    @property
    def target(self) -> str:
        return self.name or self.call or self.probe or "?"


@dataclass
class ManualSpec:
    id: str
    exercise: str
    prompt: str
    points: float = 0.0


@dataclass
class Exercise:
    id: str
    title: str


@dataclass
class Rubric:
    id: str
    title: str
    section: str
    notebook: str  # starter notebook file name in exercises/
    reference_module: str
    seed: int
    exercises: list[Exercise]
    checks: list[Check]
    manual: list[ManualSpec]
    path: str
    checks_module: str | None = None
    probes_module: str | None = None
    aliases: list[str] = field(default_factory=list)  # other notebook file names to recognise

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def names(self) -> set[str]:
        """Names the student's notebook is expected to define."""
        out = {c.name or c.call for c in self.checks if c.name or c.call}
        for check in self.checks:
            out.update(check.needs)
        return {n for n in out if n}

    def load_reference(self) -> ModuleType:
        return _load_module(os.path.join(course_root(), "reference", self.reference_module + ".py"))

    def load_checks(self) -> ModuleType | None:
        if not self.checks_module:
            return None
        return _load_module(os.path.join(os.path.dirname(self.path), self.checks_module + ".py"))

    def probes_source(self) -> str:
        if not self.probes_module:
            return ""
        with open(os.path.join(os.path.dirname(self.path), self.probes_module + ".py"), encoding="utf-8") as f:
            return f.read()


_MODULES: dict[str, ModuleType] = {}


def _load_module(path: str) -> ModuleType:
    """Import a course file by path (reference/ and rubrics/ are not packages)."""
    path = os.path.realpath(path)
    if path not in _MODULES:
        name = "d2l_course_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RubricError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[path] = module
    return _MODULES[path]


# ----------------------------------------------------------------------------- loading
def load_rubric(path: str) -> Rubric:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise RubricError(f"{path}: {exc.strerror}") from None
    return _build(data, path)


def _build(data: dict[str, Any], path: str) -> Rubric:
    problems: list[str] = []
    where = os.path.basename(path)
    meta = data.get("assignment")
    if not isinstance(meta, dict):
        raise RubricError(f"{where}: missing [assignment] table")
    for key in ("id", "title", "section", "notebook", "reference"):
        if not isinstance(meta.get(key), str) or not meta.get(key):
            problems.append(f"[assignment] needs a text `{key}`")
    exercises = []
    for i, ex in enumerate(data.get("exercise", [])):
        if not isinstance(ex.get("id"), str) or not isinstance(ex.get("title"), str):
            problems.append(f"[[exercise]] #{i + 1} needs text `id` and `title`")
            continue
        exercises.append(Exercise(ex["id"], ex["title"]))
    exercise_ids = {e.id for e in exercises}
    checks = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("check", [])):
        label = f"[[check]] #{i + 1} ({raw.get('id', 'no id')})"
        try:
            check = _build_check(raw, exercise_ids)
        except RubricError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if check.id in seen:
            problems.append(f"{label}: duplicate check id")
        seen.add(check.id)
        checks.append(check)
    manual = []
    for i, raw in enumerate(data.get("manual", [])):
        label = f"[[manual]] #{i + 1}"
        unknown = set(raw) - {"id", "exercise", "prompt", "points"}
        if unknown:
            problems.append(f"{label}: unknown keys {sorted(unknown)}")
        if not all(isinstance(raw.get(k), str) for k in ("id", "exercise", "prompt")):
            problems.append(f"{label}: needs text `id`, `exercise` and `prompt`")
            continue
        if raw["exercise"] not in exercise_ids:
            problems.append(f"{label}: unknown exercise {raw['exercise']!r}")
        manual.append(ManualSpec(raw["id"], raw["exercise"], raw["prompt"], float(raw.get("points", 0))))
    if not checks:
        problems.append("no [[check]] entries")
    if problems:
        raise RubricError(f"{where}: " + "; ".join(problems))
    rubric = Rubric(
        id=meta["id"],
        title=meta["title"],
        section=meta["section"],
        notebook=meta["notebook"],
        reference_module=meta["reference"],
        seed=int(meta.get("seed", 0)),
        exercises=exercises,
        checks=checks,
        manual=manual,
        path=os.path.abspath(path),
        checks_module=meta.get("checks"),
        probes_module=meta.get("probes"),
        aliases=list(meta.get("aliases", [])),
    )
    _validate_modules(rubric)
    return rubric


_CHECK_KEYS = {
    "id",
    "exercise",
    "points",
    "kind",
    "hidden",
    "description",
    "name",
    "call",
    "probe",
    "args",
    "reference_args",
    "expected",
    "cases",
    "reference",
    "compare",
    "rtol",
    "atol",
    "exception",
    "match",
    "property",
    "options",
    "needs",
}


def _build_check(raw: dict[str, Any], exercise_ids: set[str]) -> Check:
    unknown = set(raw) - _CHECK_KEYS
    if unknown:
        raise RubricError(f"unknown keys {sorted(unknown)}")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise RubricError("needs a text `id`")
    if raw.get("exercise") not in exercise_ids:
        raise RubricError(f"unknown exercise {raw.get('exercise')!r} (declare it in [[exercise]])")
    points = raw.get("points")
    if not isinstance(points, (int, float)) or points < 0:
        raise RubricError("`points` must be a number >= 0")
    kind = raw.get("kind", "value")
    if kind not in CHECK_KINDS:
        raise RubricError(f"`kind` must be one of {', '.join(CHECK_KINDS)}")
    targets = [k for k in ("name", "call", "probe") if raw.get(k)]
    if len(targets) != 1:
        raise RubricError("give exactly one of `name`, `call` or `probe`")
    compare = raw.get("compare", "allclose")
    if compare not in COMPARE_MODES:
        raise RubricError(f"`compare` must be one of {', '.join(COMPARE_MODES)}")
    for tol in ("rtol", "atol"):
        if tol in raw and (not isinstance(raw[tol], (int, float)) or raw[tol] < 0):
            raise RubricError(f"`{tol}` must be a number >= 0")
    cases = _build_cases(raw)
    check = Check(
        id=raw["id"],
        exercise=raw["exercise"],
        points=float(points),
        kind=kind,
        hidden=bool(raw.get("hidden", False)),
        description=str(raw.get("description", "")),
        name=raw.get("name"),
        call=raw.get("call"),
        probe=raw.get("probe"),
        cases=cases,
        reference=raw.get("reference"),
        compare=compare,
        rtol=float(raw.get("rtol", 1e-5)),
        atol=float(raw.get("atol", 1e-6)),
        exception=raw.get("exception"),
        match=raw.get("match"),
        prop=raw.get("property"),
        options=dict(raw.get("options", {})),
        needs=[str(n) for n in raw.get("needs", [])],
    )
    if kind == "value" and not check.reference and not all(c.has_expected for c in cases):
        if check.call:
            check.reference = check.call
        else:
            raise RubricError("a value check on a name needs `expected` or `reference`")
    if kind == "exception" and not check.exception:
        raise RubricError("an exception check needs `exception` (the type name)")
    if kind == "property" and not check.prop:
        raise RubricError("a property check needs `property` (a function in the checks module)")
    if check.match is not None:
        import re

        try:
            re.compile(check.match)
        except re.error as exc:
            raise RubricError(f"`match` is not a valid regular expression: {exc}") from None
    return check


def _build_cases(raw: dict[str, Any]) -> list[Case]:
    if "cases" in raw:
        if any(k in raw for k in ("args", "expected", "reference_args")):
            raise RubricError("give either `cases` or `args`/`expected`, not both")
        if not isinstance(raw["cases"], list) or not raw["cases"]:
            raise RubricError("`cases` must be a non-empty list of tables")
        specs = raw["cases"]
    else:
        specs = [{k: raw[k] for k in ("args", "expected", "reference_args") if k in raw}]
    cases = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or set(spec) - {"args", "expected", "reference_args"}:
            raise RubricError(f"case {i + 1}: only `args`, `expected` and `reference_args` are allowed")
        args = spec.get("args", [])
        if not isinstance(args, list):
            raise RubricError(f"case {i + 1}: `args` must be a list")
        for value in args + list(spec.get("reference_args", [])):
            _validate_value(value, f"case {i + 1}")
        cases.append(
            Case(
                args=args,
                reference_args=spec.get("reference_args"),
                expected=spec.get("expected"),
                has_expected="expected" in spec,
            )
        )
    return cases


def _validate_value(value: Any, where: str) -> None:
    if isinstance(value, dict):
        generators = [k for k in value if k in GENERATORS]
        if len(generators) != 1:
            raise RubricError(f"{where}: an input table needs exactly one of {', '.join(GENERATORS)}")
        if set(value) - set(GENERATORS) - {"dtype", "shape", "as", "scale"}:
            raise RubricError(f"{where}: unknown input keys {sorted(set(value) - set(GENERATORS))}")
    elif isinstance(value, list):
        for v in value:
            _validate_value(v, where)


def _validate_modules(rubric: Rubric) -> None:
    problems = []
    reference = rubric.load_reference()
    checks_module = rubric.load_checks()
    for check in rubric.checks:
        if check.reference and not callable(getattr(reference, check.reference, None)):
            problems.append(
                f"check {check.id}: reference function {check.reference!r} not in reference/{rubric.reference_module}.py"
            )
        if check.prop and (checks_module is None or not callable(getattr(checks_module, check.prop, None))):
            problems.append(f"check {check.id}: property {check.prop!r} not found in the checks module")
    if any(c.probe for c in rubric.checks) and not rubric.probes_module:
        problems.append("probe checks need `probes` in [assignment]")
    if problems:
        raise RubricError(f"{os.path.basename(rubric.path)}: " + "; ".join(problems))


def rubric_paths() -> list[str]:
    folder = os.path.join(course_root(), "rubrics")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".toml"))


def load_all() -> dict[str, Rubric]:
    rubrics = {}
    for path in rubric_paths():
        rubric = load_rubric(path)
        rubrics[rubric.id] = rubric
    return rubrics
