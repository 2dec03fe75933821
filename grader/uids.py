"""User ids for kernels: never a real user's, never another grader's kernel's.

When the grader runs as root, each kernel runs as an unprivileged uid of its own, so the
kernel can touch no file of anyone, and everything it starts can be told apart. The uid
must not belong to a real account (passwd) nor to a range handed to user namespaces
(/etc/subuid, /etc/subgid), and two graders on the same machine must never give the same
uid to two live kernels. Each uid is therefore *leased* by holding an exclusive lock on a
file named after it: a lease ends when the kernel is done, or when the grader dies (the
operating system drops its locks), so no stale lease survives a crash.
"""

from __future__ import annotations

import fcntl
import os
import pwd
from dataclasses import dataclass

LOCK_DIR = "/run/d2l-grader/uids"
RANGE_START = 1_900_000_000  # far above distributions' user and subordinate-id ranges
RANGE_SIZE = 65_536


class NoFreeUid(RuntimeError):
    pass


@dataclass
class Lease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the lock
            self.fd = -1


SUBORDINATE_FILES = ("/etc/subuid", "/etc/subgid")


def reserved_ranges(subordinate_files: tuple[str, ...] = SUBORDINATE_FILES) -> list[tuple[int, int]]:
    """[start, end) ranges that belong to someone: passwd entries and subordinate ids."""
    ranges = [(entry.pw_uid, entry.pw_uid + 1) for entry in pwd.getpwall()]
    for path in subordinate_files:
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        ranges.append((int(parts[1]), int(parts[1]) + int(parts[2])))
        except OSError:
            continue
    return ranges


def free_range(
    start: int = RANGE_START, size: int = RANGE_SIZE, reserved: list[tuple[int, int]] | None = None
) -> tuple[int, int]:
    """The first [start, start + size) at or above `start` that overlaps nothing reserved."""
    reserved = sorted(reserved_ranges() if reserved is None else reserved)
    moved = True
    while moved:
        moved = False
        for low, high in reserved:
            if low < start + size and start < high:
                start, moved = high, True
    if start + size > 2**32 - 2:
        raise NoFreeUid("no free range of user ids")
    return start, start + size


class UidPool:
    """Leases uids from a range no account uses, exclusively across processes."""

    def __init__(self, lock_dir: str = LOCK_DIR, start: int = RANGE_START, size: int = RANGE_SIZE) -> None:
        self.lock_dir = lock_dir
        self.start, self.end = free_range(start, size)
        os.makedirs(lock_dir, mode=0o700, exist_ok=True)
        self._next = self.start + (os.getpid() * 64) % size  # graders start at different places

    def lease(self) -> Lease:
        for _ in range(self.end - self.start):
            uid = self._next
            self._next = self.start if self._next + 1 >= self.end else self._next + 1
            fd = os.open(os.path.join(self.lock_dir, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Lease(uid, fd)
        raise NoFreeUid(f"every uid in [{self.start}, {self.end}) is leased")
