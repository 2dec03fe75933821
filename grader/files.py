"""Writing output files whole or not at all.

Every file the grader writes (reports, per-student results, the gradebook, plots) is read
by something else — a grading platform, an LMS import, a resumed batch — possibly while we
are still running. So each is written beside its destination and renamed over it: a
reader sees the old file or the new one, never half of one. Files are made readable by
others (0644): they are reports, meant to be read.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_atomic(path: str, data: str | bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
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
