"""`grader grade`: the instructor's batch command (progress bar, gradebook, summary).

Exit codes: 0 the batch ran (whatever the notebooks scored), 2 unusable input (no such
folder, unknown assignment, two submissions that would be the same student) or an internal
error, 128 + the signal when stopped: 130 for Ctrl-C, 143 for SIGTERM.

Stopping: the first Ctrl-C (or SIGTERM) stops the batch cleanly — nothing new starts,
the kernels are killed, the notebooks in flight are not recorded (the next run grades them),
the results already written and the gradebook are kept — and ends with one line on stderr.
A second one exits at once.

Late work: `--deadline` and `--late-penalty` (with `--late-cap`, `--grace`, `--submitted-at`)
are checked before anything starts, then kept in OUT_DIR/late-policy.json, so that every
later rewrite of the gradebook (`grader manual import`, `grader review`, a run without the
options) applies the same policy until `--no-late-policy` removes it. The penalties are the
gradebook's (`grader.reporters.gradebook`): nothing is graded again when the policy changes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from ..batch import BatchOutcome, Stop
    from ..reporters.gradebook import LateRules
    from ..rubric import Rubric

from .common import (
    backend_option,
    fail,
    limit_options,
    load_course_or_fail,
    make_limits,
    make_policy,
    rubric_or_fail,
    warn_once,
)

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Interrupted(BaseException):
    """A stop signal arrived outside the event loop (start-up, discovery): unwind, exit 128+n."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Loop(asyncio.SelectorEventLoop):
    """An event loop whose Ctrl-C and SIGTERM handlers stay ours.

    nbclient adds its own handlers for both around every notebook (they shut that notebook's
    kernel down, so the notebook would be recorded as a dead kernel) and removes them
    afterwards, which hands Ctrl-C back to Python's default handler for the rest of the
    batch. On this loop, nobody but `_Signals` installs or removes a handler for them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._locked = False

    def own_signals(self, handler: Any) -> None:
        try:
            for sig in _SIGNALS:
                super().add_signal_handler(sig, handler, sig)
        except (NotImplementedError, RuntimeError):  # no loop signal handlers (Windows)
            return  # the Python-level handler stays: it unwinds the batch instead
        self._locked = True

    def release_signals(self) -> None:
        if self._locked:
            self._locked = False
            for sig in _SIGNALS:
                super().remove_signal_handler(sig)

    def add_signal_handler(self, sig: int, callback: Any, *args: Any) -> None:  # type: ignore[override]
        if self._locked and sig in _SIGNALS:
            return  # ours stays
        super().add_signal_handler(sig, callback, *args)

    def remove_signal_handler(self, sig: int) -> bool:
        if self._locked and sig in _SIGNALS:
            return False
        return super().remove_signal_handler(sig)


class _Signals:
    """Ctrl-C and SIGTERM for the whole command.

    Outside the batch's event loop the first signal unwinds the command (`_Interrupted`,
    so every `finally` closes what it opened); inside it, the loop's own handler asks the
    batch to stop (`batch.Stop`). A second signal, anywhere, kills the kernel server (its
    kernels die with it) and exits at once.
    """

    def __init__(self, stop: Stop) -> None:
        self.stop = stop
        self.graders: list[Any] = []  # their kernels and warm parent are killed outright by a second signal

    def install(self) -> None:
        for sig in _SIGNALS:
            signal.signal(sig, self._outside_loop)
        previous = sys.unraisablehook

        def quiet_interruption(unraisable: Any) -> None:
            # A signal can land while Python runs a callback whose exceptions it cannot
            # propagate (a weakref callback of the import system, a __del__): it prints them as
            # "Exception ignored in" with a traceback. The stop is already requested and the
            # command notices it at its next step, so the unwinding exception is dropped quietly.
            if not isinstance(unraisable.exc_value, _Interrupted):
                previous(unraisable)

        sys.unraisablehook = quiet_interruption

    def _outside_loop(self, signum: int, frame: Any) -> None:
        if self.stop.requested:
            self._exit_now(signum)
        self.stop.request(signum)
        raise _Interrupted(signum)

    def _in_loop(self, signum: int) -> None:
        if self.stop.requested:
            self._exit_now(signum)
        self.stop.request(signum)

    def _exit_now(self, signum: int) -> NoReturn:
        tree = descendants()  # before the warm parent dies and its orphans move away
        for grader in self.graders:
            kill_backend(grader)
        kill_processes(tree)
        os.write(2, b"grader: interrupted again: stopped at once (the results already written are kept)\n")
        os._exit(128 + signum)

    def start_grader(self, grader: Any) -> None:
        """Start the grader's kernel backend (the warm parent imports torch: start it early). It
        runs in a process group of its own, so a terminal's Ctrl-C, sent to our group, never
        reaches it: it is ours to stop, and it stops with us."""
        grader.start()

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """`asyncio.run`, with our signal handlers, and without waiting forever at the end for
        a task that ignores its cancellation."""
        from ..batch import STOP_GRACE

        loop = _Loop()
        asyncio.set_event_loop(loop)
        try:
            loop.own_signals(self._in_loop)
            return loop.run_until_complete(main)
        finally:
            loop.release_signals()
            for sig in _SIGNALS:
                signal.signal(sig, self._outside_loop)
            try:
                leftovers = asyncio.all_tasks(loop)
                for task in leftovers:
                    task.cancel()
                if leftovers:
                    loop.run_until_complete(asyncio.wait(leftovers, timeout=STOP_GRACE))
                loop.run_until_complete(loop.shutdown_asyncgens())
                if not self.stop.requested:
                    loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()


def descendants(root: int | None = None) -> dict[int, int]:
    """Every process below `root` (default: us), by pid, with its start time (Linux; {} elsewhere).

    The warm parent, its kernels and whatever they started: a kernel's orphans are
    reparented to the warm parent (a child subreaper), so they are below us too.
    """
    root = os.getpid() if root is None else root
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(b")") + 2 :].split()
        parents.setdefault(int(fields[1]), []).append(int(entry))
        starts[int(entry)] = int(fields[19])
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found[child] = starts[child]
                todo.append(child)
    return found


def kill_processes(processes: dict[int, int]) -> None:
    """SIGKILL each process that is still the one seen (same pid, same start time)."""
    for pid, start in processes.items():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                text = f.read()
            if int(text[text.rindex(b")") + 2 :].split()[19]) != start:
                continue  # the pid was reused
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def kill_backend(grader: Any) -> None:
    """Kill a grader's warm parent outright (its kernels die with it), without waiting."""
    grader.kill()


@click.command()
@click.argument("submissions", type=click.Path(file_okay=False))
@click.option("--assignment", "assignment_id", required=True, metavar="ID", help="Assignment id (see `grader list`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Notebooks run in kernels at once (as many more are loaded, judged and written beside them).",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Skip submissions already graded (same notebook and files, rubric, engine and limits).",
)
@click.option(
    "--student",
    "students",
    multiple=True,
    metavar="ID",
    help="Grade only this student again (repeatable; an id from results/, or the file or folder name).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Grade on a Dask distributed scheduler (e.g. tcp://scheduler:8786).",
)
@click.option(
    "--deadline",
    metavar="ISO",
    help="Deadline, ISO 8601 with a time (2024-03-01T23:59+01:00; without an offset: this machine's time).",
)
@click.option("--late-penalty", metavar="PERCENT/day", help="Share of the score taken off per day late (10%/day).")
@click.option("--late-cap", metavar="PERCENT", help="At most this share is taken off (default 100%).")
@click.option(
    "--grace", metavar="DURATION", help="Lateness forgiven (15m, 2h, 1d); days still count from the deadline."
)
@click.option(
    "--submitted-at",
    "submitted_at",
    metavar="CSV",
    help="Submission times (columns student, submitted_at): they win over the LMS's and the files' times.",
)
@click.option("--no-late-policy", is_flag=True, help="Remove the late policy an earlier run kept in the output folder.")
@limit_options
@backend_option
def grade(
    submissions: str,
    assignment_id: str,
    out_dir: str,
    jobs: int,
    resume: bool,
    students: tuple[str, ...],
    dask_address: str | None,
    deadline: str | None,
    late_penalty: str | None,
    late_cap: str | None,
    grace: str | None,
    submitted_at: str | None,
    no_late_policy: bool,
    backend: str,
    **limits: object,
) -> None:
    """Grade every submission in SUBMISSIONS (notebooks, or one folder per student)."""
    from ..batch import Stop

    late = _late_request(out_dir, deadline, late_penalty, late_cap, grace, submitted_at, no_late_policy)
    _check_marks(out_dir, assignment_id)
    stop = Stop()
    signals = _Signals(stop)
    signals.install()
    try:
        outcome, console, rubric = _grade(
            signals, submissions, assignment_id, out_dir, jobs, resume, students, dask_address, backend, limits, late
        )
    except (_Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, _Interrupted) else int(signal.SIGINT)
        click.echo(
            "grader: interrupted; the results already written are kept: run the same command again to grade the rest",
            err=True,
        )
        sys.exit(128 + signum)
    except Exception as exc:  # a failure of ours or of the machine: one line, never a traceback
        fail(f"internal error: {type(exc).__name__}: {exc}")
    if outcome.interrupted is not None:
        kept = len(outcome.records)
        click.echo(
            f"grader: interrupted: {kept} result{'s' if kept != 1 else ''} kept in "
            f"{os.path.join(out_dir, 'results')} ({outcome.graded} graded now), "
            f"{outcome.in_flight} in flight not recorded; run the same command again to grade the rest",
            err=True,
        )
        sys.exit(128 + outcome.interrupted)
    _final_table(console, rubric, outcome, out_dir)
    if late.rules is not None:
        _warn_unreliable_times(outcome, late.rules)
    sys.exit(0)


@dataclass
class _LateRequest:
    """What this run does with the late policy: `rules` is what the gradebook applies."""

    rules: LateRules | None = None
    new: bool = False  # given now: written to OUT_DIR/late-policy.json once the submissions are found
    remove: bool = False  # --no-late-policy


def _late_request(
    out_dir: str,
    deadline: str | None,
    penalty: str | None,
    cap: str | None,
    grace: str | None,
    times: str | None,
    remove: bool,
) -> _LateRequest:
    """The late options, checked before anything starts (exit 2 with one line if unusable)."""
    from ..lateness import LatenessError
    from ..reporters.gradebook import LateRules, late_policy_path, read_late_rules

    given = {"--late-penalty": penalty, "--late-cap": cap, "--grace": grace, "--submitted-at": times}
    if remove:
        if deadline is not None or any(v is not None for v in given.values()):
            fail("--no-late-policy cannot be combined with --deadline or the late-penalty options")
        return _LateRequest(remove=True)
    try:
        if deadline is None:
            stray = [option for option, value in given.items() if value is not None]
            if stray:
                fail(f"{stray[0]} needs --deadline")
            kept = read_late_rules(out_dir)
            if kept is not None:
                click.echo(
                    f"grader: applying the late policy kept in {late_policy_path(out_dir)} ({kept.describe()}); "
                    "--no-late-policy removes it",
                    err=True,
                )
            return _LateRequest(kept)
        if penalty is None:
            fail("--deadline needs --late-penalty (e.g. 10%/day)")
        return _LateRequest(LateRules.from_options(deadline, penalty, cap, grace, times), new=True)
    except LatenessError as exc:
        fail(str(exc))


def _check_marks(out_dir: str, assignment: str) -> None:
    """A person's marks (`manual.json`) are read into every gradebook the batch writes: one that
    is damaged, or another assignment's, stops the batch before anything is graded."""
    from ..manual import ManualError, marks_for

    try:
        marks_for(out_dir, assignment)
    except ManualError as exc:
        fail(str(exc))


def _settle_late_policy(out_dir: str, submissions: str, late: _LateRequest) -> _LateRequest:
    """Once the submissions are found: keep the policy given in OUT_DIR (with Gradescope's
    submission times, if SUBMISSIONS is a Gradescope export), or remove it."""
    from ..reporters.gradebook import late_policy_path, remove_late_rules, write_late_rules

    if late.remove:
        if remove_late_rules(out_dir):
            click.echo(f"grader: removed the late policy {late_policy_path(out_dir)}", err=True)
        return late
    if late.rules is None or not late.new:
        return late
    late.rules = replace(late.rules, gradescope=_gradescope_times(submissions))
    write_late_rules(out_dir, late.rules)
    return late


def _gradescope_times(submissions: str) -> dict[str, datetime]:
    """Gradescope's submission times, by folder, from the export's metadata ({} without one)."""
    from ..roster import GRADESCOPE_METADATA, RosterError, read_gradescope_metadata

    path = os.path.join(submissions, GRADESCOPE_METADATA)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # never through a link, as the submissions
            return {}
    except OSError:
        return {}
    try:
        metadata = read_gradescope_metadata(path)
    except RosterError as exc:
        fail(f"{path}: {exc}")
    return {folder: who.submitted_at for folder, who in metadata.items() if who.submitted_at is not None}


def _warn_unreliable_times(outcome: BatchOutcome, rules: LateRules) -> None:
    """One line when some penalties rest on file times or on nothing at all."""
    from ..reporters.gradebook import unreliable_times

    counts = unreliable_times(outcome.records.values(), rules)
    mtime, unknown = counts["mtime"], counts["unknown"]
    if not mtime and not unknown:
        return
    parts = []
    if mtime:
        are = "time is" if mtime == 1 else "times are"
        parts.append(f"{mtime} submission {are} only the notebook file's time (a copy or download may change it)")
    if unknown:
        parts.append(f"{unknown} {'is' if unknown == 1 else 'are'} unknown (no penalty)")
    click.echo(f"grader: warning: late work: {' and '.join(parts)}; --submitted-at CSV gives exact times", err=True)


def _grade(
    signals: _Signals,
    submissions: str,
    assignment_id: str,
    out_dir: str,
    jobs: int,
    resume: bool,
    students: tuple[str, ...],
    dask_address: str | None,
    backend: str,
    limits: dict[str, object],
    late: _LateRequest,
) -> tuple[BatchOutcome, Console, Rubric]:
    lim = make_limits(**limits)  # type: ignore[arg-type]
    policy = make_policy(lim, backend)  # the same confinement here and on every Dask worker
    grader = None
    client = None
    plots = None
    try:
        if not dask_address and os.path.isdir(submissions):
            from ..grading import Grader

            # The warm parent takes ~2 s to import torch: start it before the rest of our work.
            grader = Grader(lim, hide=(submissions,), policy=policy)
            signals.graders.append(grader)
            signals.start_grader(grader)
        if os.path.isdir(submissions):
            from ..reporters.plot_process import PlotProcess

            plots = PlotProcess()  # the summary's plots, drawn aside at nice 19 (its docstring)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from .. import batch

        course = load_course_or_fail()
        rubric = rubric_or_fail(course, assignment_id)
        try:
            found = batch.discover(submissions, rubric.notebook)
        except (FileNotFoundError, batch.StudentIdCollision) as exc:
            fail(str(exc))
        if not found:
            fail(f"{submissions}: no .ipynb files or student folders found")
        only = _select(found, students) if students else None
        late = _settle_late_policy(out_dir, submissions, late)
        if grader is not None:
            grader.course = course
        writer = batch.BatchWriter(out_dir, rubric, plots=plots)
        console = Console(stderr=True)
        counts = {"errors": 0, "timeouts": 0}
        progress = Progress(
            TextColumn("[bold]grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        task = progress.add_task("grading", total=len(found), status="")

        def on_start(total: int, skipped: int) -> None:
            status = f"{skipped} already graded" if skipped else ""
            progress.update(task, total=total, completed=skipped, status=status)

        def on_done(record: batch.BatchRecord) -> None:
            warn_once(record.result.warnings)
            status = record.result.status
            if status == "error":
                counts["errors"] += 1
            elif status == "timeout":
                counts["timeouts"] += 1
            progress.update(task, advance=1, status=f"errors {counts['errors']}, timeouts {counts['timeouts']}")

        if dask_address:
            try:
                grade_one, client = batch.dask_grader(dask_address, rubric, lim, policy)
                in_flight = jobs
            except ImportError:
                fail("--dask needs the dask extra: pip install 'd2l-grader[dask]'")
        else:
            grade_one = batch.LocalGrading(grader, rubric, jobs)
            in_flight = grade_one.in_flight
        with progress:
            outcome = signals.run(
                batch.run_batch(
                    found,
                    rubric,
                    writer,
                    grade_one,
                    jobs=in_flight,
                    resume=resume,
                    limits=lim,
                    only=only,
                    stop=signals.stop,
                    on_start=on_start,
                    on_done=on_done,
                )
            )
    finally:
        if plots is not None:
            plots.close()
        left = descendants()  # kernels, and what they started, go with the warm parent
        if grader is not None:
            grader.close()
        if client is not None:
            client.close()
        kill_processes(left)
    return outcome, console, rubric


def _select(found: list[Any], wanted: tuple[str, ...]) -> set[str]:
    """The ids of the students `--student` names (an id, or the file or folder name)."""
    by_key: dict[str, str] = {}
    for sub in found:
        by_key[sub.student] = sub.student
        by_key.setdefault(sub.name, sub.student)
        if sub.own_files is None and sub.name.endswith(".ipynb"):
            by_key.setdefault(sub.name[: -len(".ipynb")], sub.student)
    chosen = set()
    for name in wanted:
        if name not in by_key:
            fail(f"--student {name}: no such student in the submissions (ids are listed in grades.csv)")
        chosen.add(by_key[name])
    return chosen


def _final_table(console: Console, rubric: Rubric, outcome: BatchOutcome, out_dir: str) -> None:
    from rich.table import Table

    from ..reporters.summary import pass_rates

    records = list(outcome.records.values())
    table = Table(
        title=f"{rubric.id}: {len(records)} submissions ({outcome.graded} graded now, {outcome.skipped} resumed)"
    )
    table.add_column("exercise")
    table.add_column("check")
    table.add_column("pass rate", justify="right")
    rates = pass_rates(rubric, records)
    for check in rubric.checks:
        table.add_row(check.exercise, check.id + (" (hidden)" if check.hidden else ""), f"{100 * rates[check.id]:.0f}%")
    console.print(table)
    if records:
        mean = sum(r.result.score for r in records) / len(records)
        console.print(f"mean score {mean:.2f}/{rubric.max_score:g}; results in {os.path.join(out_dir, 'grades.csv')}")
    if outcome.retry:
        console.print(
            f"{outcome.retry} notebook{'s' if outcome.retry != 1 else ''} could not be graded because of a problem "
            "on the grader's side (see summary.md); run the same command again to grade them"
        )
