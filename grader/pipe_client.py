"""The grader's side of a pipe kernel (`grader.pipe_kernel`): a kernel client and manager shaped
like jupyter_client's, so nbclient drives the cells exactly as it drives an ipykernel.

nbclient needs little of a client: `execute` (a message id back), two channels whose
`get_msg(timeout)` yields Jupyter messages or raises `queue.Empty`, and `is_alive`; of a
manager, `interrupt_kernel` and a provisioner that can poll and kill the process. Here the
messages come from one Unix socket as length-prefixed JSON frames. Each frame becomes the
Jupyter message nbclient expects: outputs go to IOPub, the reply to the shell channel, and
the reply is followed on IOPub by the `idle` status that ends a cell for nbclient (the socket
is ordered, so every output of the request came before its reply).

Frames come from a process that runs student code, so each one is checked: a frame larger
than `MAX_MESSAGE_BYTES` or not JSON ends the connection (the kernel is then dead to
nbclient), an output of the wrong shape is dropped, and a reply that does not carry the id of
the request in flight (ids are random) is ignored.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import secrets
import signal
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .kernel_process import MAX_MESSAGE_BYTES, ForkedProcess
from .sandbox import SandboxConfig
from .warm_parent import ForkServer

SOCKET_NAME = "pipe"  # in the kernel's scratch folder, under .kernel
_HEADER = struct.Struct(">I")


def _is_str_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


def _well_formed(kind: str, content: dict[str, Any]) -> bool:
    """The fields nbformat's `output_from_msg` reads, with the types it needs."""
    if kind == "stream":
        return content.get("name") in ("stdout", "stderr") and isinstance(content.get("text"), str)
    if kind in ("display_data", "update_display_data", "execute_result"):
        transient = content.get("transient", {})
        return (
            _is_str_dict(content.get("data"))
            and _is_str_dict(content.get("metadata", {}))
            and (transient is None or _is_str_dict(transient))
        )
    if kind == "error":
        trace = content.get("traceback", [])
        return (
            isinstance(content.get("ename"), str)
            and isinstance(content.get("evalue"), str)
            and isinstance(trace, list)
            and all(isinstance(line, str) for line in trace)
        )
    if kind == "clear_output":
        return isinstance(content.get("wait", False), bool)
    return kind == "execute_input" and isinstance(content.get("execution_count"), int)


_OUTPUTS = ("stream", "display_data", "update_display_data", "execute_result", "error", "clear_output", "execute_input")


def _message(kind: str, content: dict[str, Any], parent: str | None) -> dict[str, Any]:
    return {
        "header": {"msg_type": kind, "msg_id": ""},
        "msg_type": kind,
        "parent_header": {"msg_id": parent},
        "metadata": {},
        "content": content,
    }


class MessageChannel:
    """One of a client's channels: messages in arrival order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def put(self, message: dict[str, Any]) -> None:
        self._queue.put_nowait(message)

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        if timeout is None:
            return await self._queue.get()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            raise queue.Empty from None


class PipeKernelClient:
    """What nbclient calls a kernel client, over the kernel's socket."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, alive: Callable[[], Awaitable[bool]]
    ) -> None:
        self.iopub_channel = MessageChannel()
        self.shell_channel = MessageChannel()
        self.allow_stdin = False
        self._reader = reader
        self._writer = writer
        self._process_alive = alive
        self._current: str | None = None
        self._ready = asyncio.Event()
        self.closed: str | None = None  # why the connection ended, once it has
        self._reading = asyncio.ensure_future(self._read())

    def execute(
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        msg_id = secrets.token_hex(16)
        self._current = msg_id
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
        }
        data = json.dumps({"t": "execute_request", "id": msg_id, "c": content}).encode()
        if self.closed is None:
            try:
                self._writer.write(_HEADER.pack(len(data)) + data)
            except (OSError, RuntimeError) as exc:
                self.closed = f"cannot write to the kernel: {exc}"
        return msg_id

    async def is_alive(self) -> bool:
        return self.closed is None and await self._process_alive()

    async def wait_for_ready(self, timeout: float) -> None:
        """Until the kernel says it is ready; RuntimeError if it ends (or stays silent) first."""
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), 0.25)
            except asyncio.TimeoutError:
                if self.closed is not None or not await self._process_alive():
                    raise RuntimeError("the kernel died before it was ready") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the kernel was not ready in {timeout:g} seconds") from None

    def stop_channels(self) -> None:
        self._reading.cancel()
        try:
            self._writer.close()
        except (OSError, RuntimeError):
            pass

    async def _read(self) -> None:
        try:
            while True:
                head = await self._reader.readexactly(_HEADER.size)
                (size,) = _HEADER.unpack(head)
                if size > MAX_MESSAGE_BYTES:
                    self.closed = "the kernel sent a message larger than the grader accepts"
                    return
                frame = json.loads(await self._reader.readexactly(size))
                if not isinstance(frame, dict):
                    raise ValueError("not a frame")
                self._deliver(frame)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.closed = "the kernel closed its connection"
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
            self.closed = "the kernel sent something that is not a message"
        finally:
            if self.closed is None:
                self.closed = "the connection was closed"
            self._writer.close()

    def _deliver(self, frame: dict[str, Any]) -> None:
        kind, content = frame.get("t"), frame.get("c")
        if not isinstance(kind, str) or not isinstance(content, dict):
            return
        if kind == "ready":
            self._ready.set()
        elif kind == "execute_reply":
            if self._current is None or frame.get("id") != self._current or not isinstance(content.get("status"), str):
                return  # not the reply to the request in flight
            parent, self._current = self._current, None
            self.shell_channel.put(_message(kind, content, parent))
            self.iopub_channel.put(_message("status", {"execution_state": "idle"}, parent))
        elif kind in _OUTPUTS and _well_formed(kind, content):
            self.iopub_channel.put(_message(kind, content, self._current))


class PipeKernelManager:
    """What nbclient and `grader.execute` use of a kernel manager, for a forked pipe kernel."""

    def __init__(self, process: ForkedProcess) -> None:
        self.provisioner = process

    async def interrupt_kernel(self) -> None:
        await self.provisioner.send_signal(signal.SIGINT)


def listen(sandbox: SandboxConfig) -> tuple[socket.socket, str]:
    """The socket the kernel will connect to, in its scratch folder (which only it and the
    grader see; the sandbox gives the folder and what is in it to the kernel's user)."""
    folder = os.path.join(sandbox.scratch, ".kernel")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, SOCKET_NAME)
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listening.bind(path)
        os.chmod(path, 0o600)
        listening.listen(1)
        listening.setblocking(False)
    except BaseException:
        listening.close()
        raise
    return listening, path


async def _accept(listening: socket.socket, process: ForkedProcess, timeout: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection, _ = await asyncio.wait_for(loop.sock_accept(listening), 0.25)
            return connection
        except asyncio.TimeoutError:
            pass
        if await process.poll() is not None:
            raise RuntimeError("the kernel died before it connected")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not connect in {timeout:g} seconds")


async def start(fork_server: ForkServer, sandbox: SandboxConfig, startup_timeout: float = 60) -> Any:
    """Fork a pipe kernel and wait until it is ready: a `WarmKernel` the caller owns (and kills)."""
    from .kernel_manager import WarmKernel

    listening, path = listen(sandbox)
    process = ForkedProcess(fork_server)
    try:
        loop = asyncio.get_running_loop()
        spawned = loop.run_in_executor(None, lambda: fork_server.spawn(path, sandbox, pipe=True))
        try:
            process.pid, report = await asyncio.shield(spawned)
        except asyncio.CancelledError:  # still learn the pid, so that it is killed
            process.pid, report = await spawned
            raise
        connection = await _accept(listening, process, startup_timeout)
        reader, writer = await asyncio.open_unix_connection(sock=connection)
        client = PipeKernelClient(reader, writer, process.alive)
        try:
            await client.wait_for_ready(startup_timeout)
        except BaseException:
            client.stop_channels()
            raise
    except BaseException:
        await process.kill()
        raise
    finally:
        listening.close()  # one connection only: whatever connects later finds nobody
        try:
            os.unlink(path)
        except OSError:
            pass
    return WarmKernel(PipeKernelManager(process), client, sandbox.scratch, dict(report))  # type: ignore[arg-type]
