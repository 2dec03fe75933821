"""Where kernels come from: one small interface, two backends, one policy.

Like jupyter_client's provisioners, a backend only knows how a kernel comes to be; the
grader asks it for a ready kernel and gets a `WarmKernel` (a jupyter_client manager and
client, its scratch folder, its sandbox report, a way to read its CPU time) either way:

* `ForkServerBackend` (Linux): a warm parent that has imported torch forks one confined
  kernel per notebook (namespaces, allowlisted view, control groups, separate uid; see
  `forkserver`, `warm_parent`, `sandbox`, `cgroups`, `uids`).
* `PortableBackend` (macOS, Windows, Linux without privileges or user namespaces, or
  `--backend portable`): a plain ipykernel started by jupyter_client, with the protections
  that need no privileges — time and output limits, its own scratch folder as working
  directory, a scrubbed environment, rlimits where the OS has them — and a report that
  says plainly which protections are off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .datasets import DATA_FOLDER
from .policy import SandboxPolicy
from .sandbox import PROTECTIONS, SandboxConfig, new_report, scrubbed_environment

if TYPE_CHECKING:  # jupyter_client and ZeroMQ load when the first kernel starts, after the warm parent
    from .kernel_manager import WarmKernel


class Backend:
    name = "?"

    async def start_kernel(self, scratch: str, seed: int = 0) -> WarmKernel:
        raise NotImplementedError

    def start(self) -> None:
        """Begin the expensive part of start-up now (optional)."""

    def preload(self, modules: list[str]) -> None:
        """Kernels started from now on may come with `modules` imported (optional)."""

    def spawn_judge(self, socket_path: str) -> None:
        """Start a judge (`grader.judge_process`) that connects to `socket_path`; backends
        without a warm parent have none (the grader judges itself)."""
        raise NotImplementedError

    def alive(self) -> bool:
        """False once the backend can no longer run kernels (its warm parent died)."""
        return True

    def revive(self) -> bool:
        """Start afresh if the warm parent died (killed by the OOM killer, say); True if it was."""
        return False

    def kill(self) -> None:
        """Stop every kernel now, without waiting (a second Ctrl-C)."""

    def close(self) -> None:
        pass


def missing_protections(report: dict[str, Any]) -> list[str]:
    """Warnings for the protections a kernel's report says were not active."""
    if not report:
        return []
    return [message for key, message in PROTECTIONS.items() if key in report and not report.get(key)]


# ----------------------------------------------------------------------------- fork server
PROTOCOLS = ("pipe", "jupyter")


def kernel_protocol() -> str:
    """How the grader talks to forked kernels: "pipe" (IPython's shell over one socket,
    `grader.pipe_kernel`; the default) or "jupyter" (ipykernel over ZeroMQ), from
    D2L_GRADER_KERNEL_PROTOCOL. Both run the same cells with the same confinement; "jupyter"
    is there to compare them (`bench/breakdown.py`) and as a fallback."""
    chosen = os.environ.get("D2L_GRADER_KERNEL_PROTOCOL", "pipe")
    return chosen if chosen in PROTOCOLS else "pipe"


class ForkServerBackend(Backend):
    name = "forkserver"

    def __init__(
        self, policy: SandboxPolicy, scratch_root: str, hide: Callable[[], list[str]], protocol: str | None = None
    ) -> None:
        self.policy = policy
        self.protocol = protocol or kernel_protocol()
        self.scratch_root = scratch_root
        self.hide = hide  # folders covered when there is no allowlisted view (no bubblewrap)
        self._server: Any = None
        self._groups: Any = None
        self._uids: Any = None
        self._notes: list[str] = []

    def start(self) -> None:
        if self._server is not None:
            return
        if os.geteuid() == 0 and self._groups is None and self._uids is None:
            from . import cgroups
            from .uids import UidPool

            try:
                self._groups = cgroups.open_tree(f"d2l-grader-{os.getpid()}-{id(self) & 0xFFFF:x}")
            except cgroups.CgroupUnavailable as exc:
                self._notes.append(str(exc))
            try:
                self._uids = UidPool()
            except (OSError, RuntimeError) as exc:
                self._notes.append(f"no uid range for kernels: {exc}")
        self._start_server()

    def _start_server(self) -> None:
        from .warm_parent import ForkServer, gpu_devices, plan_launch

        writable = list(dict.fromkeys(self._groups.parents.values())) if self._groups is not None else []
        launch = plan_launch(
            self.scratch_root,
            self.policy.readable,
            writable,
            self.policy.use_bwrap,
            gpu_devices(self.policy.gpu),
            protocol=self.protocol,
        )
        missing_bwrap = (
            "bubblewrap is not installed (Debian/Ubuntu: apt install bubblewrap): kernels see the file "
            "system minus the folders hidden from them"
        )
        if not launch.allowlisted and self.policy.use_bwrap and missing_bwrap not in self._notes:
            self._notes.append(missing_bwrap)
        self._server = ForkServer(launch)

    def spawn_judge(self, socket_path: str) -> None:
        self.start()
        assert self._server is not None
        self._server.judge(socket_path)

    def preload(self, modules: list[str]) -> None:
        self.start()
        self._server.preload(modules)

    async def start_kernel(self, scratch: str, seed: int = 0) -> WarmKernel:
        self.start()
        lease = self._uids.lease() if self._uids is not None else None
        group = None
        try:
            if self._groups is not None:
                group = self._groups.kernel_group(self.policy.memory_bytes, self.policy.processes, self.policy.cpus)
            config = SandboxConfig(
                scratch=scratch,
                scratch_root=self.scratch_root,
                datasets=os.path.join(self.scratch_root, DATA_FOLDER),
                engine_dirs=list(self._server.launch.server_only),
                hide=[] if self._server.launch.allowlisted else self.hide(),
                uid=lease.uid if lease is not None else None,
                cgroup_procs=[os.path.join(d, "cgroup.procs") for d in dict.fromkeys(group.dirs.values())]
                if group
                else [],
                memory_bytes=self.policy.memory_bytes,
                file_bytes=self.policy.file_bytes,
                processes=self.policy.processes,
                open_files=self.policy.open_files,
                tmpfs_bytes=self.policy.tmpfs_bytes,
            )
            if self.protocol == "pipe":
                from . import pipe_client

                kernel = await pipe_client.start(self._server, config)
            else:
                from .kernel_manager import start_kernel

                kernel = await start_kernel(self._server, config)
        except BaseException:
            _release(group, lease)
            raise
        kernel.report["backend"] = self.name
        kernel.report["notes"] = [*self._notes, *kernel.report.get("notes", [])]
        kernel.harness_prepared = True  # the warm parent compiled it (forkserver._warm_up)
        measurable = group is not None and self.policy.cpu_time and kernel.report.get("resource_groups")
        kernel.report["cpu_time_budget"] = bool(measurable)
        if measurable:
            kernel.cpu_seconds = group.cpu_seconds  # type: ignore[union-attr]
        if group is not None:
            kernel.oom_kills = group.oom_kills
        kernel.release = lambda: _release(group, lease)
        return kernel

    def alive(self) -> bool:
        return self._server is None or self._server.alive()

    def revive(self) -> bool:
        """A dead warm parent is replaced; its control-group tree and uid pool are kept (the
        kernels it had are dead with it, and each released its group and uid)."""
        if self._server is None or self._server.alive():
            return False
        self._server.close()
        self._server = None
        self._start_server()
        return True

    def kill(self) -> None:
        if self._server is not None:
            self._server.kill()  # its kernels die with it (parent-death signals)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._groups is not None:
            self._groups.close()
            self._groups = None


def _release(group: Any, lease: Any) -> None:
    """Once a kernel is dead: empty and delete its group, then free its uid for another kernel."""
    if group is not None:
        group.kill_all()
        group.remove()
    if lease is not None:
        lease.release()


# ----------------------------------------------------------------------------- portable
# The kernel's first code: rlimits where the OS has them, originals remembered before any
# student code, seeded generators, then an ordinary ipykernel. It imports `grader` (nothing is
# hidden on this backend) and then drops it from sys.modules.
_BOOTSTRAP = """
import sys
limits = {limits!r}
try:
    import resource
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is not None:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass
except ImportError:
    pass
from grader import book, harness
harness.remember_originals()
book.prepare()
harness._seed({seed})
for name in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
    del sys.modules[name]
harness.install_grading_stub()
from ipykernel import kernelapp
kernelapp.launch_new_instance(argv=["-f", sys.argv[1], "--HistoryManager.enabled=False",
    "--IPKernelApp.log_level=CRITICAL", "--InteractiveShell.colors=nocolor"])
"""


class PortableBackend(Backend):
    name = "portable"

    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy

    async def start_kernel(self, scratch: str, seed: int = 0) -> WarmKernel:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Nothing here confines the kernel: as root, a notebook could mount over /tmp or
            # read anything. (As root the fork-server backend has every protection anyway.)
            raise PermissionError(
                "the portable backend does not confine kernels, so it never runs student code as root; "
                "use the fork-server backend (the default on Linux) or run the grader as an ordinary user"
            )
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpec
        from traitlets import Type

        from .kernel_manager import FastKernelClient, ready

        limits = {"RLIMIT_FSIZE": self.policy.file_bytes, "RLIMIT_NOFILE": self.policy.open_files, "RLIMIT_CORE": 0}
        if sys.platform.startswith("linux"):
            limits["RLIMIT_AS"] = self.policy.memory_bytes + 8 * 1024**3  # torch reserves address space
        spec = KernelSpec(
            argv=[sys.executable, "-c", _BOOTSTRAP.format(limits=limits, seed=int(seed)), "{connection_file}"],
            display_name="Python 3 (d2l-grader, portable)",
            language="python",
            interrupt_mode="signal" if os.name != "nt" else "message",
        )

        env = scrubbed_environment(scratch)
        env["TMPDIR"] = scratch
        env.update({k: v for k, v in os.environ.items() if k in ("SYSTEMROOT", "PYTHONPATH")})  # Windows needs it

        class _Manager(AsyncKernelManager):
            client_class = Type(FastKernelClient)  # type: ignore[assignment]
            client_factory = Type(FastKernelClient)

            @property
            def kernel_spec(self) -> KernelSpec:
                return spec

            async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
                await super().start_kernel(env=env, cwd=scratch, **kw)

        km = _Manager(kernel_id="portable")
        kernel = await ready(km, scratch)
        report = new_report(False)
        report.update(backend=self.name, memory_limit_bytes=None, file_size_limit_bytes=self.policy.file_bytes)
        report["process_limit"] = None
        report["notes"] = [
            "the portable backend: a plain ipykernel without namespaces, control groups or a separate user"
        ]
        kernel.report = report
        pid = getattr(km.provisioner, "process", None)
        if pid is not None and self.policy.cpu_time:
            kernel.cpu_seconds = _tree_cpu(pid.pid)
            report["cpu_time_budget"] = True
        return kernel


def _tree_cpu(pid: int) -> Any:
    """CPU seconds of a process and its descendants (psutil: Linux, macOS, Windows)."""
    import psutil  # type: ignore[import-untyped]  # ipykernel's own dependency

    def seconds() -> float | None:
        try:
            root = psutil.Process(pid)
            total = 0.0
            for proc in [root, *root.children(recursive=True)]:
                try:
                    times = proc.cpu_times()
                    total += times.user + times.system + getattr(times, "children_user", 0.0)
                    total += getattr(times, "children_system", 0.0)
                except psutil.Error:
                    continue
            return total
        except psutil.Error:
            return None

    return seconds


def make_backend(policy: SandboxPolicy, scratch_root: str, hide: Callable[[], list[str]]) -> Backend:
    if policy.chosen_backend() == "portable":
        return PortableBackend(policy)
    return ForkServerBackend(policy, scratch_root, hide)
