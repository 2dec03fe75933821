"""Starting the warm parent (`grader.forkserver`) and talking to it, from the grader.

The warm parent is exec'd, never forked from the grader, with a minimal environment: no
variable of the grader's (an API token, a path) is ever in its memory, so none can be in a
kernel's. Where bubblewrap is installed (Debian's `bubblewrap` package) it runs inside a
root made for it — an allowlist, not a denylist: the Python installation and the system
libraries read-only, the kernels' scratch root read-write, the engine's own package at a
private path, its control groups; nothing else of the host (no /home, /root, /srv, /opt,
no course, no submissions, no output folder). Everything it forks starts from that view,
and each kernel then narrows it further (see `sandbox`). bubblewrap, a small, well-kept
setuid-free tool used by Flatpak, builds that root more carefully than we would by hand;
without it the kernels fall back to covering the known sensitive folders (reported as
`filesystem_allowlist: false`).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .sandbox import SandboxConfig

ENGINE_MOUNT = "/run/d2l-grader/engine"  # where the warm parent finds the engine's package
SERVER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "PYTHONHASHSEED": "0",  # hash randomisation is fixed at interpreter start; children inherit it
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "nsswitch.conf")
_MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class ForkServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Launch:
    """How the warm parent is started, and what its kernels must know of that."""

    argv: list[str]
    env: dict[str, str]
    allowlisted: bool  # runs in an allowlisted root (bubblewrap)
    server_only: list[str]  # paths its kernels must not see (the engine, control groups)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def python_paths() -> list[str]:
    """Folders the interpreter and its libraries live in (read-only in the allowlisted root)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found.update(
        p for p in sys.path if p and os.path.isdir(p) and os.path.basename(p) in ("site-packages", "dist-packages")
    )
    found.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in {os.path.realpath(f) for f in found} if os.path.isdir(p))


def _engine_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _within(path: str, folders: Iterable[str]) -> bool:
    return any(path == f or path.startswith(f + os.sep) for f in folders)


def gpu_devices(wanted: bool = True) -> list[str]:
    """The device nodes CUDA needs on this machine (/dev/nvidia0, /dev/nvidiactl, /dev/nvidia-uvm,
    ...): none where there is no NVIDIA GPU, or when the policy keeps GPUs from kernels."""
    return sorted(glob.glob("/dev/nvidia*")) if wanted and sys.platform.startswith("linux") else []


def plan_launch(
    scratch_root: str,
    readable: Iterable[str] = (),
    writable: Iterable[str] = (),
    use_bwrap: bool = True,
    devices: Iterable[str] = (),
    protocol: str = "pipe",
) -> Launch:
    """The command starting the warm parent: in bubblewrap when it is available (and wanted).
    `devices` (the GPUs' nodes) join the minimal /dev bubblewrap makes, and nothing else does.
    `protocol`: the kernels it will fork ("pipe" or "jupyter"), whose start-up it does ahead."""
    env = dict(SERVER_ENV)
    command = [sys.executable, "-m", "grader.forkserver", protocol]
    engine = _engine_dir()
    bwrap = bwrap_path() if use_bwrap and sys.platform.startswith("linux") else None
    if bwrap is None:
        # The engine is imported from where it is; its parent folder may be a course checkout, so
        # only the engine's own path is put on PYTHONPATH (kernels remove it from sys.path).
        env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(engine), *_site_dirs()])
        return Launch(command, env, False, [engine])
    pythons = python_paths()
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
    if os.geteuid() == 0:
        argv += ["--cap-add", "ALL"]  # the warm parent makes namespaces and users for its kernels
    else:
        argv += ["--unshare-user"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in _MERGED:
        host = os.path.join("/", name)
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            argv += ["--ro-bind", host, host]
    for name in _ETC:
        argv += ["--ro-bind-try", os.path.join("/etc", name), os.path.join("/etc", name)]
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    for device in devices:
        argv += ["--dev-bind-try", device, device]
    for path in pythons:
        if not _within(path, ("/usr",)):
            argv += ["--ro-bind", path, path]
    server_only = []
    if not _within(engine, pythons):  # an editable install: the package alone, at a path of its own
        target = os.path.join(ENGINE_MOUNT, os.path.basename(engine))
        argv += ["--ro-bind", engine, target]
        env["PYTHONPATH"] = os.pathsep.join([ENGINE_MOUNT, *_site_dirs()])
        server_only.append(ENGINE_MOUNT)
    else:
        env["PYTHONPATH"] = os.pathsep.join(_site_dirs())
        server_only.append(engine)
    for path in readable:
        argv += ["--ro-bind-try", path, path]
    argv += ["--bind", scratch_root, scratch_root]
    for path in writable:
        argv += ["--bind", path, path]
        server_only.append(path)
    argv = _searchable_parents(argv)
    argv += ["--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", "/", "--", *command]
    return Launch(argv, {"PATH": SERVER_ENV["PATH"], "LANG": "C.UTF-8"}, True, server_only)


def _searchable_parents(argv: list[str]) -> list[str]:
    """bubblewrap creates the missing parents of a mount point with mode 0700, which a kernel
    running as another uid could not traverse: create them first, searchable (0755)."""
    parents: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("--bind", "--ro-bind", "--ro-bind-try") and i + 2 < len(argv):
            path = os.path.dirname(argv[i + 2])
            chain = []
            while path not in ("/", "") and not _within(path, ("/usr", "/dev", "/proc")):
                chain.append(path)
                path = os.path.dirname(path)
            parents += [p for p in reversed(chain) if p not in parents]
    first = argv.index("--ro-bind")  # after the namespace flags, before any mount
    made = [a for p in parents for a in ("--perms", "0755", "--dir", p)]
    return argv[:first] + made + argv[first:]


def _site_dirs() -> list[str]:
    """The grader's own library folders, in its order (the warm parent imports the same packages)."""
    return [p for p in sys.path if p and os.path.isdir(p) and os.path.basename(p) in ("site-packages", "dist-packages")]


class ForkServer:
    """Grader-side handle on one warm parent process (thread-safe).

    The process is started from the thread that reads its output and lives as long as it:
    the warm parent's parent-death signal follows the thread that started it, so no short-
    lived thread (say, the one an API call runs on inside Jupyter) may be that thread.
    """

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._replies: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._next_id = 0
        self._ready = False
        self._closed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._run, daemon=True, name="forkserver-reader")
        self._reader.start()
        self._started.wait()
        if self._error is not None:
            raise ForkServerError(f"cannot start the kernel fork server: {self._error}")

    def _run(self) -> None:
        try:
            self._proc = subprocess.Popen(  # its own session and group: a terminal's Ctrl-C is the grader's alone
                self.launch.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=self.launch.env,
                cwd="/",
                start_new_session=True,  # (process_group= is Python 3.11+)
            )
        except OSError as exc:
            self._error = exc
            self._closed = True
            self._started.set()
            return
        self._started.set()
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

    def _send(self, request: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(request) + "\n").encode())
        self._proc.stdin.flush()

    def spawn(
        self, connection_file: str, sandbox: SandboxConfig, seed: int = 0, pipe: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Fork a confined kernel; return its keeper's pid (what to signal) and the sandbox report.
        `pipe`: a pipe kernel (`grader.pipe_kernel`) connecting to the socket at `connection_file`,
        else an ipykernel using that connection file."""
        self.wait_ready()
        with self._cond:
            self._next_id += 1
            rid = self._next_id
            self._send(
                {
                    "op": "spawn",
                    "id": rid,
                    "connection_file": connection_file,
                    "sandbox": asdict(sandbox),
                    "allowlisted": self.launch.allowlisted,
                    "seed": seed,
                    "pipe": pipe,
                    "debug_log": os.environ.get("D2L_GRADER_KERNEL_LOG"),
                }
            )
            if not self._cond.wait_for(lambda: rid in self._replies or self._closed, 60):
                raise ForkServerError("the kernel fork server did not answer")
            if rid not in self._replies:
                raise ForkServerError("the kernel fork server stopped")
            reply = self._replies.pop(rid)
        if "error" in reply["sandbox"]:
            raise ForkServerError(f"kernel set-up failed: {reply['sandbox']['error']}")
        return int(reply["pid"]), reply["sandbox"]

    def judge(self, socket_path: str) -> None:
        """Fork a judge (`grader.judge_process`) that connects to `socket_path`. Sent at once,
        even while the server still warms up: it reads requests in order, so a judge asked for
        at start-up is forked before the first kernel and is ready when its notebook is."""
        with self._cond:
            if self._closed:
                raise ForkServerError("the kernel fork server stopped")
            self._next_id += 1
            rid = self._next_id
            self._send({"op": "judge", "id": rid, "socket": socket_path})
            if not self._cond.wait_for(lambda: rid in self._replies or self._closed, 120):
                raise ForkServerError("the kernel fork server did not answer")
            if rid not in self._replies:
                raise ForkServerError("the kernel fork server stopped")
            self._replies.pop(rid)

    def preload(self, modules: list[str]) -> None:
        """Ask the server to import `modules` before it forks further kernels (no answer; sent
        at once, read by the server in order, after its warm-up, before later spawns)."""
        with self._cond:
            if not self._closed:
                try:
                    self._send({"op": "preload", "modules": modules})
                except (OSError, ValueError):
                    pass

    def signal(self, pid: int, signum: int) -> None:
        """Signal a kernel through its keeper (which the server only signals while it is unreaped)."""
        with self._cond:
            if not self._closed and pid not in self._exits:
                try:
                    self._send({"op": "signal", "pid": pid, "signal": int(signum)})
                except (OSError, ValueError):
                    pass

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

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """Kill the warm parent now; every kernel dies with it (parent-death signals)."""
        if self.alive():
            assert self._proc is not None
            try:
                self._proc.kill()
            except OSError:
                pass

    def close(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            try:  # a server still warming up does not read its input: do not wait long
                proc.wait(5 if self._ready else 0.2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
