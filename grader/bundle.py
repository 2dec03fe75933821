"""`grader gradescope-bundle ID`: a Gradescope autograder zip for one assignment.

The zip holds, at its root (Gradescope unpacks it into /autograder/source):

* `setup.sh` — run once when Gradescope builds the image: Python 3.11, CPU-only torch and
  the locked requirements in a venv at /autograder/venv, then the engine;
* `run_autograder` — run per submission: copies the submitted notebooks (only regular files:
  a link, FIFO, folder or hard-linked file is refused with a failing results.json), runs
  `grader check --format gradescope --output /autograder/results/results.json --exit-zero`
  with the bundle's own engine (`engine/`, imported from there, never from the current
  folder) and makes sure a results.json exists whatever happened;
* `requirements.txt` — the grader's lock (grader/grading-requirements.txt, see
  grader/environment.py): every package the engine needs at the version the grader is tested
  and graded with everywhere, so the numerics cannot drift between instructor and Gradescope;
* `engine/` — the grader's source; `course/` — this assignment's rubric, checks, probes and
  reference, found by the engine through `D2L_GRADER_COURSE`.

`AUTOGRADER_ROOT` (default /autograder) relocates everything, and `AUTOGRADER_PYTHON`
(default the venv's python) names an interpreter that already has the lock installed (say,
a checkout's `.venv/bin/python`), so the bundle can be tried in a fake layout on any machine
without setup.sh. Either way the engine that grades is the bundle's: what is tried is what
Gradescope will run, whatever grader that interpreter has installed.
"""

from __future__ import annotations

import ast
import io
import json
import os
import zipfile
from importlib import metadata

from . import environment
from .course import package_dir
from .files import write_atomic
from .rubric import Rubric

_EXECUTABLE = 0o100755 << 16
_REGULAR = 0o100644 << 16
_STAMP = (2020, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip


class BundleError(ValueError):
    """The bundle cannot be built; str() is the one-line reason."""


SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# Choose the Ubuntu 22.04 base image: the grader needs Python 3.11.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
fi
python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
# CPU-only torch from PyTorch's own index, alone; then everything else at the lock's versions
# (requirements.txt pins torch as that same CPU build, so pip never looks for another).
"$ROOT/venv/bin/python" -m pip install {torch_pip_args}
"$ROOT/venv/bin/python" -m pip install -r "$SOURCE/requirements.txt"
# The book's d2l package, without its obsolete pins (what it imports is in the lock).
"$ROOT/venv/bin/python" -m pip install {d2l_pip_args}
"$ROOT/venv/bin/python" -m pip install --no-deps "$SOURCE/engine"
# The rubric loads, with the engine as run_autograder runs it.
D2L_GRADER_COURSE="$SOURCE/course" PYTHONPATH="$SOURCE/engine" "$ROOT/venv/bin/python" -P -m grader list
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. It always leaves results/results.json behind.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
ASSIGNMENT={assignment}
EXPECTED={notebook}
# The interpreter setup.sh made, or one named for a dry run; the engine is always the bundle's
# (PYTHONPATH, and -P so that the current folder, say a grader checkout, is not searched first).
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
export D2L_GRADER_COURSE="$SOURCE/course"
mkdir -p "$ROOT/results"

fail_with() {{  # $1: a message without quotes or backslashes
    printf '%s\\n' "{{\\"score\\": 0, \\"output\\": \\"$1\\", \\"tests\\": [{{\\"name\\": \\"notebook\\", \\"number\\": \\"0\\", \\"score\\": 0, \\"max_score\\": {max_score}, \\"status\\": \\"failed\\", \\"output\\": \\"$1\\", \\"visibility\\": \\"visible\\"}}]}}" > "$RESULTS"
}}

printable() {{  # a name a student chose, safe inside fail_with's message
    printf '%s' "$1" | LC_ALL=C tr -cd 'A-Za-z0-9._ @()+,-'
}}

# Only the student's own regular files are graded: a link (to the course's reference, to
# /etc/...), a FIFO, a folder or a file with several hard links is refused, never read.
WORK="$(mktemp -d)"
shopt -s nullglob
declare -A REFUSED=()
for f in "$ROOT"/submission/*.ipynb; do
    name="$(basename -- "$f")"
    if [ -L "$f" ]; then
        REFUSED["$name"]="$(printable "$name") is a symbolic link: the autograder never follows links. Upload the notebook file itself."
    elif [ ! -f "$f" ]; then
        REFUSED["$name"]="$(printable "$name") is not a regular file. Upload the notebook file itself."
    elif [ "$(stat -c %h -- "$f")" != 1 ]; then
        REFUSED["$name"]="$(printable "$name") has several hard links. Upload a plain copy of the notebook."
    else
        cp -P -- "$f" "$WORK/$name" || REFUSED["$name"]="$(printable "$name") could not be copied."
        continue
    fi
    echo "not graded: ${{REFUSED[$name]}}"
done
if [ -f "$WORK/$EXPECTED" ] && [ ! -L "$WORK/$EXPECTED" ]; then
    NOTEBOOK="$WORK/$EXPECTED"
elif [ -n "${{REFUSED[$EXPECTED]:-}}" ]; then
    fail_with "${{REFUSED[$EXPECTED]}}"
    exit 0
else
    candidates=("$WORK"/*.ipynb)
    if [ ${{#candidates[@]}} -eq 0 ]; then
        if [ ${{#REFUSED[@]}} -gt 0 ]; then
            for name in "${{!REFUSED[@]}}"; do
                fail_with "${{REFUSED[$name]}}"
                break
            done
        else
            fail_with "No notebook (.ipynb file) was found in your submission. Upload $EXPECTED."
        fi
        exit 0
    fi
    NOTEBOOK="${{candidates[0]}}"
    echo "grading $(basename "$NOTEBOOK") (no $EXPECTED in the submission)"
fi

rm -f "$RESULTS"
if [ -x "$PYTHON" ]; then
    PYTHONPATH="$SOURCE/engine" "$PYTHON" -P -m grader check "$NOTEBOOK" --assignment "$ASSIGNMENT" \
        --format gradescope --output "$RESULTS" --exit-zero
    status=$?
else
    echo "no Python at $PYTHON: run setup.sh first, or set AUTOGRADER_PYTHON for a dry run"
    status=127
fi
echo "grader check exited with $status"
if [ ! -s "$RESULTS" ]; then
    fail_with "The autograder could not grade your notebook (exit code $status). Please tell your instructor."
fi
exit 0
"""


def course_files(rubric: Rubric) -> dict[str, str]:
    """Files of this assignment's content: bundle path -> path on disk."""
    rubrics_dir = os.path.dirname(rubric.path)
    reference_dir = os.path.join(rubric.course_root, "reference")
    files = {f"course/rubrics/{os.path.basename(rubric.path)}": rubric.path}
    modules = [(rubrics_dir, "rubrics", m) for m in (rubric.checks_module, rubric.probes_module) if m]
    modules.append((reference_dir, "reference", rubric.reference_module))
    while modules:
        folder, where, module = modules.pop()
        path = os.path.join(folder, module + ".py")
        target = f"course/{where}/{module}.py"
        if target in files:
            continue
        if not os.path.isfile(path):
            raise BundleError(f"{path}: named by rubric {rubric.id} but missing")
        files[target] = path
        modules.extend((folder, where, m) for m in _sibling_imports(path))
    notebook = os.path.join(reference_dir, rubric.notebook)
    if os.path.isfile(notebook):
        files[f"course/reference/{rubric.notebook}"] = notebook
    return files


def _sibling_imports(path: str) -> list[str]:
    """Modules a course file imports from its own folder (helpers shared by reference code)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    folder = os.path.dirname(path)
    return sorted(n for n in names if os.path.isfile(os.path.join(folder, n + ".py")))


def engine_files() -> dict[str, str]:
    """The grader package's source files: bundle path -> path on disk."""
    base = package_dir()
    files = {}
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(names):
            if name.endswith((".py", ".typed")):
                rel = os.path.relpath(os.path.join(folder, name), os.path.dirname(base))
                files["engine/" + rel.replace(os.sep, "/")] = os.path.join(folder, name)
    return files


def _engine_pyproject(packages: list[str]) -> str:
    version = metadata.version("d2l-grader")
    return (
        "# The grader engine, installed with --no-deps: ../requirements.txt (the lock) pins its dependencies.\n"
        "[build-system]\n"
        'requires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "d2l-grader"\n'
        f'version = "{version}"\n'
        'requires-python = ">=3.11,<3.12"\n\n'
        "[project.scripts]\n"
        'grader = "grader.cli:entry"\n\n'
        "[tool.setuptools]\n"
        f"packages = {json.dumps(packages)}\n"
    )


def build(rubric: Rubric) -> bytes:
    """The autograder zip for `rubric`, as bytes."""
    try:
        requirements = environment.lock_text()
    except FileNotFoundError as exc:
        raise BundleError(str(exc)) from None
    engine = engine_files()
    packages = sorted(
        {os.path.dirname(p)[len("engine/") :].replace("/", ".") for p in engine if p.endswith("/__init__.py")}
    )
    texts = {
        "setup.sh": SETUP_SH.format(torch_pip_args=environment.TORCH_PIP_ARGS, d2l_pip_args=environment.D2L_PIP_ARGS),
        "run_autograder": RUN_AUTOGRADER.format(
            assignment=_sh_quote(rubric.id), notebook=_sh_quote(rubric.notebook), max_score=f"{rubric.max_score:g}"
        ),
        "requirements.txt": requirements,
        "engine/pyproject.toml": _engine_pyproject(packages),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in texts.items():
            _add(zf, name, text.encode("utf-8"), executable=name in ("setup.sh", "run_autograder"))
        for name, path in sorted({**engine, **course_files(rubric)}.items()):
            with open(path, "rb") as f:
                _add(zf, name, f.read())
    return buf.getvalue()


def write(rubric: Rubric, out: str) -> list[str]:
    """Write the zip to `out`; return the names it holds."""
    data = build(rubric)
    write_atomic(out, data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.namelist()


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_STAMP)
    info.external_attr = _EXECUTABLE if executable else _REGULAR
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _sh_quote(text: str) -> str:
    if any(c in text for c in "'\"\\\n"):
        raise BundleError(
            f"{text!r}: quotes, backslashes and newlines are not allowed in assignment ids or notebook names"
        )
    return f"'{text}'"
