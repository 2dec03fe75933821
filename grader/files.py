"""Writing output files whole or not at all.

Every file the grader writes (reports, per-student results, the gradebook, plots) is read
by something else — a grading platform, an LMS import, a resumed batch — possibly while we
are still running. So each is written beside its destination and renamed over it: a
reader sees the old file or the new one, never half of one.

A file's mode is what `open()` would have given it (`0666 & ~umask`: 0644 under the usual
umask 022, 0640 under 027 for a course that keeps grades within the instructor's group),
except that it is never writable by everyone, whatever the umask: grades another account
could rewrite are not grades. `mkstemp` alone would make every file 0600, which a colleague
or the web server meant to read them cannot.

The umask is read from `/proc/self/status` on each write. The only portable way to read it,
`os.umask()`, sets it too, so reading it that way while another thread creates a file (the
review page's server threads, matplotlib's import in a batch) could give that file a wrong
mode; `/proc` reads it without changing it. Where `/proc` does not say (not Linux, or a kernel
before 4.7), the umask is read once, with `os.umask`, when this module is imported — before
the grader starts any thread.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

WORLD_WRITABLE = 0o002


def _umask_from_proc() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_from_proc = _umask_from_proc()
_IMPORT_UMASK: int = _umask_at_import() if _from_proc is None else _from_proc


def current_umask() -> int:
    """The process's umask, read without setting it (see the module's docstring)."""
    mask = _umask_from_proc()
    return _IMPORT_UMASK if mask is None else mask


def output_mode() -> int:
    """The mode of a new output file: `0666 & ~umask`, never world-writable."""
    return 0o666 & ~current_umask() & ~WORLD_WRITABLE


def write_atomic(path: str, data: str | bytes, mode: int | None = None) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename.

    `mode` defaults to `output_mode()`; a given one loses its world-write bit all the same."""
    mode = output_mode() if mode is None else mode & ~WORLD_WRITABLE
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o777 & ~WORLD_WRITABLE, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".grader-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json_file(path: str, error: type[Exception], what: str) -> Any | None:
    """The JSON a batch folder keeps beside its results (marks, a late policy): None when the
    file does not exist; `error` with a one-line reason when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"{path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not {what} ({exc})") from None
