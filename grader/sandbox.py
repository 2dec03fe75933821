"""Confinement applied inside each freshly forked kernel, before any student code runs.

Order matters: namespaces and mounts need privileges, so they come first; then the
kernel drops to an unprivileged user (when we are root) so the process limit counts and
files outside its scratch directory are read-only; resource limits come last because
they must not stop the set-up itself. Every protection that could not be had is
reported, never silently assumed: the report lands in the result's `sandbox` field.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_REMOUNT = 32
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class SandboxConfig:
    """What one kernel child should get; built by the grader, applied in the child."""

    scratch: str
    hide: list[str] = field(default_factory=list)  # directories to cover with an empty tmpfs
    uid: int | None = None  # unprivileged uid to run as, when we are root
    memory_bytes: int = 4 << 30
    file_bytes: int = 256 << 20
    processes: int = 64
    open_files: int = 1024
    isolate_network: bool = True


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(rc, f"mount {target}")


_SERVER_NETWORK_ISOLATED = False


def isolate_server_network() -> bool:
    """Called once by the fork server (as root): move it into an empty network namespace.

    Its kernels inherit it, so none can reach any network, and none pays for creating
    and tearing down a namespace of its own (~3% of a batch). The server itself needs no
    network: it talks to the grader over pipes, and kernels use Unix sockets.
    """
    global _SERVER_NETWORK_ISOLATED
    if os.geteuid() != 0:
        return False
    try:
        _unshare(CLONE_NEWNET)
    except OSError:
        return False
    _SERVER_NETWORK_ISOLATED = True
    return True


def become_subreaper() -> None:
    """Orphans of our kernels are re-parented to us (and reaped), not to PID 1."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _enter_namespaces(cfg: SandboxConfig, report: dict) -> bool:
    """Create mount (+ network) namespaces; return True when mounts are possible."""
    net = CLONE_NEWNET if cfg.isolate_network and not _SERVER_NETWORK_ISOLATED else 0
    if os.geteuid() == 0:
        try:
            _unshare(CLONE_NEWNS | net)
        except OSError as exc:
            report["notes"].append(f"namespaces unavailable: {exc.strerror}")
            return False
    else:
        uid, gid = os.getuid(), os.getgid()
        try:
            _unshare(CLONE_NEWUSER | CLONE_NEWNS | net)
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError as exc:
            report["notes"].append(f"user namespaces unavailable: {exc.strerror}")
            return False
    report["network_isolated"] = bool(net) or (cfg.isolate_network and _SERVER_NETWORK_ISOLATED)
    return True


def _hide_paths(cfg: SandboxConfig, report: dict) -> None:
    """Cover grader, course and home directories with empty tmpfs, keeping what the
    kernel needs (the Python installation and its own scratch directory) reachable."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = {os.path.realpath(p) for p in [*_python_paths(), cfg.scratch]}
    hide: list[str] = []
    for path in sorted({os.path.realpath(p) for p in cfg.hide if os.path.isdir(p)}, key=len):
        if not any(path.startswith(h + os.sep) for h in hide):  # already covered by a parent
            hide.append(path)
    # Open what must stay reachable before anything is covered up.
    kept_fds = {}
    for path in keep:
        if any(path == h or path.startswith(h + os.sep) for h in hide):
            kept_fds[path] = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    for path in hide:
        if any(path.startswith(k + os.sep) for k in keep):
            continue  # never hide something inside what the kernel needs
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    old_umask = os.umask(0o022)  # the path down to what we keep must be searchable
    for path, fd in sorted(kept_fds.items(), key=lambda kv: len(kv[0])):
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    os.umask(old_umask)
    for path in hide:
        if os.path.isdir(path):
            try:  # read-only from here on: nothing may be planted for the next kernel
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            except OSError:
                pass
    report["filesystem_hidden"] = True


def _python_paths() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
    return [p for p in paths if os.path.isdir(p)]


def _drop_privileges(cfg: SandboxConfig, report: dict) -> None:
    if os.geteuid() != 0 or cfg.uid is None:
        return
    os.chown(cfg.scratch, cfg.uid, cfg.uid)
    for root, dirs, files in os.walk(cfg.scratch):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), cfg.uid, cfg.uid)
    os.setgroups([])
    os.setresgid(cfg.uid, cfg.uid, cfg.uid)
    os.setresuid(cfg.uid, cfg.uid, cfg.uid)
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # changing user cleared it
    report["separate_user"] = True


def _set_limits(cfg: SandboxConfig, report: dict) -> None:
    # The kernel inherits torch's address space from the warm parent, so the memory
    # cap is what the student may allocate on top of that baseline.
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
    report["process_limit_enforced"] = os.geteuid() != 0


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


def _is_hidden(path: str, cfg: SandboxConfig) -> bool:
    """True for a path the kernel must not import from (grader, course, home)."""
    real = os.path.realpath(path)
    keep = [os.path.realpath(p) for p in _python_paths()]
    if any(real == k or real.startswith(k + os.sep) for k in keep):
        return False
    return any(real == h or real.startswith(os.path.realpath(h) + os.sep) for h in cfg.hide)


def scrubbed_environment(scratch: str) -> dict[str, str]:
    """The whole environment a kernel sees: nothing inherited from the grader."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(scratch, ".matplotlib"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def apply(cfg: SandboxConfig) -> dict:
    """Confine the current (freshly forked, single-threaded) process; return the report."""
    report: dict = {
        "network_isolated": False,
        "filesystem_hidden": False,
        "separate_user": False,
        "notes": [],
    }
    try:
        _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the fork server
    except Exception:
        pass
    if _enter_namespaces(cfg, report):
        try:
            _hide_paths(cfg, report)
        except OSError as exc:
            report["notes"].append(f"could not hide grader files: {exc.strerror}")
    _drop_privileges(cfg, report)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _set_limits(cfg, report)
    os.environ.clear()
    os.environ.update(scrubbed_environment(cfg.scratch))
    sys.path[:] = [p for p in sys.path if p and not _is_hidden(p, cfg)]
    os.chdir(cfg.scratch)
    if "" not in sys.path:
        sys.path.insert(0, "")
    return report
