"""The judge: verdicts computed beside the kernels, in a child of the warm parent.

Judging calls the course's reference solutions and property checks, which import torch. A
grader process that judged itself would import torch too, ~1.3 s of CPU on every command,
while the warm parent beside it already has torch in memory. So where there is a warm parent,
the grader asks it for a *judge*: a child forked from it that never runs notebook code. The
grader sends it each rubric once (the rubric object and copies of the course files its
verdicts depend on) and then, per notebook, the plain data the kernel sent back; the judge
plans exactly as the grader did (a plan is a function of the rubric and the submission's
salt: the same inputs and the same fetch keys), judges with `judging.evaluate`, and answers
with the verdicts. Everything else (planning the kernel's request, running the notebook,
scoring, reports) stays in the grader, which never imports torch.

Trust. The judge is as trusted as the grader: it is forked from the warm parent, which holds
no secret and runs no student code, and it runs none either; kernels are forked from the warm
parent, never from the judge, so neither a reference solution nor an expected value is ever
in a kernel's memory. The course copies and the judge's socket are in a folder of the scratch
root (mode 0700) that no kernel's view contains: each kernel sees its own folder only (the
hostile probe in tests/kernel/test_sandbox.py checks what a kernel can see there).

Failure. If the judge cannot be started, dies, or does not answer in time, the grader judges
that notebook itself (`Grader._judge`): a slower command, never a lost verdict.

Protocol: JSON lines over a Unix socket the grader listens on and the judge connects to.
{"op": "rubric", "key", "rubric": base64 pickle} -> {"ok": true};
{"op": "evaluate", "key", "salt", "fetched", "unavailable", "time_limit"} -> {"checks": [...]};
any failure -> {"error": one line}. (Pickle crosses only between the grader and its own
judge, both trusted; what came from a kernel crosses as the plain data it already is.)
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import socket
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .results import CheckResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from .planning import Plan
    from .rubric import Rubric

SOCKET_NAME = "judge.sock"
CONNECT_TIMEOUT = 30.0  # seconds for a new judge to connect (a fork: milliseconds, unless the machine is swamped)
_TICK = 0.05  # how soon a judge still awaited notices that the grader closed


class JudgeUnavailable(Exception):
    """The judge could not answer; the grader judges this notebook itself."""


# ----------------------------------------------------------------------------- judge side
def serve(socket_path: str) -> None:
    """The judge's loop (in the warm parent's child): answer requests until the grader hangs up."""
    from . import book
    from .judging import evaluate
    from .planning import plan, salted

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    stream = conn.makefile("rwb")
    rubrics: dict[str, tuple[Rubric, Plan]] = {}
    for line in stream:
        try:
            request = json.loads(line)
            if request.get("op") == "rubric":
                rubric = pickle.loads(base64.b64decode(request["rubric"]))
                rubrics[str(request["key"])] = (rubric, plan(rubric))
                try:  # now, while the notebook still runs; a failure is evaluate's to report
                    rubric.load_reference()
                    rubric.load_checks()
                    if book.compiler_wanted_by(rubric):  # forked before any preload: ~1.2 CPU-s
                        book.warm_up_compiler()
                    if book.meta_wanted_by(rubric):  # structure checks: ~0.9 CPU-s
                        book.warm_up_meta()
                except Exception:
                    pass
                reply: dict[str, Any] = {"ok": True}
            elif request.get("op") == "evaluate":
                rubric, base = rubrics[str(request["key"])]
                salt = str(request.get("salt") or "")
                the_plan = plan(rubric, salt, base) if salt and salted(rubric) else base
                checks = evaluate(
                    the_plan, request.get("fetched"), request.get("unavailable"), request.get("time_limit")
                )
                reply = {"checks": [c.to_dict() for c in checks]}
            else:
                reply = {"error": f"unknown request {request.get('op')!r}"}
        except Exception as exc:  # a bug of ours: one line, and the grader judges this one itself
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        stream.write((json.dumps(reply) + "\n").encode())
        stream.flush()


# ----------------------------------------------------------------------------- grader side
class RemoteJudge:
    """The grader's handle on its judge (thread-safe; requests are answered one at a time).

    `spawn(socket_path)` asks the warm parent to fork a judge that connects to that socket.
    The judge is started on first use and again after a failure."""

    def __init__(self, folder: str, spawn: Callable[[str], None]) -> None:
        self.folder = folder
        self._spawn = spawn
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._stream: Any = None
        self._sent: dict[int, tuple[Rubric, str]] = {}  # id(rubric) -> (rubric, key): sent to this judge
        self._copies = 0
        self._closed = False

    def prepare(self, rubric: Rubric | None = None) -> None:
        """Start the judge now and send it `rubric` (while the warm parent starts, or a notebook
        runs), so that judging finds both done; a failure here is only retried by `evaluate`."""
        with self._lock:
            try:
                if self._conn is None:
                    self._connect()
                if rubric is not None:
                    self._send_rubric(rubric)
            except Exception:
                self._drop()

    def evaluate(
        self,
        rubric: Rubric,
        salt: str,
        fetched: dict[str, dict[str, Any]] | None,
        unavailable: str | None,
        time_limit: float | None,
    ) -> list[CheckResult]:
        """The verdicts on one notebook, as `judging.evaluate` gives them; JudgeUnavailable if
        the judge could not give them (it is then stopped, and started again next time)."""
        with self._lock:
            try:
                if self._conn is None:
                    self._connect()
                key = self._send_rubric(rubric)
                budget = (time_limit or 60.0) * (len(rubric.checks) + 1) + 30.0
                reply = self._ask(
                    {
                        "op": "evaluate",
                        "key": key,
                        "salt": salt,
                        "fetched": fetched,
                        "unavailable": unavailable,
                        "time_limit": time_limit,
                    },
                    budget,
                )
                checks = [CheckResult(**c) for c in reply["checks"]]
            except JudgeUnavailable:
                self._drop()
                raise
            except Exception as exc:  # the socket, a reply, a rubric that will not pickle: judged here
                self._drop()
                raise JudgeUnavailable(f"{type(exc).__name__}: {exc}") from None
            if [c.id for c in checks] != [c.id for c in rubric.checks]:
                self._drop()
                raise JudgeUnavailable("the judge answered for other checks")
            return checks

    def close(self) -> None:
        """Hang up (the judge then ends); a judge still awaited is awaited no longer."""
        self._closed = True  # a pending accept notices within a tick (`_accept`)
        with self._lock:
            self._drop()

    def _connect(self) -> None:
        if self._closed:
            raise JudgeUnavailable("closed")
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        path = os.path.join(self.folder, SOCKET_NAME)
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(1)
            try:
                self._spawn(path)  # returns once the warm parent has forked the judge
            except Exception as exc:  # the warm parent is gone or would not answer
                raise JudgeUnavailable(f"no judge: {exc}") from None
            conn = self._accept(listener)
        finally:
            listener.close()
            if os.path.exists(path):
                os.unlink(path)
        self._conn = conn
        self._stream = conn.makefile("rwb")
        self._sent.clear()

    def _accept(self, listener: socket.socket) -> socket.socket:
        """The judge's connection, within CONNECT_TIMEOUT; given up at once when closed."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        listener.settimeout(_TICK)
        while not self._closed and time.monotonic() < deadline:
            try:
                return listener.accept()[0]
            except TimeoutError:
                continue
        raise JudgeUnavailable("closed" if self._closed else "the judge did not start")

    def _send_rubric(self, rubric: Rubric) -> str:
        sent = self._sent.get(id(rubric))
        if sent is not None and sent[0] is rubric:
            return sent[1]
        self._copies += 1
        key = f"r{self._copies}"
        copy = self._copy_course_files(rubric, os.path.join(self.folder, key))
        payload = base64.b64encode(pickle.dumps(copy)).decode("ascii")
        self._ask({"op": "rubric", "key": key, "rubric": payload}, 120.0)
        self._sent[id(rubric)] = (rubric, key)  # holding the rubric keeps its id from being reused
        return key

    @staticmethod
    def _copy_course_files(rubric: Rubric, root: str) -> Rubric:
        """The rubric as the judge sees it: the course files its verdicts depend on, copied
        into `root` (the course itself is not in the warm parent's view)."""
        course_root = os.path.abspath(rubric.course_root)
        for path in rubric.module_paths():
            relative = os.path.relpath(os.path.abspath(path), course_root)
            if relative.startswith(os.pardir):
                raise JudgeUnavailable(f"{path} is outside the course folder")
            target = os.path.join(root, relative)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            shutil.copyfile(path, target)
        return replace(rubric, course_root=root, path=os.path.join(root, os.path.relpath(rubric.path, course_root)))

    def _ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self._conn is not None
        self._conn.settimeout(timeout)
        try:
            self._stream.write((json.dumps(request) + "\n").encode())
            self._stream.flush()
            line = self._stream.readline()
        except TimeoutError:
            raise JudgeUnavailable(f"the judge did not answer in {timeout:g} s") from None
        if not line:
            raise JudgeUnavailable("the judge is gone")
        reply = json.loads(line)
        if "error" in reply:
            raise JudgeUnavailable(str(reply["error"]))
        return dict(reply)

    def _drop(self) -> None:
        for closing in (self._stream, self._conn):
            try:
                if closing is not None:
                    closing.close()
            except OSError:
                pass
        self._conn = self._stream = None
        self._sent.clear()
