"""Resource limits for one notebook run, with the parsing the CLI flags need."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_UNITS = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,  # what format_size writes, so a size in a message can be passed back as a flag
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """'512MiB' -> 536870912; raises ValueError with a readable reason."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a size (examples: 512MiB, 4GiB, 100MB)")
    # Exact arithmetic: as floats, '1.001KB' would be 1000 bytes and a long number infinity.
    value = int(Fraction(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= 0:
        raise ValueError(f"{text!r} must be larger than zero")
    if value >= 2**63:  # resource limits are 64-bit
        raise ValueError(f"{text!r} is too large")
    return value


def format_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits. Defaults suit a real class; tests pass small ones."""

    cell_timeout: float = 60.0  # seconds for one cell
    timeout: float = 600.0  # seconds for the whole notebook
    harness_timeout: float = 120.0  # seconds for all checks' calls together
    call_timeout: int = 20  # seconds (CPU) for one call of a student function by a check
    judge_timeout: float = 30.0  # seconds the grader may spend judging one check
    memory: int = 4 * 1024**3  # bytes the kernel may allocate
    output: int = 1024**2  # bytes of output kept per cell
    total_output: int = 4 * 1024**2  # bytes of output kept per notebook
    file_size: int = 256 * 1024**2  # largest file the kernel may write
    processes: int = 64  # processes/threads the kernel may have

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "timeout", "harness_timeout", "call_timeout", "judge_timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):  # NaN and infinity are no time limit
                raise ValueError(f"{name.replace('_', ' ')} must be a positive, finite number of seconds")
        for name in ("memory", "output", "total_output", "file_size", "processes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', ' ')} must be positive")
