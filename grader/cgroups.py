"""Control groups: memory, processes and CPU that one kernel cannot take from its neighbours.

Resource limits (rlimits) are per process: a notebook that starts 48 processes, or fills a
tmpfs, slips past them, and a neighbour graded beside it pays. A control group holds the
kernel's whole process tree: its memory (tmpfs pages included) is capped, its process count
is capped, its CPU is capped at one core with an equal share, and its CPU *time* can be read,
which lets a cell's time limit be a CPU-time budget that does not depend on how loaded the
machine is.

Both hierarchies are supported: cgroup v2 (one tree, `cgroup.controllers` at the mount
point: most grading servers) and cgroup v1 (one tree per controller: this project's CI
machines). Creating groups needs root (or a delegated subtree); where that fails, `open()`
returns None with the reason, and the sandbox reports that protection as missing.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    """Control groups cannot be used here; str() says why."""


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@dataclass
class KernelGroup:
    """The control group(s) of one kernel: one directory per controller (v1) or one (v2)."""

    version: int
    dirs: dict[str, str]  # controller -> directory ("unified" for v2)
    removed: bool = field(default=False)

    def add(self, pid: int) -> None:
        """Move a process (and, from then on, everything it starts) into the group."""
        for path in dict.fromkeys(self.dirs.values()):
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def cpu_seconds(self) -> float:
        """CPU time used by every process that ever ran in the group."""
        if self.version == 2:
            for line in _read(os.path.join(self.dirs["unified"], "cpu.stat")).splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
            return 0.0
        return int(_read(os.path.join(self.dirs["cpuacct"], "cpuacct.usage"))) / 1e9

    def oom_kills(self) -> int:
        """How many processes the memory limit killed."""
        name, key = ("memory.events", "oom_kill") if self.version == 2 else ("memory.oom_control", "oom_kill")
        folder = self.dirs["unified" if self.version == 2 else "memory"]
        try:
            for line in _read(os.path.join(folder, name)).splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
        except OSError:
            pass
        return 0

    def pids(self) -> list[int]:
        folder = next(iter(self.dirs.values()))
        try:
            return [int(p) for p in _read(os.path.join(folder, "cgroup.procs")).split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        """Kill every process in the group (v2: atomically with cgroup.kill when the kernel has it)."""
        if self.version == 2 and os.path.exists(os.path.join(self.dirs["unified"], "cgroup.kill")):
            try:
                _write(os.path.join(self.dirs["unified"], "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for _ in range(50):  # a fork bomb may add processes while we kill: repeat until empty
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.002)

    def remove(self) -> None:
        """Delete the group's directories (once its processes are gone)."""
        if self.removed:
            return
        for path in dict.fromkeys(self.dirs.values()):
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:  # gone already, or not a control group
                        break
                    time.sleep(0.01)  # its last processes are still being reaped
        self.removed = True


@dataclass
class CgroupTree:
    """A parent group for one grader process; every kernel gets a child group under it."""

    version: int
    parents: dict[str, str]  # controller (or "unified") -> the grader's parent directory
    counter: int = 0

    def kernel_group(self, memory_bytes: int, processes: int, cpus: float = 1.0) -> KernelGroup:
        """A new child group with the kernel's limits written before any process joins."""
        self.counter += 1
        name = f"kernel-{self.counter}"
        dirs = {}
        try:
            for controller, parent in self.parents.items():
                path = os.path.join(parent, name)
                os.mkdir(path)
                dirs[controller] = path
            group = KernelGroup(self.version, dirs)
            quota = max(1000, int(CPU_PERIOD_US * cpus))
            if self.version == 2:
                unified = dirs["unified"]
                _write(os.path.join(unified, "memory.max"), str(memory_bytes))
                _try_write(os.path.join(unified, "memory.swap.max"), "0")
                _write(os.path.join(unified, "pids.max"), str(processes))
                _write(os.path.join(unified, "cpu.max"), f"{quota} {CPU_PERIOD_US}")
            else:
                _write(os.path.join(dirs["memory"], "memory.limit_in_bytes"), str(memory_bytes))
                _try_write(os.path.join(dirs["memory"], "memory.memsw.limit_in_bytes"), str(memory_bytes))
                _write(os.path.join(dirs["pids"], "pids.max"), str(processes))
                _write(os.path.join(dirs["cpu"], "cpu.cfs_period_us"), str(CPU_PERIOD_US))
                _write(os.path.join(dirs["cpu"], "cpu.cfs_quota_us"), str(quota))
        except OSError as exc:
            KernelGroup(self.version, dirs).remove()
            raise CgroupUnavailable(f"cannot set up a kernel's control group: {exc.strerror or exc}") from None
        return group

    def close(self) -> None:
        for path in dict.fromkeys(self.parents.values()):
            for child in _children(path):
                KernelGroup(self.version, {"x": child}).remove()
            try:
                os.rmdir(path)
            except OSError:
                pass


def _try_write(path: str, text: str) -> None:
    try:
        _write(path, text)
    except OSError:
        pass  # optional knob (no swap accounting on this kernel)


def _children(path: str) -> list[str]:
    try:
        return [os.path.join(path, e.name) for e in os.scandir(path) if e.is_dir()]
    except OSError:
        return []


def open_tree(name: str, root: str = ROOT) -> CgroupTree:
    """Create this grader's parent group; raise CgroupUnavailable saying why not."""
    if not os.path.isdir(root):
        raise CgroupUnavailable(f"no control groups here ({root} is missing)")
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return _open_v2(name, root)
    return _open_v1(name, root)


def _own_path(controller: str) -> str:
    """This process's group in a v1 hierarchy (kernels nest below it, inside its limits)."""
    try:
        for line in _read("/proc/self/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path.lstrip("/")
    except OSError:
        pass
    return ""


def _open_v1(name: str, root: str) -> CgroupTree:
    parents = {}
    try:
        for controller in V1_CONTROLLERS:
            mount = os.path.join(root, controller)
            if not os.path.isdir(mount):
                raise CgroupUnavailable(f"the cgroup v1 controller {controller!r} is not mounted")
            path = os.path.join(mount, _own_path(controller), name)
            os.makedirs(path, exist_ok=True)
            parents[controller] = path
    except OSError as exc:
        CgroupTree(1, parents).close()
        raise CgroupUnavailable(f"cannot create control groups: {exc.strerror or exc}") from None
    except CgroupUnavailable:
        CgroupTree(1, parents).close()
        raise
    return CgroupTree(1, parents)


def _open_v2(name: str, root: str) -> CgroupTree:
    available = _read(os.path.join(root, "cgroup.controllers")).split()
    missing = [c for c in ("memory", "pids", "cpu") if c not in available]
    if missing:
        raise CgroupUnavailable(f"cgroup v2 without the {', '.join(missing)} controller(s)")
    path = os.path.join(root, name)
    try:
        _write(os.path.join(root, "cgroup.subtree_control"), "+memory +pids +cpu")
        os.makedirs(path, exist_ok=True)
        _write(os.path.join(path, "cgroup.subtree_control"), "+memory +pids +cpu")
    except OSError as exc:
        CgroupTree(2, {"unified": path}).close()
        raise CgroupUnavailable(f"cannot create control groups: {exc.strerror or exc}") from None
    return CgroupTree(2, {"unified": path})
