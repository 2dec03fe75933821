"""Run one notebook in a fresh forked kernel with nbclient, then run the harness.

Everything that can go wrong while running student code is turned into a
`NotebookError` here (cell timeouts, a dead kernel, memory, file and process limits,
output floods), so scoring deals with outcomes, never with exceptions. nbclient's
vocabulary (`CellTimeoutError`, `DeadKernelError`) is reused rather than re-invented.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import harness_cell, phases
from .forkserver import coverage_running
from .harness import MIME as RESULT_MIME
from .harness import digest as harness_digest
from .kernel_manager import WarmKernel, discard
from .limits import Limits, format_size
from .results import NotebookError


@dataclass
class Execution:
    """What running a notebook produced, as plain data for scoring."""

    errors: list[NotebookError] = field(default_factory=list)
    fetched: dict[str, dict[str, Any]] | None = None  # harness results by fetch key
    unavailable: str | None = None  # why fetched is None (kernel died, harness failed, ...)
    sandbox: dict[str, Any] = field(default_factory=dict)


TICK = 1  # seconds between looks at a running cell's clocks
WALL_BACKSTOP = 3  # a cell that waits instead of computing is stopped at this many times its limit


class _GraderClient(NotebookClient):
    """nbclient with bounded output, CPU-time cell limits, escalation of ignored interrupts,
    and a deadline for the whole notebook.

    A cell's limit counts the CPU time of the kernel's whole process tree where that can be
    measured (a control group, psutil): a neighbour's busy notebook slows this one down but
    cannot make it time out. Wall-clock time still stops a cell that only waits (sleep, a
    blocked read) at WALL_BACKSTOP times its limit, and the notebook's own limit is wall-clock.
    nbclient calls `_async_handle_timeout` every TICK seconds while a cell runs (its timeout
    is the tick), and that decides.
    """

    def __init__(self, nb: Any, limits: Limits, cpu_seconds: Callable[[], float | None], **kw: Any) -> None:
        super().__init__(
            nb,
            allow_errors=True,
            interrupt_on_timeout=True,
            timeout_func=self._start_clocks,
            iopub_timeout=5,
            shutdown_kernel="immediate",
            record_timing=False,
            startup_timeout=60,
            store_widget_state=False,
            **kw,
        )
        self.limits = limits
        self.cpu_seconds = cpu_seconds
        self.deadline = time.monotonic() + limits.timeout
        self.timed_out: dict[int, str] = {}  # id(cell) -> "cell", "wall" or "notebook"
        self.in_harness = False
        self.harness_budget = limits.harness_timeout
        self._cell_bytes: dict[int, int] = {}
        self._total_bytes = 0
        self.truncated: set[int] = set()
        self._clocks: tuple[float, float | None] = (time.monotonic(), None)
        self._interrupted_at: float | None = None

    def _start_clocks(self, cell: Any) -> int:
        """nbclient asks for a cell's timeout as it starts the cell: start its clocks, answer a tick."""
        self._clocks = (time.monotonic(), self.cpu_seconds())
        self._interrupted_at = None
        return TICK

    def _over(self) -> str | None:
        """Why the running cell must stop now, or None."""
        now = time.monotonic()
        started, cpu_start = self._clocks
        if self.in_harness:
            return "harness" if now - started > self.harness_budget else None
        limit = self.limits.cell_timeout
        cpu_now = self.cpu_seconds() if cpu_start is not None else None
        if now >= self.deadline:
            return "notebook"
        if cpu_start is not None and cpu_now is not None:
            if cpu_now - cpu_start > limit:
                return "cell"
            return "wall" if now - started > WALL_BACKSTOP * limit else None
        return "cell" if now - started > limit else None

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> dict[str, Any] | None:
        # A tick. Over its limit: interrupt once, and keep waiting for the KeyboardInterrupt
        # reply; if the code ignores the interrupt for another limit's worth of time, give up
        # on this kernel (nbclient's error, which the caller turns into "ignored the interrupt").
        if cell is None:
            raise CellTimeoutError("Cell execution timed out")
        if self._interrupted_at is None:
            reason = self._over()
            if reason is None:
                return None
            self.timed_out[id(cell)] = reason
            self._interrupted_at = time.monotonic()
            assert self.km is not None
            await ensure_async(self.km.interrupt_kernel())
            return None
        grace = self.harness_budget if self.in_harness else self.limits.cell_timeout
        if time.monotonic() - self._interrupted_at <= grace:
            return None
        raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if self.in_harness:
            # Only result messages matter here (a few are kept, to notice a second one); what
            # the notebook prints or displays while the checks run is dropped on arrival.
            content = msg.get("content", {})
            is_result = msg.get("msg_type") == "display_data" and RESULT_MIME in content.get("data", {})
            if msg.get("msg_type") == "error" or (is_result and len(outs) < 3):
                return super().output(outs, msg, display_id, cell_index)
            return None
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._cell_bytes.get(cell_index, 0)
        if used + size > self.limits.output or self._total_bytes + size > self.limits.total_output:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                note = nbformat.v4.new_output(
                    "stream", name="stderr", text="\n[d2l-grader: output truncated at the output limit]\n"
                )
                outs.append(note)
            return None
        self._cell_bytes[cell_index] = used + size
        self._total_bytes += size
        return super().output(outs, msg, display_id, cell_index)


# "(2478712745.py, line 3)", "(/tmp/ipykernel_7/2478712745.py, line 3)", "(<ipython-input-4-..>, line 3)"
_IPYTHON_FILE = re.compile(r"\s*\((?:[^()]*[/\\])?(?:\d+\.py|<ipython-input-[^>]*>), line (\d+)\)$")


def _classify_cell_error(number: int, ename: str, evalue: str, limits: Limits) -> NotebookError:
    """Map a cell's exception to the student-facing explanation."""
    lowered = evalue.lower()
    if "MemoryError" in ename or ("alloc" in lowered and "memory" in lowered):
        return NotebookError(
            "memory-limit", f"cell {number} exceeded the memory limit ({format_size(limits.memory)})", number
        )
    if "[Errno 27]" in evalue or "file too large" in lowered:
        return NotebookError(
            "file-size-limit", f"cell {number} exceeded the file size limit ({format_size(limits.file_size)})", number
        )
    if ename in ("BlockingIOError", "OSError", "RuntimeError") and (
        "[Errno 11]" in evalue or "can't start new thread" in lowered or "resource temporarily unavailable" in lowered
    ):
        return NotebookError("process-limit", f"cell {number} hit the process limit ({limits.processes})", number)
    if ename == "SystemExit":
        return NotebookError(
            "cell-error",
            f"cell {number} raised SystemExit (sys.exit does not stop a notebook; the cells after it still ran)",
            number,
        )
    first = evalue.strip().splitlines()[0] if evalue.strip() else ""
    if ename in ("SyntaxError", "IndentationError", "TabError"):  # IPython names the cell's code by a temp file
        first = _IPYTHON_FILE.sub(r" (line \1 of the cell)", first)
    text = f"{ename}: {first}" if first else ename
    return NotebookError("cell-error", f"cell {number} raised {text[:300]}", number)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f" (killed by {name})"
    return f" (exit code {code})"


async def execute_notebook(
    nb: Any, *, kernel: WarmKernel, limits: Limits, harness_request: dict[str, Any] | None
) -> Execution:
    """Run every code cell in `kernel` (started and confined by a backend), then the harness;
    always return an Execution, and leave the kernel dead.

    The kernel and its client are ready, so nbclient's `async_setup_kernel` is not used: it
    would only add SIGINT/SIGTERM handlers that shut the kernel down (turning a grader's
    Ctrl-C into "the kernel died" for whatever notebook was running) and an atexit hook.
    """
    result = Execution(sandbox=dict(kernel.report))
    km = kernel.km
    client = _GraderClient(nb, limits, kernel.cpu_seconds, km=km)
    client.kc = kernel.kc  # nbclient's constructor drops a `kc` argument; it uses this one
    try:
        alive = await _run_cells(client, nb, limits, result, kernel.oom_kills)
        phases.mark("cells")
        phases.measure("kernel_cpu_after_cells", kernel.cpu_seconds)
        if not alive:
            return result
        if harness_request is not None:
            await _run_harness(client, harness_request, result, kernel.harness_prepared)
            phases.mark("harness")
            phases.measure("kernel_cpu_after_harness", kernel.cpu_seconds)
    except DeadKernelError:
        if result.unavailable is None:
            result.unavailable = "the kernel died while the checks ran"
            result.errors.append(NotebookError("kernel-died", result.unavailable))
    except Exception as exc:  # kernel start-up failures and the like
        result.errors.append(NotebookError("internal-error", f"could not run the notebook: {exc}"))
        result.unavailable = "the notebook could not be run"
    finally:
        await discard(kernel)  # whatever happened, the kernel does not outlive us
        phases.mark("kernel stop")
    return result


async def _run_cells(
    client: _GraderClient, nb: Any, limits: Limits, result: Execution, oom_kills: Callable[[], int]
) -> bool:
    """Execute the code cells in order; False when the kernel is gone afterwards."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        number = index + 1
        if time.monotonic() >= client.deadline:
            result.errors.append(
                NotebookError(
                    "notebook-timeout",
                    f"the notebook exceeded its {limits.timeout:g} s time limit before cell {number}; "
                    "later cells were not run",
                    number,
                )
            )
            return True
        try:
            await client.async_execute_cell(cell, index)
        except DeadKernelError:
            code = await client.km.provisioner.poll() if client.km and client.km.provisioner else None
            if oom_kills():
                result.unavailable = (
                    f"cell {number} exceeded the memory limit ({format_size(limits.memory)}), so its kernel was stopped"
                )
                result.errors.append(NotebookError("memory-limit", result.unavailable, number))
                return False
            result.unavailable = f"the kernel died in cell {number}{_describe_exit(code)}"
            result.errors.append(NotebookError("kernel-died", result.unavailable, number))
            return False
        except CellTimeoutError:
            await _kill(client)
            result.unavailable = (
                f"cell {number} exceeded the {limits.cell_timeout:g} s time limit and ignored the interrupt, "
                "so its kernel was stopped"
            )
            result.errors.append(NotebookError("cell-timeout", result.unavailable, number))
            return False
        reason = client.timed_out.get(id(cell))
        if reason == "notebook":
            message = f"the notebook exceeded its {limits.timeout:g} s time limit in cell {number}"
            result.errors.append(NotebookError("notebook-timeout", message, number))
            continue
        if reason is not None:
            message = f"cell {number} exceeded the {limits.cell_timeout:g} s time limit"
            if reason == "wall":
                message += f" (it waited {WALL_BACKSTOP * limits.cell_timeout:g} s of wall-clock time)"
            result.errors.append(NotebookError("cell-timeout", message, number))
            continue
        if index in client.truncated:
            result.errors.append(
                NotebookError(
                    "output-limit", f"cell {number} printed more than the output limit; the rest was dropped", number
                )
            )
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                result.errors.append(_classify_cell_error(number, out.get("ename", ""), out.get("evalue", ""), limits))
                break
    return True


async def _kill(client: _GraderClient) -> None:
    if client.km is not None and client.km.provisioner is not None:
        await client.km.provisioner.kill()


def harness_cell_source(request: dict[str, Any], prepared: bool = False) -> str:
    """The code of the final cell: the harness run on `request` (see `grader.harness_cell`);
    `prepared`: the kernel was forked from a warm parent that compiled the harness already."""
    return harness_cell.cell_source(request, prepared=prepared, measured=coverage_running() is not None)


HARNESS_TIMEOUT = "the checks did not finish in time (a function of yours may not return)"


async def _run_harness(client: _GraderClient, request: dict[str, Any], result: Execution, prepared: bool) -> None:
    """Run the harness as a *silent* execution (IPython runs no pre/post-cell hooks for it, so
    a hook the notebook registered never sees its source), asking the execute reply for the
    results (a user_expression) while IOPub carries their digest: two channels that must agree."""
    cell = nbformat.v4.new_code_cell(harness_cell_source(request, prepared))
    replies: list[dict[str, Any]] = []
    kc: Any = client.kc
    execute = kc.execute
    kc.execute = functools.partial(execute, silent=True, user_expressions={request["slot"]: request["slot"]})
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.append(execute_reply)
    client.in_harness = True
    try:
        await client.async_execute_cell(cell, -1, store_history=False)
    except DeadKernelError:
        result.unavailable = "the kernel died while the checks called your functions"
        result.errors.append(NotebookError("kernel-died", result.unavailable))
        return
    except CellTimeoutError:  # ignored the interrupt as well
        client.timed_out[id(cell)] = "harness"
    finally:
        client.in_harness = False
        kc.execute = execute
        client.on_cell_executed = None  # type: ignore[assignment]
    if id(cell) in client.timed_out:
        result.unavailable = HARNESS_TIMEOUT
        result.errors.append(NotebookError("harness-timeout", result.unavailable))
        return
    result.fetched, problem = read_harness_output(cell.get("outputs", []), request, replies[-1] if replies else None)
    if result.fetched is None:
        result.unavailable = problem
        result.errors.append(NotebookError("harness-failed", problem))


TAMPERED = "the checks' results were tampered with"


def read_harness_output(
    outputs: list, request: dict[str, Any], reply: dict[str, Any] | None
) -> tuple[dict | None, str]:
    """Accept the results only when both channels agree: exactly one IOPub message with the
    request's token and a digest, and the execute reply's user_expression whose results have
    that digest and the expected keys."""
    token = request["token"]
    keys = {f["key"] for f in request["fetches"]}
    stamped = []
    for out in outputs:
        data = out.get("data", {}) if out.get("output_type") == "display_data" else {}
        payload = data.get(RESULT_MIME)
        if isinstance(payload, dict) and payload.get("token") == token:
            stamped.append(payload)
    if len(stamped) > 1:  # someone else published with our token: trust neither
        return None, f"{TAMPERED} (more than one result message)"
    expression = ((reply or {}).get("content") or {}).get("user_expressions", {}).get(request["slot"])
    if not stamped:
        for out in outputs:
            if out.get("output_type") == "error":
                reason = f"{out.get('ename')}: {out.get('evalue', '')[:200]}"
                return None, f"the checks could not run in your kernel ({reason})"
        if expression is None:
            return None, "the checks produced no results (was the grader's harness tampered with?)"
        return None, f"{TAMPERED} (no result message beside the results)"
    data = expression.get("data", {}) if isinstance(expression, dict) and expression.get("status") == "ok" else {}
    payload = data.get("application/json")
    if not isinstance(payload, dict) or payload.get("token") != token:
        return None, f"{TAMPERED} (the execute reply holds no results)"
    results = payload.get("results")
    if not isinstance(results, dict) or set(results) != keys:
        return None, "the checks' results came back incomplete"
    if not all(isinstance(v, dict) and isinstance(v.get("status"), str) for v in results.values()):
        return None, "the checks' results came back malformed"
    try:
        agreed = harness_digest(results) == stamped[0].get("sha256")
    except (TypeError, ValueError):
        agreed = False
    if not agreed:
        return None, f"{TAMPERED} (the two channels disagree)"
    return results, ""
