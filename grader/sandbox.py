"""Confinement applied inside each freshly forked kernel, before any student code runs.

The warm parent already lives in an allowlisted view of the machine (see `warm_parent`:
the Python installation and system libraries read-only, the kernels' scratch root, nothing
else of the host). Each kernel then gets namespaces of its own, in two steps, because a
process cannot enter a new PID namespace itself — only its children are born into it:

1. `isolate()`, in the forked child ("the keeper"): join the kernel's control groups, then
   unshare mount, PID, IPC, UTS and network namespaces (and, without root, a user
   namespace first). The keeper then forks the kernel, waits for it and forwards signals.
2. `confine()`, in the kernel: PID 1 of its own tree (when it ends, the kernel of the
   operating system kills everything it started), its own /proc, a private /tmp and
   /dev/shm (size-capped tmpfs, charged to its memory limit), only its own scratch folder,
   no engine files; then it becomes an unprivileged uid of its own (as root), sets
   no_new_privs and resource limits, and gets a fresh environment.

Every protection that could not be had is reported, never silently assumed: the report
lands in the result's `sandbox` field. Without the privileges for namespaces (no root, no
user namespaces) the kernel still runs, with rlimits only, and says so.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

try:
    import resource
except ImportError:  # Windows: only the portable backend runs there, and it needs none of this module's calls
    resource = None  # type: ignore[assignment]

from . import seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 4096
MS_REC = 16384
MS_REMOUNT = 32
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_libc: Any = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None  # Linux calls only

# What a report holds about each protection (True: active), and the words for a missing one.
PROTECTIONS = {
    "filesystem_allowlist": "no allowlisted file system: kernels see the machine's files (less, with a mount "
    "namespace, the grader's, the course's and the submissions' folders)",
    "filesystem_hidden": "no private file system (no mount namespace): notebooks can read the grader's, the course's "
    "and other students' files",
    "network_isolated": "network isolation is unavailable here (no network namespace): notebooks can reach the network",
    "process_isolation": "no PID namespace: notebooks can see and signal the machine's processes",
    "ipc_isolated": "no IPC namespace: notebooks share System V IPC and /dev/shm with the machine",
    "separate_user": "kernels run as your own user (not root, so no separate unprivileged user)",
    "syscall_filter": "no system-call filter: notebooks may create user namespaces, mount, use keyrings and eBPF",
    "resource_groups": "no control groups (not root, or none here): memory, processes and CPU are limited per "
    "process only, tmpfs not at all",
    "cpu_time_budget": "cell time limits count wall-clock time here, so they depend on how loaded the machine is",
}


@dataclass
class SandboxConfig:
    """What one kernel should get; built by the grader from its SandboxPolicy, applied in the child."""

    scratch: str
    scratch_root: str = ""  # the folder of every kernel's scratch: only `scratch` stays visible
    datasets: str = ""  # the stand-in data sets (grader.datasets), the book's `../data`: visible, read-only
    engine_dirs: list[str] = field(default_factory=list)  # the grader's own code, visible to the warm parent only
    hide: list[str] = field(default_factory=list)  # without an allowlisted view: folders to cover up
    uid: int | None = None  # unprivileged uid to run as, when we are root
    cgroup_procs: list[str] = field(default_factory=list)  # cgroup.procs files to join
    memory_bytes: int = 4 << 30
    file_bytes: int = 256 << 20
    processes: int = 64
    open_files: int = 1024
    tmpfs_bytes: int = 64 << 20
    namespaces: bool = True  # False: the portable set of protections only


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(rc, f"mount {target}")


def _umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def prctl(option: int, value: int) -> None:
    _libc.prctl(option, value, 0, 0, 0)


def die_with_parent() -> None:
    prctl(PR_SET_PDEATHSIG, 9)


def become_subreaper() -> None:
    """Orphans of our kernels are re-parented to us (and reaped), not to PID 1."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def new_report(filesystem_allowlist: bool) -> dict[str, Any]:
    report: dict[str, Any] = {key: False for key in PROTECTIONS}
    report["filesystem_allowlist"] = filesystem_allowlist
    report["notes"] = []
    return report


# ----------------------------------------------------------------------------- step 1: the keeper
def isolate(cfg: SandboxConfig, report: dict[str, Any], pid_namespace_made: bool = False) -> bool:
    """In the keeper: join the control groups, unshare namespaces. True when the next fork
    starts a new PID namespace (so the kernel will be its PID 1).

    `pid_namespace_made`: we are the kernel itself, already PID 1 of a new PID namespace (as
    root, the warm parent forks a kernel straight into one: `forkserver._fork_into_new_pid_namespace`,
    with no keeper); the other namespaces are unshared here, for ourselves, and True means we
    are that PID 1."""
    for procs in cfg.cgroup_procs:
        try:
            with open(procs, "w") as f:
                f.write("0" if pid_namespace_made else str(os.getpid()))  # "0": the writer itself
        except OSError as exc:
            report["notes"].append(f"could not join a control group: {exc.strerror}")
            break
    else:
        report["resource_groups"] = bool(cfg.cgroup_procs)
    if not cfg.namespaces:
        return False
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | (0 if pid_namespace_made else CLONE_NEWPID)
    if os.geteuid() == 0:
        try:
            unshare(flags)
        except OSError as exc:
            report["notes"].append(f"namespaces unavailable: {exc.strerror}")
            return False
    else:
        uid, gid = os.getuid(), os.getgid()
        try:
            unshare(CLONE_NEWUSER | flags)
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError as exc:
            report["notes"].append(f"user namespaces unavailable: {exc.strerror}")
            return False
    report["network_isolated"] = True  # a new network namespace: no interface up, not even loopback
    report["ipc_isolated"] = True
    return True


# ----------------------------------------------------------------------------- step 2: the kernel
def confine(cfg: SandboxConfig, report: dict[str, Any], pid_namespace: bool) -> None:
    """In the kernel (PID 1 of its namespace when `pid_namespace`): mounts, user, limits, environment."""
    if pid_namespace:
        report["process_isolation"] = True
        try:
            _private_mounts(cfg, report)
        except OSError as exc:
            report["notes"].append(f"could not set up the kernel's file system: {exc.strerror or exc}")
            report["filesystem_hidden"] = False
        try:
            socket.sethostname("sandbox")
        except OSError:
            pass
    _drop_privileges(cfg, report)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    _set_limits(cfg, report)
    if cfg.namespaces:
        problem = seccomp.install()
        report["syscall_filter"] = problem is None
        if problem:
            report["notes"].append(f"no system-call filter: {problem}")
    os.environ.clear()
    os.environ.update(scrubbed_environment(cfg.scratch))
    sys.path[:] = [p for p in sys.path if p and not _is_engine(p, cfg)]
    os.chdir(cfg.scratch)
    if "" not in sys.path:
        sys.path.insert(0, "")


def _private_mounts(cfg: SandboxConfig, report: dict[str, Any]) -> None:
    """The kernel's own view: /proc of its PID namespace, private /tmp and /dev/shm, only its
    own scratch folder, no engine files (and, outside an allowlisted view, nothing of `hide`)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    covered = [cfg.scratch_root] if cfg.scratch_root else []
    if not report["filesystem_allowlist"]:
        covered += cfg.hide
    private = [folder for folder in ("/tmp", "/dev/shm") if os.path.isdir(folder)]
    _remount_view(covered, private, cfg.tmpfs_bytes, keep=[cfg.scratch, cfg.datasets, *_python_paths()])
    if cfg.datasets and os.path.isdir(cfg.datasets):  # shared by every kernel: nobody may change it
        _mount(None, cfg.datasets, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for engine in cfg.engine_dirs:
        if os.path.isdir(engine):
            try:
                _umount(engine)  # a bind of the allowlisted view: gone from this namespace
            except OSError:
                _mount("tmpfs", engine, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    report["filesystem_hidden"] = True


def _remount_view(covered: list[str], private: list[str], private_bytes: int, keep: list[str]) -> None:
    """Cover each folder of `covered` with an empty read-only tmpfs and each of `private` with
    an empty writable one of `private_bytes` (a parent covers its children), then bind back
    what the kernel needs that lay below one of them (its scratch folder, Python itself)."""
    targets: list[str] = []
    for path in sorted({os.path.realpath(p) for p in covered + private if p and os.path.isdir(p)}, key=len):
        if not any(path == t or path.startswith(t + os.sep) for t in targets):
            targets.append(path)
    kept = sorted({os.path.realpath(k) for k in keep if os.path.isdir(k)}, key=len)
    below = [k for k in kept if any(k.startswith(t + os.sep) for t in targets)]
    fds = {k: os.open(k, os.O_RDONLY | os.O_DIRECTORY) for k in below}  # reachable once covered
    writable = {os.path.realpath(p) for p in private}
    try:
        for path in targets:
            if any(path == k or path.startswith(k + os.sep) for k in kept):
                continue  # never cover what the kernel needs to run
            if path in writable:
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={private_bytes},mode=1777")
            else:
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        old_umask = os.umask(0o022)  # the path down to what is bound back must be searchable
        try:
            for path, fd in fds.items():
                os.makedirs(path, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        finally:
            os.umask(old_umask)
    finally:
        for fd in fds.values():
            os.close(fd)
    for path in targets:  # read-only from here on: nothing may be planted for the next kernel
        if path not in writable:
            try:
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            except OSError:
                pass


def _python_paths() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
    return [p for p in paths if os.path.isdir(p)]


def _is_engine(path: str, cfg: SandboxConfig) -> bool:
    real = os.path.realpath(path)
    return any(real == os.path.realpath(e) or real.startswith(os.path.realpath(e) + os.sep) for e in cfg.engine_dirs)


def _drop_privileges(cfg: SandboxConfig, report: dict[str, Any]) -> None:
    if os.geteuid() != 0 or cfg.uid is None:
        return
    os.chown(cfg.scratch, cfg.uid, cfg.uid)
    for root, dirs, files in os.walk(cfg.scratch):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), cfg.uid, cfg.uid)
    os.setgroups([])
    os.setresgid(cfg.uid, cfg.uid, cfg.uid)
    os.setresuid(cfg.uid, cfg.uid, cfg.uid)
    die_with_parent()  # changing user cleared it
    report["separate_user"] = True


def _set_limits(cfg: SandboxConfig, report: dict[str, Any]) -> None:
    # The kernel inherits torch's address space from the warm parent, so the address-space
    # cap is what the student may allocate on top of that baseline (a MemoryError the
    # notebook sees); the control group, where there is one, caps the whole tree and tmpfs.
    baseline = _vm_size()
    limits = {
        resource.RLIMIT_AS: baseline + cfg.memory_bytes,
        resource.RLIMIT_FSIZE: cfg.file_bytes,
        resource.RLIMIT_NOFILE: cfg.open_files,
        resource.RLIMIT_CORE: 0,
    }
    nproc = cfg.processes
    if os.geteuid() != 0 and not report.get("separate_user"):
        nproc += _count_own_processes()  # the limit counts every process of this user
    limits[resource.RLIMIT_NPROC] = nproc
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    report["memory_limit_bytes"] = cfg.memory_bytes
    report["file_size_limit_bytes"] = cfg.file_bytes
    report["process_limit"] = cfg.processes
    report["tmpfs_limit_bytes"] = cfg.tmpfs_bytes if report.get("process_isolation") else None


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def scrubbed_environment(scratch: str) -> dict[str, str]:
    """The whole environment a kernel sees: nothing inherited from the grader."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(scratch, ".matplotlib"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
