"""The `grader` command line: a Click group that lists its commands and loads each on demand.

Each command lives in `grader/commands/`; this table is the only place that names them
(no module registers a command on another as an import side effect). Loading on demand
keeps `grader check` from importing the batch, CI and LMS code it does not use.

Exit codes: 0 success (for `check`: every check passed), 1 something failed, 2 unusable
input or an internal error, always with a one-line reason on stderr.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from . import __version__

COMMANDS = {
    "check": "grader.commands.check:check",
    "grade": "grader.commands.grade:grade",
    "list": "grader.commands.course:list_assignments",
    "verify": "grader.commands.course:verify",
    "schema": "grader.commands.course:schema",
    "build-notebooks": "grader.commands.course:build_notebooks",
    "init-ci": "grader.commands.ci:init_ci",
    "gradescope-bundle": "grader.commands.ci:gradescope_bundle",
    "export": "grader.commands.lms:export",
    "review": "grader.commands.instructor:review",
    "manual": "grader.commands.instructor:manual",
    "feedback": "grader.commands.instructor:feedback",
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when used (Click's documented pattern)."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Grade Jupyter notebooks against a course's rubrics, in sandboxed kernels."""


def _coverage_active() -> bool:
    coverage = sys.modules.get("coverage")
    return bool(coverage and coverage.Coverage.current())


def entry() -> None:
    """Console entry point: `main`, then leave without the interpreter's slow teardown.

    A process that has imported torch spends ~0.5 s in interpreter finalisation. Every
    command has written and flushed its files by the time it exits, so we flush the
    standard streams and logging, and end the process directly — unless coverage is
    measuring us, which saves its data at a normal exit.
    """
    import logging
    import os

    try:
        main(standalone_mode=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if _coverage_active():
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
