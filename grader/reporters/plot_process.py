"""The class summary's plots, drawn by a process of their own at the lowest CPU priority.

`grader grade` ends with two plots (`summary.py`). Drawing them takes matplotlib, and
importing matplotlib costs ~0.6 s of CPU, drawing ~0.3 s: about a second per command, on a
machine whose cores the kernels keep busy (at 160 notebooks, 6 ms of every notebook's ~100).
Imported in the grader itself (as it was, in a thread), that second competed with grading
for a core and for the grader's GIL. Here a separate Python process, started with the
command, lowers itself to nice 19 at once and imports matplotlib: it runs when a core would
otherwise idle (a kernel waiting for the grader, the start-up before the first notebook),
and when the batch ends it only draws.

Nothing here runs notebook code or reads a notebook: the request is the plots' plain data
(scores, check ids and pass rates, the rubric's title) as one JSON line, the reply the PNG
files' bytes (base64) as one JSON line. Anything that goes wrong (no process, a crash, a reply
that is not the two files) makes `render` raise `PlotsUnavailable`, and the caller draws the
plots itself: slower, never missing.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from typing import Any

TIMEOUT = 120.0  # seconds for the reply, the import included (a swamped machine, nice 19)


class PlotsUnavailable(Exception):
    """The plot process could not draw the plots; draw them here."""


class PlotProcess:
    """The grader's handle on one plot process (one request, then it ends)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError:
            self._process = None

    def render(self, data: dict[str, Any]) -> dict[str, bytes]:
        """The PNG files (name -> bytes) of `summary.plot_data`'s `data`."""
        process, self._process = self._process, None
        if process is None:
            raise PlotsUnavailable("no plot process")
        try:
            out, _ = process.communicate(json.dumps(data).encode() + b"\n", timeout=TIMEOUT)
            reply = json.loads(out)
            pngs = {str(name): base64.b64decode(text, validate=True) for name, text in reply["png"].items()}
        except Exception as exc:  # a timeout, a crash, a reply that is not ours
            process.kill()
            process.wait()
            raise PlotsUnavailable(f"{type(exc).__name__}: {exc}") from None
        if set(pngs) != set(data.get("files", ())) or not all(
            p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs.values()
        ):
            raise PlotsUnavailable("the plot process answered with other files")
        return pngs

    def close(self) -> None:
        """End the process if it was never asked (a batch that failed before its summary)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()


def _main() -> None:
    os.nice(19)  # before anything costly: only a core nobody else wants
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's, which ends us (or draws itself)
    from . import summary

    summary.warm_up()
    line = sys.stdin.buffer.readline()
    if not line:
        return
    pngs = _render_two_at_once(json.loads(line))
    reply = {"png": {name: base64.b64encode(png).decode() for name, png in pngs.items()}}
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()


def _render_two_at_once(data: dict[str, Any]) -> dict[str, bytes]:
    """Both plots, the second drawn by a forked child meanwhile: when the batch ends, both
    cores are free, and each plot takes ~0.1 s to draw. Whatever the child fails to give, we
    draw ourselves."""
    from . import summary

    first, second = summary.PLOT_FILES
    read_end, write_end = os.pipe()
    try:
        child = os.fork()
    except OSError:
        return summary.render_plots(data)
    if child == 0:
        code = 1
        try:
            os.close(read_end)
            png = summary.render_plots(data, only=(second,))[second]
            with os.fdopen(write_end, "wb") as out:
                out.write(png)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    pngs = summary.render_plots(data, only=(first,))
    with os.fdopen(read_end, "rb") as given:
        png = given.read()
    _, status = os.waitpid(child, 0)
    if status != 0 or not png.startswith(b"\x89PNG"):
        png = summary.render_plots(data, only=(second,))[second]
    pngs[second] = png
    return pngs


if __name__ == "__main__":
    _main()
