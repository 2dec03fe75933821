"""The kernel side of a graded notebook without Jupyter's wire protocol: IPython's own shell,
driven over one Unix socket.

A graded kernel runs one notebook for one client and is killed afterwards. ipykernel serves
many clients at once: it opens five ZeroMQ sockets, starts threads for IOPub and control,
signs every message with HMAC and dates it, and greets each subscriber — about a third of
a kernel's CPU before the student's first cell, and the same again on the grader's side to
read it (`bench/breakdown.py`). This kernel keeps what gives a cell its meaning, IPython's
`InteractiveShell` (the same input transformations, magics, display formatters, tracebacks,
`get_ipython()`, top-level `await`), and replaces only the transport: requests and
Jupyter-shaped messages (stream, display_data, execute_result, error, clear_output, the
reply) as length-prefixed JSON frames on one socket. The grader turns the frames back into
Jupyter messages and nbclient drives the cells as it drives any kernel (`grader.pipe_client`),
so outputs, errors, interrupts and timeouts mean what they meant.

The socket is the grader's: it listens in the kernel's scratch folder and accepts one
connection (this one) before it sends anything. Nothing sent here is trusted: a notebook
owns this process and can write to the socket too, exactly as it could reach ipykernel's
session key. The harness's two channels (a display message and the reply's user expression,
`grader.execute.read_harness_output`) and the grader's checks of plain data stay the
defence.

Interrupts are SIGINT, as for ipykernel: a KeyboardInterrupt in the running cell. Frames are
written with SIGINT blocked, so an interrupt can never cut one in half; it is delivered as
soon as the frame is out.
"""

from __future__ import annotations

import builtins
import getpass
import io
import json
import re
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

MAX_REQUEST_BYTES = 64 * 1024**2  # a request is a cell's source or the harness: far less
STREAM_CHUNK = 8192  # characters buffered before a stream message is sent
STREAM_DELAY = 0.05  # seconds a buffered write waits at most (checked at the next write)
STREAM_MESSAGE = 1 << 20  # characters per stream message at most: one huge print is several messages
_HEADER = struct.Struct(">I")


class Channel:
    """Frames to and from the grader over the connected socket (thread-safe writes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self.streams: list[Stream] = []

    def send(self, kind: str, content: dict[str, Any], request_id: str | None = None) -> None:
        frame = {"t": kind, "c": content} if request_id is None else {"t": kind, "c": content, "id": request_id}
        data = json.dumps(frame, default=repr).encode("utf-8", "surrogateescape")
        with self._lock:
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self.sock.sendall(_HEADER.pack(len(data)) + data)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def flush_streams(self, but: Stream | None = None) -> None:
        for stream in self.streams:
            if stream is not but:
                stream.flush()

    def receive(self) -> dict[str, Any] | None:
        """The next request, or None once the grader has closed its end."""
        head = self._exactly(_HEADER.size)
        if head is None:
            return None
        (size,) = _HEADER.unpack(head)
        if size > MAX_REQUEST_BYTES:
            return None
        body = self._exactly(size)
        if body is None:
            return None
        request: dict[str, Any] = json.loads(body)
        return request

    def _exactly(self, size: int) -> bytes | None:
        chunks = []
        while size:
            try:
                chunk = self.sock.recv(min(size, 1 << 20))
            except KeyboardInterrupt:  # an interrupt that came after its cell had ended
                continue
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)


class Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: text buffered and sent as `stream` messages, in order with the
    other stream and with displays (each flushes the rest first, as ipykernel's streams try to)."""

    def __init__(self, channel: Channel, name: str) -> None:
        self.channel = channel
        self.name = name
        self._parts: list[str] = []
        self._size = 0
        self._since = 0.0
        self._lock = threading.RLock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        with self._lock:
            if not self._parts:
                self.channel.flush_streams(but=self)
                self._since = time.monotonic()
            self._parts.append(text)
            self._size += len(text)
            if self._size >= STREAM_CHUNK or time.monotonic() - self._since > STREAM_DELAY:
                self.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._parts:
                text = "".join(self._parts)
                self._parts.clear()
                self._size = 0
                for start in range(0, len(text), STREAM_MESSAGE):
                    self.channel.send("stream", {"name": self.name, "text": text[start : start + STREAM_MESSAGE]})


# A cell IPython's input transformations leave as it is: none of the characters they act on
# (`%` magics, `!` shell escapes, `?` help), no prompt to strip (`>>>`, `...`, `In [`, a vi
# mode's `[nav]`/`[ins]`), no escape (`/`, `;`, `,`) opening a line, no indentation or blank
# line to remove first, no line of blanks (dedent would empty it). Such a cell skips IPython's
# tokenising of it (~2.6 ms of CPU for a conv-layer notebook's cells); any other cell goes
# through IPython as always. tests/unit/test_pipe_kernel_transforms.py checks with Hypothesis
# that IPython gives back exactly the cell (plus a final newline) whenever this says so.
_IPYTHON_SYNTAX = re.compile(r"[%!?]|>>>|In \[|\[nav\]|\[ins\]|^[ \t\f\v]*(?:\.\.\.|[/;,])|^[ \t]+$", re.M)


def plain_python(cell: str) -> bool:
    """Whether IPython's input transformations would leave `cell` as it is (but for a final
    newline): it is already the Python that runs."""
    return bool(cell) and not cell[0].isspace() and _IPYTHON_SYNTAX.search(cell) is None


def _as_is(cell: str) -> str:
    return cell if cell.endswith("\n") else cell + "\n"


def _async_possible(cell: str) -> bool:
    """Whether a cell could need IPython's top-level `await` (`await`, `async for`, `async
    with`): without either word it cannot, and IPython's own check compiles the whole cell."""
    return "await" in cell or "async" in cell


_CHANNEL: list[Channel] = []  # this kernel's connection (set by `serve`; the shell's hooks send on it)
_SHELL: list[Any] = []  # the shell, made ahead in the warm parent (`prepare`)
_MAIN: list[Any] = []  # the warm parent's own __main__, which making the shell replaced


def _send(kind: str, content: dict[str, Any]) -> None:
    channel = _CHANNEL[0]
    channel.flush_streams()
    channel.send(kind, content)


def prepare() -> bool:
    """In the warm parent, before it forks the first pipe kernel: make the shell and run a first
    cell in it (`WARM_UP`), which every kernel would otherwise do itself (~9 ms of CPU to make
    a shell, ~5 ms for a first cell's one-time set-up, ~4.5 ms for torch's). Each kernel gets
    its own copy with the fork; it holds no notebook's names (the cell's are deleted again,
    and a silent cell counts nothing). True when it made the shell now."""
    if _SHELL:
        return False
    _MAIN.append(sys.modules.get("__main__"))
    shell = _make_shell()
    names = set(shell.user_ns)
    shell.run_cell(WARM_UP, store_history=False, silent=True)
    for value in shell.user_ns.get("_shown", ()):
        shell.display_formatter.format(value)
    for name in set(shell.user_ns) - names:
        del shell.user_ns[name]
    # A first error, formatted (not sent: there is no channel here): a kernel's first
    # traceback would otherwise set up the formatter itself (~6 ms of CPU).
    try:
        raise ValueError("warm-up")
    except ValueError:
        shell.InteractiveTB.structured_traceback(*sys.exc_info())
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    _SHELL.append(shell)
    return True


# What the first cells of a graded notebook do with torch, done once in the warm parent: the
# first slicing, reduction, layer, backward pass and convolution of a process, and the first
# display of a tensor (IPython's formatters, torch's printing), each cost a fork a few ms of
# one-time set-up (~4.5 ms of CPU per conv-layer notebook). Nothing here starts a thread.
WARM_UP = """
import torch
_x = torch.arange(12.0).reshape(3, 4)
_x[:, 1:3] = 0
_y = (_x[:2, :2] * _x[1:, 2:]).sum() + torch.zeros((2, 2)) @ torch.ones(2, 2)
_layer = torch.nn.Linear(4, 2)
_layer(_x).sum().backward()
_rows = torch.stack([_x[i].reshape(-1) for i in range(3)])
_z = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2), padding=1, stride=2)
_shown = (_x, (_x, torch.tensor([[1, 2]])), _layer, 3.5)
"""


def forget() -> None:
    """In a child of the warm parent that is no kernel (the judge): no IPython shell is
    running here, and __main__ is the program's own again."""
    if _SHELL:
        _SHELL[0].clear_instance()
        _SHELL.clear()
        if _MAIN and _MAIN[0] is not None:
            sys.modules["__main__"] = _MAIN[0]


def _make_shell() -> Any:
    """IPython's InteractiveShell whose displays, results and tracebacks become messages."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Publisher(DisplayPublisher):
        def publish(
            self,
            data: Any,
            metadata: Any = None,
            source: Any = None,
            *,
            transient: Any = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
            _send("update_display_data" if update else "display_data", content)

        def clear_output(self, wait: bool = False) -> None:
            _send("clear_output", {"wait": wait})

    class ResultHook(DisplayHook):
        """A cell's value (`Out[n]`) as an execute_result message."""

        content: dict[str, Any] | None = None

        def start_displayhook(self) -> None:
            self.content = {"data": {}, "metadata": {}}

        def write_output_prompt(self) -> None:
            if self.content is not None:
                self.content["execution_count"] = self.prompt_count

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            if self.content is not None:
                self.content["data"] = format_dict
                self.content["metadata"] = md_dict or {}

        def finish_displayhook(self) -> None:
            if self.content is not None and self.content["data"]:
                _send("execute_result", self.content)
            else:
                _CHANNEL[0].flush_streams()
            self.content = None

    class Shell(InteractiveShell):
        displayhook_class = Type(ResultHook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            self._last_traceback = stb
            _send("error", {"traceback": stb, "ename": str(etype.__name__), "evalue": str(evalue)})

        def enable_gui(self, gui: Any = None) -> None:  # no event loop to integrate
            pass

        def should_run_async(self, raw_cell: str, *, transformed_cell: Any = None, **kwargs: Any) -> bool:
            if transformed_cell is not None and not _async_possible(transformed_cell):
                return False
            return bool(super().should_run_async(raw_cell, transformed_cell=transformed_cell, **kwargs))

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    # Tracebacks as Python prints them. The grader reads an error's name and value only (the
    # student's message is made from those); Jupyter's "Context" tracebacks (source lines
    # around each frame, via stack_data) cost a notebook's first error ~50 ms of CPU and
    # ~4,000 copy-on-write faults in a forked kernel, and each further error ~13 ms.
    config.InteractiveShell.xmode = "Plain"
    shell = Shell.instance(config=config)
    transformations = shell.input_transformer_manager
    every_transformation = transformations.transform_cell
    transformations.transform_cell = lambda cell: _as_is(cell) if plain_python(cell) else every_transformation(cell)
    return shell


class _NoInput:
    """`input()` and `getpass()` in a graded kernel: nobody is there to answer (ipykernel's
    error, so notebooks see what they would under nbclient's allow_stdin=False)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, prompt: str = "", *args: Any, **kwargs: Any) -> str:
        from IPython.core.error import StdinNotImplementedError

        raise StdinNotImplementedError(f"{self.name} was called, but this frontend does not support input requests.")


def _execute(shell: Any, channel: Channel, request: dict[str, Any]) -> dict[str, Any]:
    """Run one execute request as ipykernel's do_execute would; the reply's content."""
    code = str(request.get("code", ""))
    silent = bool(request.get("silent", False))
    store_history = bool(request.get("store_history", not silent)) and not silent
    expressions = request.get("user_expressions") or {}
    if not silent:
        channel.send("execute_input", {"execution_count": shell.execution_count})
    shell._last_traceback = None  # the reply's traceback is this request's or none
    saved = builtins.input, getpass.getpass
    builtins.input, getpass.getpass = _NoInput("raw_input"), _NoInput("getpass")  # type: ignore[assignment]
    try:
        result = shell.run_cell(code, store_history=store_history, silent=silent)
    finally:
        builtins.input, getpass.getpass = saved
    channel.flush_streams()
    reply: dict[str, Any] = {"execution_count": shell.execution_count - 1}
    error = result.error_before_exec if result.error_before_exec is not None else result.error_in_exec
    if result.success:
        reply["status"] = "ok"
        reply["user_expressions"] = shell.user_expressions(expressions)
    else:
        reply.update(status="error", ename=type(error).__name__, evalue=str(error), user_expressions={})
        reply["traceback"] = shell._last_traceback or []
    shell.payload_manager.clear_payload()
    return reply


def serve(path: str) -> None:
    """Connect to the grader at `path` and run its requests until it hangs up."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    channel = Channel(sock)
    _CHANNEL[:] = [channel]
    out, err = Stream(channel, "stdout"), Stream(channel, "stderr")
    channel.streams = [out, err]
    sys.stdout, sys.stderr = out, err
    sys.stdin = io.StringIO()
    shell = _SHELL[0] if _SHELL else _make_shell()
    channel.send("ready", {})
    while True:
        try:
            request = channel.receive()
        except (OSError, ValueError):
            request = None
        if request is None:
            break
        try:
            reply = _execute(shell, channel, request.get("c") or {})
        except KeyboardInterrupt:  # between the cell's end and its reply
            reply = {"status": "error", "ename": "KeyboardInterrupt", "evalue": "", "user_expressions": {}}
        channel.send("execute_reply", reply, str(request.get("id")))
