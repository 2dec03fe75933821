"""A warm parent that forks one fresh kernel per notebook.

Starting a Jupyter kernel and importing torch costs seconds; forking a process that has
already paid for both costs milliseconds. The server imports torch, numpy and ipykernel
once, then for every request forks a child that confines itself (see `sandbox`), seeds
its random generators and becomes an ordinary ipykernel listening on the connection
file it was given. Each child serves exactly one notebook and is then discarded, so no
state can pass from one student to the next. The server itself never runs student code
and stays single-threaded, which is what makes forking it safe.

Protocol: JSON lines on the server's stdin (requests) and stdout (replies and exit
events). Run with `python -m grader.forkserver`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import threading
from dataclasses import asdict
from typing import Any, NoReturn

from . import harness
from .sandbox import SandboxConfig

SERVER_ENV = {
    "PYTHONHASHSEED": "0",  # hash randomisation is fixed at interpreter start; children inherit it
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


# ----------------------------------------------------------------------------- server side
def _warm_up() -> None:
    """Import everything a kernel needs, so children start with it in memory."""
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)  # also keeps OpenMP from starting threads before fork
    import ipykernel.ipkernel
    import ipykernel.kernelapp
    import ipykernel.zmqshell

    try:  # graded kernels never host a debugger: skip creating one in every kernel
        import ipykernel.debugger

        ipykernel.debugger._is_debugpy_available = False
    except Exception:
        pass
    import IPython.core.completer
    import IPython.core.completerlib
    import IPython.core.debugger
    import IPython.core.oinspect
    import IPython.extensions.storemagic
    import IPython.utils.wildcard  # noqa: F401
    import tornado.platform.asyncio  # noqa: F401
    from jupyter_client import localinterfaces

    localinterfaces.localhost()  # caches the interface scan (psutil) every kernel would repeat
    import pdb  # noqa: F401  (the kernel imports it on start)
    import secrets  # noqa: F401  (numpy.random needs it lazily)

    _seed(0)  # imports numpy.random now rather than in every child


def _warm_up_extras() -> None:
    """Imports that only some notebooks need (plots): done when the server is idle, so the
    first kernels are not held up; kernels forked before it import them if they must."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import matplotlib_inline.backend_inline  # noqa: F401


def _child_main(request: dict[str, Any], status_fd: int) -> None:
    """Runs in the forked child: confine, seed, become a kernel. Never returns."""
    code = 0
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        debug_log = request.get("debug_log")
        if debug_log:  # developers only: see why a kernel would not start
            os.dup2(os.open(debug_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 2)
        os.closerange(3, status_fd)
        os.closerange(status_fd + 1, 1024)
        from . import sandbox

        cfg = SandboxConfig(**request["sandbox"])
        report = sandbox.apply(cfg)
        os.write(status_fd, (json.dumps(report) + "\n").encode())
        os.close(status_fd)
        harness.remember_originals()  # before any student code: what probes may rely on
        for name in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
            del sys.modules[name]  # the engine is not importable from student code
        _seed(int(request.get("seed", 0)))
        _start_kernel(request["connection_file"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # report set-up failures through the status pipe
        try:
            os.write(status_fd, (json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        except OSError:
            pass
        code = 70
        try:  # visible with D2L_GRADER_KERNEL_LOG
            import traceback

            os.write(2, traceback.format_exc().encode())
        except Exception:
            pass
    finally:
        if (measuring := coverage_running()) is not None:  # test runs only
            try:
                measuring.save()
            except Exception:
                pass
        os._exit(code)


def _seed(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    # The CPU generator only: torch.manual_seed also queues a lazy CUDA seeding, with a
    # stack trace, on every call (~1 ms each); grading machines have no GPU.
    torch.default_generator.manual_seed(seed)


def _start_kernel(connection_file: str) -> None:
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(
        [
            f"--IPKernelApp.connection_file={connection_file}",
            "--HistoryManager.enabled=False",
            "--IPKernelApp.log_level=CRITICAL",
            "--InteractiveShell.colors=nocolor",
            # C-level writes to fds 1/2 go to /dev/null rather than through two relay threads
            "--IPKernelApp.capture_fd_output=False",
        ]
    )
    app.start()


def _spawn(request: dict[str, Any]) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        if coverage_running() is not None:  # test runs only
            _measure_kernel(request)
        _child_main(request, write_fd)
    os.close(write_fd)
    _KERNELS[pid] = request["sandbox"].get("uid") if os.geteuid() == 0 else None
    if coverage_running() is not None:  # test runs only
        _MEASURED_KERNELS[pid] = request["sandbox"]["scratch"]
    with os.fdopen(read_fd, "rb") as status:
        line = status.readline()
    try:
        report = json.loads(line) if line else {"error": "the kernel process exited during set-up"}
    except ValueError:
        report = {"error": "unreadable set-up report"}
    return {"id": request["id"], "pid": pid, "sandbox": report}


def serve() -> None:
    """Server main loop: answer spawn requests, report every child's exit."""
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    from . import sandbox

    sandbox.isolate_server_network()
    sandbox.become_subreaper()
    _warm_up()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the grader, which stops us

    def send(message: dict[str, Any]) -> None:
        out.write((json.dumps(message) + "\n").encode())
        out.flush()

    import gc

    gc.collect()
    gc.freeze()  # children's collections skip the warm objects: fewer copy-on-write page faults
    send({"ready": True, "pid": os.getpid()})
    buffer = b""
    extras_pending = True
    while True:
        ready, _, _ = select.select([inp, wake_r], [], [], 0.05 if extras_pending else 1.0)
        if extras_pending and not ready:
            extras_pending = False
            _warm_up_extras()
            gc.collect()
            gc.freeze()
            continue
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
                elif request.get("op") == "stop":
                    _leave(out)


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
# run (see `execute.harness_cell_source`), and the server copies the file beside its own data
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


def _measure_kernel(request: dict[str, Any]) -> None:
    """In a forked kernel child, before confinement: stop the measurement inherited from the
    server and start one with the same settings whose data file is in the kernel's scratch
    folder. (Its own lines, like the rest of the child's code before `_child_main`, run before
    that measurement starts, so they never show as covered.)"""
    try:
        import importlib

        scratch = request["sandbox"]["scratch"]
        control: Any = importlib.import_module("coverage.control")
        inherited = control.Coverage.current()
        inherited.stop()
        cov = control.Coverage(config_file=control.CONFIG_DATA_PREFIX + inherited.config.serialize())
        cov.set_option("run:data_file", os.path.join(scratch, _KERNEL_DATA_FILE))
        cov.start()
    except BaseException:  # never return into the server's loop; the kernel just goes unmeasured
        pass


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


# ----------------------------------------------------------------------------- grader side
class ForkServerError(RuntimeError):
    pass


class ForkServer:
    """Grader-side handle on one warm fork server process (thread-safe)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.update(SERVER_ENV)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "grader.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._replies: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._next_id = 0
        self._ready = False
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True, name="forkserver-reader")
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if message.get("ready"):
                    self._ready = True
                elif message.get("event") == "exit":
                    self._exits[int(message["pid"])] = int(message["code"])
                elif "id" in message:
                    self._replies[int(message["id"])] = message
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_ready(self, timeout: float = 120.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._closed, timeout):
                raise ForkServerError("the kernel fork server did not start in time")
            if not self._ready:
                raise ForkServerError("the kernel fork server failed to start")

    def spawn(self, connection_file: str, sandbox: SandboxConfig, seed: int = 0) -> tuple[int, dict]:
        """Fork a confined kernel; return its pid and the sandbox report."""
        self.wait_ready()
        with self._cond:
            self._next_id += 1
            rid = self._next_id
            request = {
                "op": "spawn",
                "id": rid,
                "connection_file": connection_file,
                "sandbox": asdict(sandbox),
                "seed": seed,
                "debug_log": os.environ.get("D2L_GRADER_KERNEL_LOG"),
            }
            assert self._proc.stdin is not None
            self._proc.stdin.write((json.dumps(request) + "\n").encode())
            self._proc.stdin.flush()
            if not self._cond.wait_for(lambda: rid in self._replies or self._closed, 60):
                raise ForkServerError("the kernel fork server did not answer")
            if rid not in self._replies:
                raise ForkServerError("the kernel fork server stopped")
            reply = self._replies.pop(rid)
        if "error" in reply["sandbox"]:
            raise ForkServerError(f"kernel set-up failed: {reply['sandbox']['error']}")
        return int(reply["pid"]), reply["sandbox"]

    def exit_code(self, pid: int) -> int | None:
        """The kernel's exit code (negative: killed by that signal), or None if running."""
        with self._lock:
            if pid in self._exits:
                return self._exits[pid]
            if self._closed:
                return -9
            return None

    def forget(self, pid: int) -> None:
        with self._lock:
            self._exits.pop(pid, None)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except OSError:
                pass
            try:  # a server still warming up does not read its input: do not wait long
                self._proc.wait(5 if self._ready else 0.2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()
