"""The rubric model: what an instructor writes in `rubrics/<assignment>.toml`.

A rubric names the assignment, its exercises, the auto-graded checks (what to fetch from
the student's notebook, what inputs to call it with, how to judge the answer, points,
tolerances, public or hidden) and the free-text items collected for manual grading.

Loading validates everything up front — every key of every table (a typo is an unknown
key, never a silently ignored one), every input generator, every regular expression,
every function the rubric names in its course modules — and reports each problem with
the file, the check and the key, because an instructor's typo must never turn into a
wrong grade at 2 a.m. The model is pydantic; the check kinds contribute their own keys
(see `grader.kinds`), and `json_schema()` publishes the whole format for editors.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from functools import cache
from types import ModuleType
from typing import Annotated, Any, Union

import pydantic
from pydantic import Discriminator, Field, Tag

from . import kinds
from .inputs import json_schema as input_json_schema
from .kinds.base import INPUT_PLACEHOLDER, CheckSpec, Identifier, Key, ModuleNames, Strict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class RubricError(ValueError):
    """A rubric file is invalid; the message names the file and lists every problem."""


class AssignmentSpec(Strict):
    id: Key = Field(description="what --assignment takes, and what notebook metadata names")
    title: str = Field(min_length=1)
    section: str = Field(min_length=1, description="the book's section, d2l v0.17 numbering, e.g. 6.2")
    notebook: str = Field(pattern=r"^[^/\\]+\.ipynb$", description="starter in exercises/, solved copy in reference/")
    reference: Identifier = Field(description="module in reference/ computing expected values (grader only)")
    checks: Identifier | None = Field(None, description="module in rubrics/ with property functions")
    probes: Identifier | None = Field(None, description="module in rubrics/ run inside the kernel (no answers!)")
    aliases: list[str] = Field(default_factory=list, description="other notebook file names to recognise")
    v1_section: str | None = Field(
        None,
        pattern=r"^[0-9]+(\.[0-9]+)*$",
        description="the same section in d2l v1.0's numbering (e.g. 8.1 for v0.17's 7.1), if the edition has it",
    )
    seed: int = Field(0, ge=0, description="seeds every generated input")


class ExerciseSpec(Strict):
    id: Key
    title: str = Field(min_length=1)
    v1: int | None = Field(
        None,
        ge=1,
        description="this exercise's number in d2l v1.0's section (v1_section); absent: v1.0 does not have it",
    )
    v1_only: bool = Field(False, description="an exercise only d2l v1.0 has (no v0.17 number)")


class ManualSpec(Strict):
    """A free-text item, collected for a human grader."""

    id: Key
    exercise: str
    prompt: str = Field(min_length=1)
    points: float = Field(0.0, ge=0, description="points for the human grader")


@cache
def file_model() -> type[pydantic.BaseModel]:
    """The model of a whole rubric file, its `[[check]]` a union over the registered kinds."""
    names = list(kinds.registry())

    def which(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("kind", "value")
            return kind if isinstance(kind, str) else None
        return getattr(value, "kind", None)

    members = tuple(Annotated[kind.spec, Tag(name)] for name, kind in kinds.registry().items())
    any_check = Annotated[
        Union[members],  # type: ignore[valid-type]  # noqa: UP007 - a Union built from a tuple
        Discriminator(
            which, custom_error_type="unknown_kind", custom_error_message="`kind` must be one of " + ", ".join(names)
        ),
    ]
    return pydantic.create_model(
        "Rubric",
        __base__=Strict,
        __doc__="A d2l-grader rubric (rubrics/<assignment>.toml).",
        assignment=(AssignmentSpec, ...),
        exercise=(list[ExerciseSpec], Field(default_factory=list)),
        check=(list[any_check], Field(min_length=1)),
        manual=(list[ManualSpec], Field(default_factory=list)),
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of rubric files, generated from the model (for editor completion)."""
    schema = _with_input_refs(file_model().model_json_schema())
    schema.setdefault("$defs", {})["Input"] = input_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://d2l-grader.invalid/rubric.schema.json",
        **schema,
        "title": "d2l-grader rubric",
    }


def _with_input_refs(node: Any) -> Any:
    """pydantic cannot point at a definition it did not make: inputs are marked, then linked."""
    if isinstance(node, dict):
        if node.get(INPUT_PLACEHOLDER):
            return {"$ref": "#/$defs/Input"}
        return {k: _with_input_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_input_refs(v) for v in node]
    return node


@dataclass
class Rubric:
    """A loaded, validated rubric, with the paths of its course modules."""

    id: str
    title: str
    section: str
    notebook: str
    reference_module: str
    seed: int
    exercises: list[ExerciseSpec]
    checks: list[Any]  # CheckSpec subclasses, one per kind
    manual: list[ManualSpec]
    path: str
    course_root: str
    checks_module: str | None = None
    probes_module: str | None = None
    aliases: list[str] = field(default_factory=list)
    v1_section: str | None = None

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks))

    def public_part(self, exercise: str) -> Rubric:
        """One exercise's public checks and free-text items: what a student checks while
        working on it (`grader check --exercise`, `grader.check` in Jupyter). Hidden checks
        never run there, so their inputs and verdicts stay for the real grading. Raises
        LookupError (naming the exercises there are) for an exercise the rubric lacks."""
        known = [e.id for e in self.exercises]
        if exercise not in known:
            raise LookupError(f"no exercise {exercise!r} in {self.id}; its exercises: {', '.join(known)}")
        return replace(
            self,
            exercises=[e for e in self.exercises if e.id == exercise],
            checks=[c for c in self.checks if c.exercise == exercise and not c.hidden],
            manual=[m for m in self.manual if m.exercise == exercise],
        )

    def names(self) -> set[str]:
        """Names the student's notebook is expected to define."""
        out = {c.name or c.call for c in self.checks if c.name or c.call}
        for check in self.checks:
            out.update(check.needs)
        return {n for n in out if n}

    def module_path(self, folder: str, module: str) -> str:
        return os.path.join(self.course_root, folder, module + ".py")

    def load_reference(self) -> ModuleType:
        return load_course_module(self.module_path("reference", self.reference_module))

    def load_checks(self) -> ModuleType | None:
        return load_course_module(self.module_path("rubrics", self.checks_module)) if self.checks_module else None

    def probes_source(self) -> str:
        if not self.probes_module:
            return ""
        with open(self.module_path("rubrics", self.probes_module), encoding="utf-8") as f:
            return f.read()

    def module_paths(self) -> list[str]:
        """Every course file this rubric's verdicts depend on."""
        paths = [self.path, self.module_path("reference", self.reference_module)]
        paths += [self.module_path("rubrics", m) for m in (self.checks_module, self.probes_module) if m]
        return paths


_MODULES: dict[str, ModuleType] = {}
_LOADING = threading.RLock()


def load_course_module(path: str) -> ModuleType:
    """Import a course file by path (reference/ and rubrics/ are not packages)."""
    path = os.path.realpath(path)
    with _LOADING:  # one import per file, also when the grader preloads it in a thread
        return _load_locked(path)


def _load_locked(path: str) -> ModuleType:
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
def load_rubric(path: str, course_root: str) -> Rubric:
    """Read and validate one rubric file; raise RubricError naming every problem."""
    where = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RubricError(f"{where}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise RubricError(f"{where}: {exc.strerror}") from None
    try:
        model = file_model().model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [describe_error(error, data) for error in exc.errors()]
        raise RubricError(f"{where}: " + "; ".join(dict.fromkeys(problems))) from None
    rubric = Rubric(
        id=model.assignment.id,  # type: ignore[attr-defined]
        title=model.assignment.title,  # type: ignore[attr-defined]
        section=model.assignment.section,  # type: ignore[attr-defined]
        notebook=model.assignment.notebook,  # type: ignore[attr-defined]
        reference_module=model.assignment.reference,  # type: ignore[attr-defined]
        seed=model.assignment.seed,  # type: ignore[attr-defined]
        exercises=list(model.exercise),  # type: ignore[attr-defined]
        checks=list(model.check),  # type: ignore[attr-defined]
        manual=list(model.manual),  # type: ignore[attr-defined]
        path=os.path.abspath(path),
        course_root=os.path.abspath(course_root),
        checks_module=model.assignment.checks,  # type: ignore[attr-defined]
        probes_module=model.assignment.probes,  # type: ignore[attr-defined]
        aliases=list(model.assignment.aliases),  # type: ignore[attr-defined]
        v1_section=model.assignment.v1_section,  # type: ignore[attr-defined]
    )
    problems = _cross_references(rubric)
    if problems:
        raise RubricError(f"{where}: " + "; ".join(problems))
    return rubric


def _cross_references(rubric: Rubric) -> list[str]:
    """What a single table cannot know: ids, exercises and the functions named in modules."""
    problems: list[str] = []
    exercise_ids = [e.id for e in rubric.exercises]
    for duplicate in sorted({i for i in exercise_ids if exercise_ids.count(i) > 1}):
        problems.append(f"[[exercise]] {duplicate!r} is declared twice")
    modules, unreadable = _module_names(rubric)
    problems += unreadable
    seen: set[str] = set()
    for number, check in enumerate(rubric.checks, 1):
        label = f"[[check]] #{number} ({check.id})"
        if check.id in seen:
            problems.append(f"{label}: duplicate check id")
        seen.add(check.id)
        if check.exercise not in exercise_ids:
            problems.append(f"{label}: unknown exercise {check.exercise!r} (declare it in [[exercise]])")
        if check.probe:
            if modules.probes is None:
                problems.append(f"{label}: probe checks need `probes` (a module in rubrics/) in [assignment]")
            elif "probes" not in modules.unreadable and check.probe not in modules.probes:
                problems.append(f"{label}: probe {check.probe!r} is not defined in the probes module")
        problems += [f"{label}: {p}" for p in kinds.get(check.kind).validate(check, modules)]
    manual_ids: set[str] = set()
    for number, item in enumerate(rubric.manual, 1):
        label = f"[[manual]] #{number} ({item.id})"
        if item.id in manual_ids or item.id in seen:
            problems.append(f"{label}: duplicate id")
        manual_ids.add(item.id)
        if item.exercise not in exercise_ids:
            problems.append(f"{label}: unknown exercise {item.exercise!r}")
    return problems


def _module_names(rubric: Rubric) -> tuple[ModuleNames, list[str]]:
    """Top-level names of the reference, checks and probes modules, read with `ast` (no import:
    loading a rubric must not import torch, and must not run course code to find a typo)."""
    problems = []
    unreadable: set[str] = set()

    def names(folder: str, module: str | None, key: str) -> frozenset[str] | None:
        if module is None:
            return None
        path = rubric.module_path(folder, module)
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
        except OSError:
            problems.append(f"[assignment] {key} = {module!r}: there is no {folder}/{module}.py")
        except SyntaxError as exc:
            line = f" on line {exc.lineno}" if exc.lineno else ""
            problems.append(f"{folder}/{module}.py: syntax error{line}: {exc.msg}")
        except ValueError as exc:  # not UTF-8, or null bytes (a ValueError from ast.parse on 3.11)
            problems.append(f"{folder}/{module}.py: cannot be read as Python source ({exc})")
        else:
            return frozenset(_top_level_names(tree))
        unreadable.add(key)
        return frozenset()

    # an unreadable module is reported once, not once per check that names one of its functions
    reference = names("reference", rubric.reference_module, "reference") or frozenset()
    checks = names("rubrics", rubric.checks_module, "checks")
    probes = names("rubrics", rubric.probes_module, "probes")
    return ModuleNames(reference, checks, probes, frozenset(unreadable)), problems


def _top_level_names(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update(sub.id for t in targets for sub in ast.walk(t) if isinstance(sub, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return found


def describe_error(error: Any, data: dict[str, Any]) -> str:
    """One pydantic error as an instructor reads it: table, check id, key, what is wrong."""
    loc = list(error["loc"])
    where = ""
    if loc and loc[0] in ("check", "exercise", "manual") and len(loc) > 1 and isinstance(loc[1], int):
        table, index = loc[0], loc[1]
        raw = (data.get(table) or [None] * (index + 1))[index]
        name = raw.get("id", "no id") if isinstance(raw, dict) else "not a table"
        where = f"[[{table}]] #{index + 1} ({name})"
        loc = loc[2:]
        if table == "check" and loc and isinstance(loc[0], str) and loc[0] in kinds.registry():
            loc = loc[1:]  # the union's tag: the kind, which the instructor did not write as a key
    elif len(loc) > 1:  # inside a top-level table; a lone top-level key (missing, unknown) stays the key
        where = f"[{loc[0]}]" if isinstance(loc[0], str) and isinstance(data.get(loc[0]), dict) else f"`{loc[0]}`"
        loc = loc[1:]
    message = str(error["msg"]).removeprefix("Value error, ")
    kind = error["type"]
    key = ".".join(str(p) if isinstance(p, str) else f"[{p + 1}]" for p in loc).replace(".[", "[")
    if kind == "extra_forbidden":
        text = f"unknown key `{key}`"
    elif kind == "missing":
        text = f"missing key `{key}`"
    elif key:
        text = f"`{key}`: {message}"
    else:
        text = message
    return f"{where}: {text}" if where else text


def rubric_paths(course_root: str) -> list[str]:
    folder = os.path.join(course_root, "rubrics")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".toml"))


__all__ = ["CheckSpec", "Rubric", "RubricError", "json_schema", "load_rubric"]
