"""A system-call filter for kernels: no new namespaces, no mounts, no kernel keyrings.

Namespaces and a separate uid already take almost everything from a kernel; what is left
is the kernel of the operating system itself as attack surface. A notebook has no business
creating user namespaces (the usual first step of a privilege escalation, and unprivileged
ones are allowed on most Linux machines), mounting, entering other namespaces, using
keyrings, eBPF, perf events or userfaultfd. The filter refuses those with EPERM (and
`clone3` with ENOSYS, so the C library falls back to `clone`, whose flags the filter can
read); every other call is allowed.

It is built with libseccomp (the library behind Docker's and systemd's filters, present on
every Debian/Ubuntu machine as libseccomp2) through ctypes: its Python bindings are not on
PyPI, and this is the whole of what we need. Without libseccomp the filter is reported as
missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
REFUSED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO(code)


def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def install() -> str | None:
    """Install the filter in this process (and everything it starts); None, or why not."""
    lib = _library()
    if lib is None:
        return "libseccomp is not installed (Debian/Ubuntu: libseccomp2)"
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return "seccomp_init failed"
    try:
        for name in REFUSED:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number >= 0 and lib.seccomp_rule_add_array(ctx, _errno(errno.EPERM), number, 0, None) != 0:
                return f"cannot filter {name}"
        clone3 = lib.seccomp_syscall_resolve_name(b"clone3")
        if clone3 >= 0:
            lib.seccomp_rule_add_array(ctx, _errno(errno.ENOSYS), clone3, 0, None)
        clone = lib.seccomp_syscall_resolve_name(b"clone")
        for flag in NAMESPACE_FLAGS:  # clone(flags, ...) with any namespace flag set
            cmp = (_ArgCmp * 1)(_ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
            if lib.seccomp_rule_add_array(ctx, _errno(errno.EPERM), clone, 1, cmp) != 0:
                return "cannot filter clone's namespace flags"
        if lib.seccomp_load(ctx) != 0:
            return "seccomp_load failed"
    finally:
        lib.seccomp_release(ctx)
    return None
