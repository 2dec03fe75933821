"""The warm parent: a server process that forks one fresh, confined kernel per notebook.

Starting a Jupyter kernel and importing torch costs seconds; forking a process that has
already paid for both costs milliseconds. This server imports torch, numpy and ipykernel
once, then for every request forks a child. The server itself never runs student code,
holds no secret (it is exec'd by the grader with a minimal environment, inside an
allowlisted view of the machine: see `warm_parent`) and stays single-threaded, which is
what makes forking it safe.

Each request makes a *kernel*: PID 1 of a new PID namespace, which confines itself
(`sandbox.confine`), seeds its generators and becomes a pipe kernel or an ipykernel. As
root, the server forks it straight into that namespace (`_fork_into_new_pid_namespace`),
and the kernel joins its control groups and unshares its other namespaces itself. Without
root, a *keeper* is forked first: it joins the control groups and unshares the namespaces
(a user namespace among them: see `sandbox.isolate`), forks the kernel, waits for it and
forwards the signals the grader sends (interrupt, kill); when the keeper dies the kernel dies
(parent-death signal). Either way, when the kernel — its namespace's init — dies, the
operating system kills everything the notebook started, and the grader only ever signals the
server's own child (the kernel or its keeper), whose pid cannot be reused before the server
reaps it.

Protocol: JSON lines on the server's stdin (requests: spawn, signal, stop) and stdout
(replies and exit events). Run with `python -m grader.forkserver`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import sys
from typing import Any, NoReturn

from . import book, harness, harness_cell, pipe_kernel, sandbox, seccomp
from .sandbox import SandboxConfig


# ----------------------------------------------------------------------------- server side
def _warm_up(protocol: str = "jupyter") -> None:
    """Import everything a kernel needs, so children start with it in memory. Only the kernels
    of `protocol` are made ready: ipykernel, ZeroMQ and its application set-up (~0.15 s before
    the first kernel of every command) for "jupyter"; IPython's shell for "pipe"."""
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)  # also keeps OpenMP from starting threads before fork
    if protocol == "jupyter":
        import ipykernel.ipkernel
        import ipykernel.kernelapp
        import ipykernel.zmqshell

        try:  # graded kernels never host a debugger: skip creating one in every kernel
            import ipykernel.debugger

            ipykernel.debugger._is_debugpy_available = False
        except Exception:
            pass
        import tornado.platform.asyncio  # noqa: F401
        from jupyter_client import localinterfaces

        localinterfaces.localhost()  # caches the interface scan (psutil) every kernel would repeat
    import pdb  # noqa: F401  (the kernel imports it on start)
    import secrets  # noqa: F401  (numpy.random needs it lazily)

    import IPython.core.completer
    import IPython.core.completerlib
    import IPython.core.debugger
    import IPython.core.oinspect
    import IPython.extensions.storemagic
    import IPython.utils.wildcard  # noqa: F401

    _seed(0)  # imports numpy.random now rather than in every child
    harness_cell.prepare(measured=coverage_running() is not None)  # every kernel's last cell
    seccomp.prepare()  # every kernel's system-call filter, compiled once
    harness.remember_originals()  # what probes may rely on: before any student code, in every kernel
    if protocol == "jupyter":
        _configure_kernel_app()
    else:
        pipe_kernel.prepare()


def _warm_up_plotting() -> None:
    """What plotting notebooks import (~0.45 CPU-s), done only once the grader has seen a
    notebook that plots (`book.wanted`): most graded notebooks never do, and a warm parent that
    imported it anyway would take that time from the first kernels' core. Kernels forked before
    it import it themselves if they must."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import matplotlib_inline.backend_inline  # noqa: F401


def _child_main(request: dict[str, Any], status_fd: int, direct: bool = False) -> None:
    """The keeper (forked by the server): isolate, fork the kernel, wait for it. Never returns.

    Status lines on `status_fd`: {"kernel_pid": N} once the kernel exists, then the kernel's
    own line (its sandbox report, or {"error": ...}).

    `direct`: we are the kernel itself, forked straight into a PID namespace of its own (its
    PID 1; as root, see `_fork_into_new_pid_namespace`): it joins its control groups and
    unshares its other namespaces itself, with no keeper between it and the warm parent. A
    keeper costs every kernel one more fork of the warm image and its exit (~3 ms of CPU):
    without root it is still needed, because only a process that is not yet in the new PID
    namespace can make one for a child without a user namespace of its own; as root, the warm
    parent can make it and step back into its own. The kernel's report is then the only line
    on the set-up pipe; the warm parent knows its pid.
    """
    code = 0
    try:
        os.setsid()
        # developers only (D2L_GRADER_KERNEL_LOG): see why a kernel would not start
        _detach_from_server(keep=status_fd, log=request.get("debug_log"))
        cfg = SandboxConfig(**request["sandbox"])
        report = sandbox.new_report(bool(request.get("allowlisted")))
        pid_namespace = sandbox.isolate(cfg, report, pid_namespace_made=direct)
        if direct:
            _kernel_main(request, cfg, report, pid_namespace, status_fd)
        kernel = os.fork()
        if kernel == 0:
            _kernel_main(request, cfg, report, pid_namespace, status_fd)
        os.write(status_fd, (json.dumps({"kernel_pid": kernel}) + "\n").encode())
        os.close(status_fd)
        code = _keep(kernel)
    except BaseException as exc:  # report set-up failures through the status pipe
        _report_failure(status_fd, exc)
        code = 70
    finally:
        os._exit(code)


_OWN_PID_NAMESPACE: list[int] = []  # an fd of the warm parent's PID namespace; [-1]: none to go back to


def _fork_into_new_pid_namespace() -> int | None:
    """As root: fork a child that is PID 1 of a new PID namespace (unshare(CLONE_NEWPID) makes
    it for our next child; setns puts our own back for every later one). None, with nothing
    forked, where that is not possible (no root, no /proc of ours): the keeper's way then."""
    if os.geteuid() != 0:
        return None
    if not _OWN_PID_NAMESPACE:
        try:
            _OWN_PID_NAMESPACE.append(os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            _OWN_PID_NAMESPACE.append(-1)
    own = _OWN_PID_NAMESPACE[0]
    if own < 0:
        return None
    try:
        sandbox.unshare(sandbox.CLONE_NEWPID)
    except OSError:
        return None
    pid = None
    try:
        pid = os.fork()
    finally:
        if pid != 0:  # the warm parent (also when the fork failed), not the child
            # Never left undone: every later fork (kernels, the judge) would be made in a
            # namespace whose PID 1 may be gone, and fail.
            sandbox.setns(own, sandbox.CLONE_NEWPID)
    return pid


def _detach_from_server(keep: int = -1, log: str | None = None) -> None:
    """In a child of the server: let go of the server's wake-up pipe and its SIGCHLD handling,
    put /dev/null (stderr: `log`, if given) on 0-2, close every other descriptor inherited from
    it but `keep` (its pipes must be seen to close when it ends), and die when it dies."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if log:
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)
    if keep >= 0:
        os.closerange(3, keep)
        os.closerange(keep + 1, 1024)
    else:
        os.closerange(3, 1024)
    sandbox.die_with_parent()  # the server is gone: so are we (and so, a keeper's kernel)


def _keep(kernel: int) -> int:
    """Forward interrupts and terminations to the kernel; return its exit status as ours."""

    def forward(signum: int, frame: Any) -> None:
        try:
            os.kill(kernel, signum)  # our own unreaped child: its pid cannot have been reused
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            _, status = os.waitpid(kernel, 0)
        except ChildProcessError:
            return 0
        code = os.waitstatus_to_exitcode(status)
        if code < 0:  # die the same death, so the server reports what happened to the kernel
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        return code


def _kernel_main(
    request: dict[str, Any], cfg: SandboxConfig, report: dict[str, Any], pid_namespace: bool, status_fd: int
) -> None:
    """The kernel (PID 1 of its namespace): confine, seed, become a pipe kernel or an ipykernel.
    Never returns."""
    code = 0
    try:
        sandbox.die_with_parent()  # the keeper is gone: so are we, and with us our namespace
        sandbox.confine(cfg, report, pid_namespace)
        os.write(status_fd, (json.dumps(report) + "\n").encode())
        os.close(status_fd)
        # The engine is not importable from student code. Its modules stay referenced here, so
        # leaving sys.modules frees nothing: freeing them would write to thousands of pages the
        # kernel shares with the warm parent (~3 ms of copy-on-write faults per kernel). Their
        # names were listed in the warm parent: listing sys.modules here would write to the
        # pages of all ~3,000 module names (~1,000 copy-on-write faults, ~3 ms per kernel).
        engine = [sys.modules.pop(name, None) for name in request["_engine_modules"]]
        harness.install_grading_stub()  # `import grader; grader.check(...)` left in a notebook: a no-op
        book.prepare()  # the book's notebooks: torchvision importable, no DataLoader workers, no live plots
        _seed(int(request.get("seed", 0)))
        if request.get("pipe"):
            pipe_kernel.serve(request["connection_file"])
        else:
            _start_kernel(request["connection_file"])
        del engine
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:
        _report_failure(status_fd, exc)
        code = 70
    finally:
        if (measuring := coverage_running()) is not None:  # test runs only
            try:
                measuring.save()
            except Exception:
                pass
        os._exit(code)


def _report_failure(status_fd: int, exc: BaseException) -> None:
    try:
        os.write(status_fd, (json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
    except OSError:
        pass
    try:  # visible with D2L_GRADER_KERNEL_LOG
        import traceback

        os.write(2, traceback.format_exc().encode())
    except Exception:
        pass


def _seed(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    # The CPU generator only: torch.manual_seed also queues a lazy CUDA seeding, with a
    # stack trace, on every call (~1 ms each); grading machines have no GPU.
    torch.default_generator.manual_seed(seed)


# How every kernel is configured (ipykernel's command-line options; the connection file apart).
KERNEL_OPTIONS = (
    "--HistoryManager.enabled=False",
    "--IPKernelApp.log_level=CRITICAL",
    "--InteractiveShell.colors=nocolor",
    "--InteractiveShell.xmode=Plain",  # the grader reads an error's name and value only (pipe_kernel._make_shell)
    # C-level writes to fds 1/2 go to /dev/null rather than through two relay threads
    "--IPKernelApp.capture_fd_output=False",
)


def _configure_kernel_app() -> None:
    """In the warm parent: the kernel application's configuration, done once for every kernel.

    `IPKernelApp.initialize` first runs IPython's application set-up (command-line parsing,
    configuration files, logging, the profile folder: ~15 ms of CPU, a quarter of a kernel's
    start), then makes the sockets, threads and shell that belong to one kernel. The first
    part depends on nothing of the kernel's, so the warm parent does it here and each kernel
    only the second (`_start_kernel`). The configuration files looked for are the warm
    parent's (its HOME is an empty /tmp of its own), never a notebook's."""
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    BaseIPythonApplication.initialize(IPKernelApp.instance(), list(KERNEL_OPTIONS))
    _CONFIGURED[0] = True


_CONFIGURED = [False]  # the kernel application was configured in the warm parent


def _start_kernel(connection_file: str) -> None:
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    # No heartbeat: the grader asks its kernel manager (the fork server's exit events) whether
    # the kernel lives, never a heartbeat channel, and ipykernel's heartbeat costs every kernel
    # a ZeroMQ context of its own and two threads.
    IPKernelApp.init_heartbeat = lambda self: None  # type: ignore[method-assign]
    app = IPKernelApp.instance()
    if _CONFIGURED[0]:
        app.connection_file = connection_file
        # IPKernelApp.initialize begins with this application set-up, already done in the warm
        # parent (`_configure_kernel_app`); the kernel's own part follows, in ipykernel's order.
        BaseIPythonApplication.initialize = lambda self, argv=None: None  # type: ignore[method-assign]
        app.initialize([])
    else:
        app.initialize([f"--IPKernelApp.connection_file={connection_file}", *KERNEL_OPTIONS])
    app.start()


def _spawn(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("pipe") and pipe_kernel.prepare():
        import gc

        gc.freeze()  # the shell joins the objects kernels' collections skip (as in `serve`)
    request["_engine_modules"] = engine_modules()
    read_fd, write_fd = os.pipe()
    forked = _fork_into_new_pid_namespace() if request["sandbox"].get("namespaces", True) else None
    direct = forked is not None  # the child is the kernel itself, no keeper
    pid = forked if forked is not None else os.fork()
    if pid == 0:
        os.close(read_fd)
        if coverage_running() is not None:  # test runs only
            _measure_kernel(request)
        _child_main(request, write_fd, direct)
    os.close(write_fd)
    _KERNELS[pid] = request["sandbox"].get("uid") if os.geteuid() == 0 else None
    if coverage_running() is not None:  # test runs only
        _MEASURED_KERNELS[pid] = request["sandbox"]["scratch"]
    with os.fdopen(read_fd, "rb") as status:
        if direct:  # the kernel's report only; no keeper to tell its pid
            lines = [(json.dumps({"kernel_pid": pid}) + "\n").encode(), status.readline()]
        else:
            lines = [status.readline(), status.readline()]
    started, report = read_status(lines)
    return {"id": request["id"], "pid": pid, "kernel_pid": started.get("kernel_pid"), "sandbox": report}


def _spawn_judge(request: dict[str, Any]) -> dict[str, Any]:
    """Fork the judge (`grader.judge_process`): a child that never runs notebook code, so it
    is not confined like a kernel; it connects to the grader's socket and answers there."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _detach_from_server()
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # the server ignores it; Ctrl-C is the grader's
            pipe_kernel.forget()
            measuring = _new_measurement() if coverage_running() is not None else None
            try:
                from . import judge_process

                judge_process.serve(request["socket"])
            finally:
                if measuring is not None:
                    measuring.stop()
                    measuring.save()
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    return {"id": request["id"], "pid": pid}


_ENGINE_MODULES: list[tuple[int, tuple[str, ...]]] = []  # (len(sys.modules) then, the names)


def engine_modules() -> tuple[str, ...]:
    """The names of the engine's modules in sys.modules (`grader` and `grader.*`), listed again
    only when sys.modules has changed size since (an import, a preload): each listing writes
    to the pages of every module name, pages the warm parent shares with its children."""
    if not _ENGINE_MODULES or _ENGINE_MODULES[0][0] != len(sys.modules):
        names = tuple(m for m in list(sys.modules) if m == "grader" or m.startswith("grader."))
        _ENGINE_MODULES[:] = [(len(sys.modules), names)]
    return _ENGINE_MODULES[0][1]


def read_status(raw_lines: list[bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the keeper's line, the kernel's report) from the set-up pipe; the report is the error
    when set-up failed. The keeper's {"kernel_pid": N} and the kernel's report share the pipe,
    and the kernel (forked first) may write before the keeper does: they are told apart by
    content, never by order."""
    try:
        lines = [json.loads(line) for line in raw_lines if line]
    except ValueError:
        lines = [{"error": "unreadable set-up report"}]
    started = next((m for m in lines if "kernel_pid" in m), None)
    report = next((m for m in lines if m is not started), None)
    if started is None:
        started = report if report and "error" in report else {"error": "the kernel process exited during set-up"}
    if report is None:
        report = {"error": "the kernel exited during set-up"}
    return started, (started if "error" in started else report)


def _signal(request: dict[str, Any]) -> None:
    """Signal a kernel (or its keeper, which forwards); only pids of our own, unreaped children."""
    pid = int(request["pid"])
    if pid in _KERNELS:
        try:
            os.kill(pid, int(request["signal"]))
        except ProcessLookupError:
            pass


def serve(protocol: str = "jupyter") -> None:
    """Server main loop: answer spawn requests, report every child's exit. `protocol`: the
    kernels to make ready ahead ("pipe" or "jupyter"); either kind can still be asked for."""
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    # The grader is gone (even killed): so are we, and with us every kernel. Its end closes our
    # stdin (read below); bubblewrap's --die-with-parent, or this parent-death signal, cover
    # the time we spend warming up without reading.
    sandbox.die_with_parent()
    sandbox.become_subreaper()
    _warm_up(protocol)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the grader, which stops us

    def send(message: dict[str, Any]) -> None:
        out.write((json.dumps(message) + "\n").encode())
        out.flush()

    import gc

    # Children's collections skip the warm objects: fewer copy-on-write page faults. No full
    # collection first (75 ms here, before the first kernel of a cold `grader check` could
    # start): the few objects the imports left as garbage are frozen with the rest; what
    # serving requests leaves behind goes in the ordinary (young-generation) collections.
    gc.freeze()
    send({"ready": True, "pid": os.getpid()})
    buffer = b""
    while True:
        ready, _, _ = select.select([inp, wake_r], [], [], 1.0)
        if wake_r in ready:
            os.read(wake_r, 4096)
        _reap(send)
        if inp in ready:
            chunk = os.read(inp.fileno(), 65536)
            if not chunk:
                # The grader went away or is done: so are we, at once (children die via
                # PDEATHSIG; a full interpreter teardown with torch loaded takes ~0.2 s).
                _leave(out)
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                if request.get("op") == "spawn":
                    send(_spawn(request))
                elif request.get("op") == "signal":
                    _signal(request)
                elif request.get("op") == "preload":
                    _preload(request.get("modules", []))
                elif request.get("op") == "judge":
                    send(_spawn_judge(request))
                elif request.get("op") == "stop":
                    _leave(out)


_PRELOADED: set[str] = set()  # the names of `book.PRELOADABLE` done (or tried) already


def _preload(modules: list[str]) -> None:
    """Import modules the coming notebooks will import (the grader saw them in a notebook), so
    kernels forked from now on start with them: `from d2l import torch as d2l` costs a kernel
    2 s otherwise. Only the names `book.PRELOADABLE` lists; a failure is the notebook's to see."""
    import gc
    import importlib

    book.prepare()
    for name in book.PRELOADABLE:  # in this order: d2l imports pyplot, which wants Agg first
        if name in modules and name not in _PRELOADED:
            _PRELOADED.add(name)
            try:
                if name == book.PLOTTING:
                    _warm_up_plotting()
                elif name == book.COMPILER:
                    book.warm_up_compiler()
                elif name == book.SHAPES:
                    book.warm_up_meta()
                else:
                    importlib.import_module(name)
            except Exception:
                pass
    harness.remember_originals()  # the modules as kernels forked from now on find them
    gc.collect()  # what the requests served so far left behind, before it is frozen for good
    gc.freeze()


# Kernels alive, by pid, with the uid each runs as (None when we could not switch users).
_KERNELS: dict[int, int | None] = {}


def _leave(out: Any) -> NoReturn:
    """End the server: at once (os._exit), or normally when coverage.py measures us, so that
    it saves its data at exit."""
    out.flush()
    if coverage_running() is not None:
        sys.exit(0)
    os._exit(0)


def _reap(send) -> None:
    """Collect every exited child. We are a child subreaper, so processes a kernel left
    behind end up here too and are reaped (no zombies pile up under a PID 1 that does
    not reap); only kernels are reported to the grader."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid not in _KERNELS:
            continue
        uid = _KERNELS.pop(pid)
        if uid is not None:
            _sweep_user(uid)
        scratch = _MEASURED_KERNELS.pop(pid, None)
        if scratch is not None:  # test runs only
            _collect_kernel_coverage(scratch)
        send({"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _sweep_user(uid: int) -> None:
    """Kill whatever still runs as a dead kernel's uid (a process that left the kernel's
    process group with setsid), before the uid can be given to another kernel."""
    for _ in range(10):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    os.kill(int(entry), signal.SIGKILL)
                    found = True
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        if not found:
            return


# ----------------------------------------------------------------------------- coverage (test runs)
# When the test suite runs under coverage.py (`.coveragerc`: `patch = subprocess`), the server is
# measured like any subprocess. Its kernels need more: a confined kernel cannot write to the
# project folder (it is hidden, and the kernel runs as another user), and it is killed with
# SIGKILL, so nothing is saved at exit. So each measured kernel child gets a coverage of its own
# that writes into the kernel's scratch folder; the harness cell saves it once the checks have
# run (see `grader.harness_cell`), and the server copies the file beside its own data
# when it reaps the kernel, before the grader deletes the scratch folder. The sandbox is
# applied exactly as without coverage. Outside coverage runs none of this runs: each entry
# point first asks `coverage_running()`, a dictionary lookup.

# Kernels being measured, by pid, with their scratch folder.
_MEASURED_KERNELS: dict[int, str] = {}
_KERNEL_DATA_FILE = ".coverage"  # in the kernel's scratch folder; coverage adds a unique suffix
_MAX_KERNEL_DATA = 64 << 20


def coverage_running() -> Any:
    """The coverage.py measurement running in this process, or None (always, outside test runs).

    The same test as `cli._coverage_active`: coverage is only ever imported by coverage itself.
    """
    coverage: Any = sys.modules.get("coverage")
    return coverage.Coverage.current() if coverage is not None else None


def _new_measurement(data_file: str | None = None) -> Any:
    """Test runs only, in a forked child: stop the measurement inherited from the server (it
    would be saved under the server's name, or not at all: children end with os._exit) and
    start one with the same settings, writing to `data_file` if given; None if that fails."""
    try:
        import importlib

        control: Any = importlib.import_module("coverage.control")
        inherited = control.Coverage.current()
        inherited.stop()
        cov = control.Coverage(config_file=control.CONFIG_DATA_PREFIX + inherited.config.serialize())
        if data_file is not None:
            cov.set_option("run:data_file", data_file)
        cov.start()
        return cov
    except BaseException:  # never return into the server's loop; the child just goes unmeasured
        return None


def _measure_kernel(request: dict[str, Any]) -> None:
    """In a forked kernel child, before confinement: a measurement of its own whose data file
    is in the kernel's scratch folder. (Its own lines, like the rest of the child's code before
    `_child_main`, run before that measurement starts, so they never show as covered.)"""
    scratch = (request.get("sandbox") or {}).get("scratch")
    if scratch:  # (never raises: what follows must still run as the kernel)
        _new_measurement(os.path.join(scratch, _KERNEL_DATA_FILE))


def _collect_kernel_coverage(scratch: str) -> None:
    """Copy a reaped kernel's coverage data files beside the server's own (as `<data_file>.<suffix>`,
    which `coverage combine` picks up). The files come from a kernel that ran student code, so
    only regular files are read (no symlinks, FIFOs or devices), and at most 64 MiB of each."""
    cov = coverage_running()
    if cov is None:
        return
    try:
        names = [n for n in os.listdir(scratch) if n.startswith(_KERNEL_DATA_FILE + ".")]
    except OSError:
        return
    base = os.path.abspath(cov.config.data_file)
    for name in names:
        try:
            fd = os.open(os.path.join(scratch, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as source:
                if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                    continue
                data = source.read(_MAX_KERNEL_DATA)
            target = base + name[len(_KERNEL_DATA_FILE) :]
            with open(target, "xb") as copy:
                copy.write(data)
        except OSError:
            pass


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "jupyter")
