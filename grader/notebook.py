"""Reading a submitted notebook: validation, assignment detection, free-text answers.

Everything a student can get wrong about the *file* is caught here and becomes one
clear sentence (`UnusableNotebook`), before any kernel is started.
"""

from __future__ import annotations

import ast
import json
import os
import re
from typing import TYPE_CHECKING, Any

import nbformat
import numpy as np

from .results import ManualItem

if TYPE_CHECKING:  # loading a notebook needs neither (a cold `grader check` loads it first, then the course)
    from .course import Course
    from .rubric import Rubric

# What a notebook may be, checked before anything expensive reads it. Each cap is far above
# any real notebook (the chapter's have under 100 cells, 50 KiB of code and JSON nested about 8
# deep) and low enough that refusing, or reading, a file at the cap takes well under a second.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024  # the file
MAX_CELLS = 5_000  # cells (nbformat validates every one: ~50 us each)
MAX_JSON_DEPTH = 100  # levels of [ and { (json and nbformat recurse per level)
MAX_JSON_CONTAINERS = 200_000  # [ and { outside strings, all told (each becomes a Python object)
MAX_CODE_CHARS = 512 * 1024  # source of all code cells (parsed with `ast` to detect the assignment)
METADATA_KEY = "d2l_grader"
ANSWER_PLACEHOLDER = "*Your answer here.*"  # what starter answer cells hold until the student writes


class UnusableNotebook(ValueError):
    """The file cannot be graded; str() is the one-line reason."""


def load(path: str) -> Any:
    """Read and validate a notebook (nbformat 4), or raise UnusableNotebook.

    The file's shape is checked on its raw text first, without recursion (`json_shape`):
    a file nested thousands of levels deep, or holding hundreds of thousands of cells, is
    refused with one sentence before `json` or `nbformat` walk it."""
    if not os.path.isfile(path):
        raise UnusableNotebook(f"{path}: no such file")
    size = os.path.getsize(path)
    if size > MAX_NOTEBOOK_BYTES:
        raise UnusableNotebook(
            f"{path}: the notebook is {size // 2**20} MiB, larger than the {MAX_NOTEBOOK_BYTES // 2**20} MiB limit (clear its outputs and try again)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_NOTEBOOK_BYTES + 1)
    except UnicodeDecodeError:
        raise UnusableNotebook(f"{path}: not a notebook (the file is not UTF-8 text)") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_NOTEBOOK_BYTES:  # it grew since getsize
        raise UnusableNotebook(f"{path}: the notebook is larger than the {MAX_NOTEBOOK_BYTES // 2**20} MiB limit")
    # Every cell has a "cell_type" key: many more of them than cells allowed is refused at once.
    if text.count('"cell_type"') > MAX_CELLS:
        raise UnusableNotebook(f"{path}: the notebook has more than {MAX_CELLS:,} cells, more than the grader reads")
    depth = containers = 0
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:  # fewer brackets cannot nest deeper
        depth, containers = json_shape(text, MAX_JSON_DEPTH, MAX_JSON_CONTAINERS)
    if depth > MAX_JSON_DEPTH:
        raise UnusableNotebook(f"{path}: not a notebook (its JSON is nested more than {MAX_JSON_DEPTH} levels deep)")
    if containers > MAX_JSON_CONTAINERS:
        raise UnusableNotebook(
            f"{path}: the notebook holds more than {MAX_JSON_CONTAINERS:,} JSON objects and lists, more than the grader reads"
        )
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnusableNotebook(f"{path}: not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except RecursionError:  # invalid JSON can fool the shape scan; the parser still stops here
        raise UnusableNotebook(f"{path}: not a notebook (its JSON is nested too deeply)") from None
    if not isinstance(raw, dict) or ("cells" not in raw and "worksheets" not in raw):
        raise UnusableNotebook(f"{path}: not a notebook (a JSON file without cells)")
    major = raw.get("nbformat")
    if major != 4:
        raise UnusableNotebook(
            f"{path}: notebook format {major} is not supported; open and save it in a current Jupyter (format 4)"
        )
    cells = raw.get("cells")
    if isinstance(cells, list):
        if len(cells) > MAX_CELLS:
            raise UnusableNotebook(
                f"{path}: the notebook has {len(cells):,} cells, more than the {MAX_CELLS:,} the grader reads"
            )
        code = sum(
            _source_length(c.get("source")) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"
        )
        if code > MAX_CODE_CHARS:
            raise UnusableNotebook(
                f"{path}: the notebook has {code // 1024:,} KiB of code, more than the {MAX_CODE_CHARS // 1024:,} KiB the grader runs"
            )
    captured: dict[str, Any] = {}
    try:  # nbformat validates while reading; we only ask it to hand the error over
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT, capture_validation_error=captured)
    except nbformat.ValidationError as exc:
        raise UnusableNotebook(f"{path}: the notebook is malformed ({_short(exc.message)})") from None
    except Exception as exc:  # anything nbformat chokes on is the file's fault
        raise UnusableNotebook(f"{path}: the notebook is malformed ({type(exc).__name__})") from None
    if captured.get("ValidationError") is not None:
        raise UnusableNotebook(f"{path}: the notebook is malformed ({_short(captured['ValidationError'].message)})")
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise UnusableNotebook(f"{path}: the notebook has no code cells to grade")
    return nb


def _source_length(source: Any) -> int:
    """Characters of a cell's source (a string, or nbformat's list of lines); 0 for anything else,
    which nbformat then refuses."""
    if isinstance(source, str):
        return len(source)
    if isinstance(source, list):
        return sum(len(line) for line in source if isinstance(line, str))
    return 0


_SCAN_CHUNK = 1 << 22  # bytes of text scanned at a time: bounded memory, early exit
_QUOTE = ord('"')
_DELTA = np.zeros(256, dtype=np.int8)  # what a byte does to the nesting level
_DELTA[[ord("["), ord("{")]] = 1
_DELTA[[ord("]"), ord("}")]] = -1


def json_shape(text: str, max_depth: int, max_containers: int) -> tuple[int, int]:
    """(deepest nesting, number of [ and {) of JSON text, both outside strings, found without
    recursion and without parsing; the scan stops early once either exceeds its maximum.

    Escaped backslashes, then escaped quotes, are dropped first (left to right, as JSON reads
    them), so every quote left opens or closes a string; a byte is inside a string when an odd
    number of quotes lead up to it (a running xor). Vectorised, a chunk at a time, on the UTF-8
    bytes (multi-byte characters never contain ASCII bytes): about 0.3 s for 50 MiB of text,
    whatever it holds. For invalid JSON the numbers are only indicative."""
    data = text.replace("\\\\", "").replace('\\"', "").encode("utf-8", "surrogatepass")
    in_string = False
    depth = deepest = containers = 0
    for start in range(0, len(data), _SCAN_CHUNK):
        chunk = np.frombuffer(data, dtype=np.uint8, count=min(_SCAN_CHUNK, len(data) - start), offset=start)
        inside = np.logical_xor.accumulate(chunk == _QUOTE)
        if in_string:
            np.logical_not(inside, out=inside)
        in_string = bool(inside[-1])
        step = _DELTA[chunk]
        step = step[(step != 0) & ~inside]  # the brackets outside strings, in order
        if step.size == 0:
            continue
        levels = np.cumsum(step, dtype=np.int32) + depth
        deepest = max(deepest, int(levels.max()))
        containers += int(np.count_nonzero(step == 1))
        depth = int(levels[-1])
        if deepest > max_depth or containers > max_containers:
            break
    return deepest, containers


def _short(text: str) -> str:
    return text.splitlines()[0][:200] if text else "invalid structure"


def defined_names(nb: Any) -> set[str]:
    """Top-level names the code cells bind, found without running anything."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            names |= _bound_names(cell.source, nested=False)
    return names


def _bound_names(source: str, nested: bool) -> set[str]:
    """Names a cell binds at module level: definitions and assignments (with `nested`, also
    inside if/for/while/try/with blocks, where `conv2d_error = err` usually is)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(sub.id for target in targets for sub in ast.walk(target) if isinstance(sub, ast.Name))
        elif nested and isinstance(node, (ast.If, ast.For, ast.While, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                todo.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                todo.extend(handler.body)
    return names


_MISSING = re.compile(r"name `(\w+)` is not defined in your notebook")


def explain_missing_names(checks: list[Any], errors: list[Any], nb: Any) -> None:
    """A check that found no `X` because the cell defining `X` raised says so: the failure's
    cause is that cell's error, reported elsewhere in the report (cells count from 1, as there)."""
    raised = {e.cell: e.message for e in errors if e.kind == "cell-error" and isinstance(e.cell, int)}
    defines = {  # each raising code cell's names, parsed once
        number: _bound_names(nb.cells[number - 1].source, nested=True)
        for number in sorted(raised)
        if 0 < number <= len(nb.cells) and nb.cells[number - 1].cell_type == "code"
    }
    for check in checks:
        found = _MISSING.fullmatch(check.message)
        number = next((n for n, names in defines.items() if found and found.group(1) in names), None)
        if number is not None:
            message = raised[number]
            what = message.split(" raised ", 1)[1] if " raised " in message else message
            check.message += f": cell {number}, which defines it, raised {what}"


def named_assignment(nb: Any) -> str | None:
    """The assignment the notebook's own metadata names (our starter notebooks carry it)."""
    meta = nb.metadata.get(METADATA_KEY, {})
    if isinstance(meta, dict) and meta.get("assignment"):
        return str(meta["assignment"])
    return None


def detect_assignment(nb: Any, path: str, course: Course) -> Rubric:
    """Metadata first, then the file name, then the names the notebook defines."""
    from .course import UnknownAssignment

    rubrics = course.assignments
    wanted = named_assignment(nb)
    if wanted is not None:
        try:
            return course.get(wanted)
        except UnknownAssignment as exc:
            raise UnknownAssignment(f"the notebook names assignment {wanted!r}: {exc}") from None
    stem = _normalise(os.path.splitext(os.path.basename(path))[0])
    for rubric in rubrics.values():
        candidates = [rubric.id, os.path.splitext(rubric.notebook)[0], *rubric.aliases]
        if any(_names(stem, _normalise(c)) for c in candidates):
            return rubric
    numbered = assignments_numbered(stem, course)
    if len(numbered) == 1:
        return numbered[0]
    found = assignment_by_names(defined_names(nb), course)
    if found is not None:
        return found
    if len(numbered) > 1:
        editions = " and ".join(
            f"{r.id} in d2l {'v0.17' if _section_in(stem, r.section) else 'v1.0'}" for r in numbered
        )
        raise UnknownAssignment(
            f"the notebook's file name gives a section number that is {editions}; pass --assignment with one of them"
        )
    raise UnknownAssignment(
        f"cannot tell which assignment this notebook is; pass --assignment with one of: {_choices(rubrics)}"
    )


def _names(stem: str, candidate: str) -> bool:
    """The normalised file name names `candidate`: as whole words ("vgg" in "hw3-vgg", not
    "nin" in "learning"), or inside a word for names of six letters or more ("myalexnet")."""
    if not candidate:
        return False
    return f"-{candidate}-" in f"-{stem}-" or (len(candidate) >= 6 and candidate in stem)


_SECTION = re.compile(r"(?:^|-)(\d{1,2})-(\d{1,2})(?=-|$)")


def _section_in(stem: str, section: str | None) -> bool:
    return bool(section) and any(f"{a}.{b}" == section for a, b in _SECTION.findall(stem))


def assignments_numbered(stem: str, course: Course) -> list[Rubric]:
    """The assignments whose section, in d2l v0.17's or v1.0's numbering, the file name gives
    ("8.1-alexnet", "7_2 homework"). Both editions number some sections alike (7.1 is AlexNet
    in v0.17 and "From Fully Connected Layers to Convolutions" in v1.0): then there are two."""
    return [r for r in course.assignments.values() if _section_in(stem, r.section) or _section_in(stem, r.v1_section)]


def assignment_by_names(names: set[str], course: Course) -> Rubric | None:
    """The one assignment whose expected names the notebook defines best (at least half of
    them, and strictly more than any other assignment's), else None."""
    rubrics = course.assignments
    scored = sorted(((len(names & r.names()) / max(1, len(r.names())), r.id) for r in rubrics.values()), reverse=True)
    if scored and scored[0][0] >= 0.5 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return rubrics[scored[0][1]]
    return None


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _choices(rubrics: dict[str, Rubric]) -> str:
    return ", ".join(sorted(rubrics))


def edition_of(path: str, rubric: Rubric) -> str:
    """ "v1" when the notebook's file name gives the assignment's d2l v1.0 section number and not
    its v0.17 one ("8.1-alexnet.ipynb"), else "v0.17": which numbers "Exercise 3" means."""
    stem = _normalise(os.path.splitext(os.path.basename(path))[0])
    return "v1" if _section_in(stem, rubric.v1_section) and not _section_in(stem, rubric.section) else "v0.17"


def collect_manual(nb: Any, rubric: Rubric, edition: str = "v0.17") -> list[ManualItem]:
    """Free-text answers, with where each was found.

    Cells tagged `{"d2l_grader": {"answer": "<item id>"}}` (our starter notebooks) come first.
    An item no cell is tagged for (the book's own notebook, answers typed in new cells, metadata
    a notebook tool dropped) is looked for in the markdown after its prompt, after a heading
    naming its exercise ("Exercise 3", or the exercise's title), or, under an "Exercises"
    heading, in a cell that starts with its number ("3.", "**3.**", "Answer 3:"): the exercise's
    number in d2l v0.17, or in v1.0 for a notebook of that `edition` (`edition_of`)."""
    cells = list(nb.cells)
    tagged: dict[str, list[int]] = {}
    for number, cell in enumerate(cells, 1):
        meta = cell.metadata.get(METADATA_KEY, {})
        if isinstance(meta, dict) and isinstance(meta.get("answer"), str):
            tagged.setdefault(meta["answer"], []).append(number)
    prompts = [_words(m.prompt) for m in rubric.manual]
    items = []
    for spec in rubric.manual:
        if spec.id in tagged:
            numbers = tagged[spec.id]
            text = "\n\n".join(t for t in (_answer_text(cells[n - 1].source) for n in numbers) if t)
            found = f"{_cells(numbers)}, tagged {spec.id}"
        else:
            text, found = _untagged_answer(cells, rubric, spec, prompts, edition)
        items.append(
            ManualItem(
                id=spec.id,
                exercise=spec.exercise,
                prompt=spec.prompt,
                answer=text,
                max_score=spec.points,
                found=found,
            )
        )
    return items


def _words(text: str) -> str:
    """Text compared loosely: lower case, markdown emphasis and punctuation runs as one space."""
    return " ".join(re.sub(r"[*_`>#]+|[^\w(),.?'-]+", " ", text.lower()).split())


def _answer_text(source: str) -> str:
    text = source.strip()
    return "" if text == ANSWER_PLACEHOLDER else text


def _cells(numbers: list[int]) -> str:
    return ("cell " if len(numbers) == 1 else "cells ") + ", ".join(str(n) for n in numbers)


def _is_heading(cell: Any) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")


def _untagged_answer(cells: list[Any], rubric: Rubric, spec: Any, prompts: list[str], edition: str) -> tuple[str, str]:
    """(answer, where it was found) for an item no cell is tagged for; ("", where it was looked for)."""
    prompt = _words(spec.prompt)
    exercise = next((e for e in rubric.exercises if e.id == spec.exercise), None)
    title = _words(exercise.title) if exercise is not None else ""
    n = _exercise_number(spec.exercise, exercise, edition)
    in_exercises = False
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        text = _words(cell.source)
        if _is_heading(cell):
            heading = text.split(" ", 1)[-1] if text else ""
            in_exercises = heading.strip().rstrip(".") in ("exercises", "exercise")
        if prompt and prompt in text:  # the prompt: what follows it in its cell, then the cells after
            rest = _words(cell.source.split("\n", 1)[1]) if "\n" in cell.source else ""
            own = [cell.source.strip().split("\n", 1)[1].strip()] if rest and prompt not in rest else []
            return _following(cells, index, prompts, own, f"after the prompt in cell {index + 1}")
        if _is_heading(cell) and ((title and title in text) or (n and re.search(rf"\bexercise {n}\b", text))):
            return _following(cells, index, prompts, [], f"after the heading in cell {index + 1}")
        if in_exercises and n and not _is_heading(cell):
            marker = re.match(_numbered(re.escape(n)) + r"(?:\*\*)?\s*", cell.source, re.I)
            if marker:
                first = cell.source[marker.end() :].strip()
                return _following(
                    cells, index, prompts, [first] if first else [], f"numbered {n} in cell {index + 1}", numbered=True
                )
    looked = [f"a cell tagged {spec.id}", "markdown after the prompt"]
    if title or n:
        looked.append("a heading naming the exercise" + (f" (Exercise {n})" if n else ""))
    if n:
        looked.append(f"a cell starting with {n}. under an Exercises heading")
    return "", "looked for " + ", ".join(looked)


def _exercise_number(exercise_id: str, exercise: Any, edition: str) -> str | None:
    """The number the book gives the exercise in that edition (ids "exN" are v0.17's numbers)."""
    if edition == "v1":
        return str(exercise.v1) if exercise is not None and exercise.v1 is not None else None
    if exercise is not None and exercise.v1_only:
        return None
    number = re.fullmatch(r"ex(\d+)", exercise_id)
    return number.group(1) if number else None


def _numbered(number: str) -> str:
    """The start of a cell that answers exercise `number` (a pattern): "3.", "**3.**", "Answer 3:"."""
    return rf"\s*(?:\*\*)?(?:answer|exercise|q)?\s*{number}\s*[.):]"


_NUMBERED = re.compile(_numbered(r"\d+"), re.I)  # any exercise's number


def _following(
    cells: list[Any], anchor: int, prompts: list[str], first: list[str], where: str, numbered: bool = False
) -> tuple[str, str]:
    """The answer: `first` (text in the anchor cell itself), then the markdown cells after the
    anchor up to the next heading or another item's prompt (or, for an answer found by its
    number, the next numbered cell); code cells in between are skipped."""
    parts = [t for t in first if t and t != ANSWER_PLACEHOLDER]
    numbers = [anchor + 1] if parts else []
    for index in range(anchor + 1, len(cells)):
        cell = cells[index]
        if cell.cell_type != "markdown":
            continue
        if _is_heading(cell) or any(p and p in _words(cell.source) for p in prompts):
            break
        if numbered and _NUMBERED.match(cell.source):
            break
        text = _answer_text(cell.source)
        if text:
            parts.append(text)
            numbers.append(index + 1)
    if not parts:
        return "", f"nothing {where}"
    return "\n\n".join(parts), f"{_cells(numbers)}, {where}"
