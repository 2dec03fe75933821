"""One confinement policy for every path that runs student code.

`grader check`, the batch pool, Dask workers and the portable backend all build their
kernels from a `SandboxPolicy`: the same object (it pickles, so a Dask worker receives the
driver's own), the same limits, the same protections. Where a protection cannot be had on
a machine, the kernel's report says so; nothing is silently weaker on one path than on
another.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from .limits import Limits

BACKENDS = ("auto", "forkserver", "portable")


@dataclass(frozen=True)
class SandboxPolicy:
    """How every kernel is confined (resource numbers come from the run's Limits)."""

    backend: str = "auto"  # "forkserver" (warm parent, namespaces), "portable" (plain ipykernel), "auto"
    memory_bytes: int = 4 * 1024**3  # the whole kernel: its processes, and its /tmp and /dev/shm
    file_bytes: int = 256 * 1024**2  # largest file the kernel may write
    processes: int = 64  # processes and threads of the kernel's tree
    open_files: int = 1024
    tmpfs_bytes: int = 64 * 1024**2  # private /tmp and /dev/shm, each (within memory_bytes)
    cpus: float = 1.0  # CPU cores one kernel may use at once (a neighbour keeps the rest)
    cpu_time: bool = True  # a cell's time limit counts CPU seconds of the kernel's tree
    use_bwrap: bool = True  # run the warm parent in an allowlisted root when bubblewrap exists
    readable: tuple[str, ...] = ()  # extra host folders kernels may read (e.g. shared data sets)
    # the machine's NVIDIA GPUs, where it has some: their device nodes in the kernels' /dev, so that
    # probes that train or run a network use CUDA (ProbeContext.device); off, kernels see no GPU
    gpu: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")

    @classmethod
    def from_limits(cls, limits: Limits, backend: str = "auto", **options: object) -> SandboxPolicy:
        return cls(
            backend=backend,
            memory_bytes=limits.memory,
            file_bytes=limits.file_size,
            processes=limits.processes,
            **options,  # type: ignore[arg-type]
        )

    def chosen_backend(self) -> str:
        """'auto' resolved for this machine: the fork server on Linux, the portable backend elsewhere."""
        if self.backend != "auto":
            return self.backend
        return "forkserver" if sys.platform.startswith("linux") else "portable"

    def with_backend(self, backend: str) -> SandboxPolicy:
        return replace(self, backend=backend)
