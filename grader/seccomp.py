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
PyPI, and this is the whole of what we need. The warm parent compiles it once (`prepare`);
each kernel only hands the compiled program to the kernel of the operating system. Without
libseccomp the filter is reported as missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

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
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_COMPILED: list[bytes | str] = []  # the filter compiled in the warm parent (`prepare`), or why not


def compile_filter() -> bytes | str:
    """The filter as a BPF program (libseccomp builds and compiles it), or why it cannot be."""
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
        fd = os.memfd_create("d2l-grader-seccomp")
        try:
            if lib.seccomp_export_bpf(ctx, fd) != 0:
                return "seccomp_export_bpf failed"
            os.lseek(fd, 0, os.SEEK_SET)
            program = b"".join(iter(lambda: os.read(fd, 65536), b""))
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
    if not program or len(program) % 8:
        return "libseccomp produced no filter"
    return program


def prepare() -> None:
    """In the warm parent: compile the filter once (~3.5 ms of CPU that every kernel spent
    building and compiling it with libseccomp); kernels forked afterwards only load it."""
    if not _COMPILED:
        _COMPILED.append(compile_filter())


def install() -> str | None:
    """Install the filter in this process (and everything it starts); None, or why not. The
    process must have set no_new_privs (as `sandbox.confine` does) or be privileged."""
    program = _COMPILED[0] if _COMPILED else compile_filter()
    if isinstance(program, str):
        return program
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(code, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return f"the filter could not be loaded ({os.strerror(ctypes.get_errno())})"
    return None
