#!/usr/bin/env bash
# Regenerate the locks from pyproject.toml (see requirements/README.md):
#   grader/grading-requirements.txt  what the grader runs with (Gradescope bundle, GitHub workflow)
#   requirements/dev.txt             that plus the test, dask and lint extras (development, CI)
# Usage: requirements/compile.sh [pip-compile options, e.g. --upgrade or -P numpy]
# Without options every existing pin that still fits pyproject.toml is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"  # the locks are for Linux x86_64, CPython 3.11

TOOLS="$(mktemp -d)"
trap 'rm -rf "$TOOLS"' EXIT
"$PYTHON" -m venv "$TOOLS/venv"
"$TOOLS/venv/bin/python" -m pip install --quiet "pip==26.3" "pip-tools==7.6.2"

# torch's version and CPU index come from grader/environment.py, and nowhere else.
read -r TORCH_REQUIREMENT TORCH_INDEX < <("$PYTHON" -c '
import runpy
env = runpy.run_path("grader/environment.py")
print(env["TORCH_CPU_REQUIREMENT"], env["TORCH_CPU_INDEX"])')

# pip must see the CPU build of torch: a local wheel (find-links) or PyPI plus the CPU index.
# Never let it resolve torch from PyPI alone, which would lock the CUDA build.
index=()
if ! "$TOOLS/venv/bin/python" -m pip download --quiet --no-deps --no-index -d "$TOOLS/probe" \
    "$TORCH_REQUIREMENT" >/dev/null 2>&1; then
    index=(--extra-index-url "$TORCH_INDEX")
fi

export CUSTOM_COMPILE_COMMAND="requirements/compile.sh"
compile=("$TOOLS/venv/bin/pip-compile" --quiet --no-config --allow-unsafe --strip-extras
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host "${index[@]}" "$@")
"${compile[@]}" pyproject.toml -o grader/grading-requirements.txt
"${compile[@]}" pyproject.toml --extra test --extra dask --extra lint \
    -c grader/grading-requirements.txt -o requirements/dev.txt

for lock in grader/grading-requirements.txt requirements/dev.txt; do
    if ! grep -qxF "$TORCH_REQUIREMENT" "$lock"; then
        echo "$lock does not pin $TORCH_REQUIREMENT (pip did not see the CPU build of torch)" >&2
        exit 1
    fi
done

# How to install from each lock, above pip-compile's header (pip-compile drops comments when
# it rewrites a file, so they are added on every run).
prepend() {
    { cat; cat "$1"; } >"$1.new" && mv "$1.new" "$1"
}
prepend grader/grading-requirements.txt <<NOTE
# The grader's lock: exactly what it grades with (Linux x86_64, CPython 3.11, CPU torch).
# \`grader gradescope-bundle\` ships it as requirements.txt, \`grader init-ci github\` as
# .github/grader-requirements.txt. torch is pinned as its CPU build, which only PyTorch's CPU
# index serves, so install torch first, alone, then the rest:
#   pip install --no-deps --index-url $TORCH_INDEX $TORCH_REQUIREMENT
#   pip install -r grading-requirements.txt
# Do not edit: run requirements/compile.sh (see requirements/README.md).
NOTE
prepend requirements/dev.txt <<NOTE
# Development and CI lock: the grader's lock (grader/grading-requirements.txt) plus the test,
# dask and lint extras. Install torch's CPU build first, then the project constrained by this:
#   pip install --no-deps --index-url $TORCH_INDEX $TORCH_REQUIREMENT
#   pip install -c requirements/dev.txt -e '.[test,dask,lint]'
# Do not edit: run requirements/compile.sh (see requirements/README.md).
NOTE
echo "wrote grader/grading-requirements.txt and requirements/dev.txt"
