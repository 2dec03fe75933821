"""jupyter_client plumbing so nbclient drives kernels forked by our warm server.

nbclient talks to any kernel through a KernelManager; ours asks the fork server for a
child instead of spawning `python -m ipykernel`, and talks to it over ZeroMQ `ipc`
sockets in the kernel's scratch directory (TCP would not cross the kernel's private
network namespace). The client skips jupyter_client's fixed 0.2 s IOPub flush wait,
which would otherwise dominate a warm start.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import zmq.asyncio
from jupyter_client import AsyncKernelClient, AsyncKernelManager
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.provisioning import KernelProvisionerBase
from traitlets import Any as AnyTrait
from traitlets import Type

from .kernel_process import MAX_MESSAGE_BYTES, ForkedProcess
from .sandbox import SandboxConfig
from .warm_parent import ForkServer

_CONTEXT: zmq.asyncio.Context | None = None
_CONTEXT_USERS = 0


def _shared_context() -> zmq.asyncio.Context:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = zmq.asyncio.Context()
        _CONTEXT.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)  # the default of every socket it makes
    return _CONTEXT


def hold_context() -> None:
    """A Grader starts using the shared ZeroMQ context."""
    global _CONTEXT_USERS
    _CONTEXT_USERS += 1


def release_context() -> None:
    """The last user destroys it (else interpreter exit waits on it for ~0.4 s)."""
    global _CONTEXT, _CONTEXT_USERS
    _CONTEXT_USERS = max(0, _CONTEXT_USERS - 1)
    if _CONTEXT_USERS == 0 and _CONTEXT is not None:
        _CONTEXT.destroy(linger=0)
        _CONTEXT = None


class ForkProvisioner(KernelProvisionerBase):
    """Launches the kernel through the fork server; its process is a `ForkedProcess`."""

    fork_server: ForkServer
    sandbox: SandboxConfig
    report: dict[str, Any] | None = None
    process: ForkedProcess | None = None

    @property
    def has_process(self) -> bool:
        return self.process is not None and self.process.has_process

    async def poll(self) -> int | None:
        return await self.process.poll() if self.process is not None else 0

    async def wait(self) -> int | None:
        return await self.process.wait() if self.process is not None else 0

    async def send_signal(self, signum: int) -> None:
        if self.process is not None:
            await self.process.send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None:
            await self.process.kill()

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km: Any = self.parent
        km.transport = "ipc"
        sockets = os.path.join(self.sandbox.scratch, ".kernel")
        os.makedirs(sockets, exist_ok=True)
        km.ip = os.path.join(sockets, "k")
        km.connection_file = os.path.join(sockets, "connection.json")
        km.write_connection_file()
        return {"cmd": []}

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        km: Any = self.parent
        loop = asyncio.get_running_loop()
        self.process = process = ForkedProcess(self.fork_server)
        spawned = loop.run_in_executor(None, self.fork_server.spawn, km.connection_file, self.sandbox)
        try:
            process.pid, self.report = await asyncio.shield(spawned)
        except asyncio.CancelledError:  # still learn the pid, so the caller can kill it
            process.pid, self.report = await spawned
            raise
        return km.get_connection_info()

    async def cleanup(self, restart: bool = False) -> None:
        if self.process is not None:
            await self.process.cleanup()

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return 1.0


class FastKernelClient(AsyncKernelClient):
    """An AsyncKernelClient whose readiness check waits for replies, not for a clock."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 60.0)
        # ipykernel greets every new IOPub subscriber (iopub_welcome): once we have the
        # greeting, nothing the kernel publishes can be lost to the slow-joiner problem.
        # A kernel without the greeting (older ipykernel) is still accepted after a second,
        # by the slower test: kernel_info, then its idle status seen on IOPub.
        welcomed = False
        for _ in range(4):
            welcomed = await self._iopub_welcomed(0.25)
            if welcomed:
                break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
        while True:
            msg_id = self.kernel_info()
            try:
                reply = await self._async_recv_reply(msg_id, timeout=1.0)
            except (TimeoutError, asyncio.TimeoutError):
                reply = None
            if reply is not None and (welcomed or await self._iopub_idle_for(msg_id, 0.5)):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    async def _iopub_idle_for(self, msg_id: str, timeout: float) -> bool:
        return await self._iopub_until(
            lambda m: m["parent_header"].get("msg_id") == msg_id and m["content"].get("execution_state") == "idle",
            timeout,
        )

    async def _iopub_welcomed(self, timeout: float) -> bool:
        return await self._iopub_until(lambda m: m["msg_type"] == "iopub_welcome", timeout)

    async def _iopub_until(self, wanted: Any, timeout: float) -> bool:
        """True once an IOPub message satisfies `wanted` within `timeout` seconds."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Exception:
                return False
            if wanted(msg):
                return True
        return False

    wait_for_ready = _async_wait_for_ready


class ForkKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels come from a ForkServer."""

    client_class = Type(FastKernelClient, klass=AsyncKernelClient, config=False)  # type: ignore[assignment]
    client_factory = Type(FastKernelClient, klass=AsyncKernelClient, config=False)
    fork_server = AnyTrait()
    sandbox = AnyTrait()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("context", _shared_context())
        super().__init__(**kwargs)
        self._kernel_spec = KernelSpec(
            argv=["fork"], display_name="Python 3 (d2l-grader)", language="python", interrupt_mode="signal"
        )

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        self.shutting_down = False
        self.kernel_id = self.kernel_id or "grader"
        self._launch_args = kw.copy()
        if self.provisioner is None:
            provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self._kernel_spec, parent=self)
            provisioner.fork_server = self.fork_server
            provisioner.sandbox = self.sandbox
            self.provisioner = provisioner
        kw = await self.provisioner.pre_launch(**kw)
        return kw.pop("cmd"), kw

    def client(self, **kwargs: Any) -> FastKernelClient:  # type: ignore[override]
        # A shared ZeroMQ context: terminating one per notebook costs ~0.3 s.
        kwargs.setdefault("context", self.context)
        return cast(FastKernelClient, super().client(**kwargs))

    @property
    def sandbox_report(self) -> dict[str, Any]:
        return dict(getattr(self.provisioner, "report", None) or {})


@dataclass
class WarmKernel:
    """A kernel started, confined and ready before its notebook arrives (used once).

    `cpu_seconds` reads the CPU time the kernel's whole process tree has used (None where it
    cannot be measured); `release` gives back what the backend holds for it (its control
    group, its uid) once it is dead.
    """

    km: AsyncKernelManager
    kc: AsyncKernelClient
    scratch: str
    report: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: Callable[[], float | None] = lambda: None
    oom_kills: Callable[[], int] = lambda: 0  # processes its memory limit killed
    release: Callable[[], None] = lambda: None
    harness_prepared: bool = False  # forked from a warm parent that compiled the harness (harness_cell.prepare)


async def start_kernel(fork_server: ForkServer, sandbox: SandboxConfig, startup_timeout: float = 60) -> WarmKernel:
    """Fork a kernel and wait until it answers; the caller owns (and must kill) it."""
    return await ready(ForkKernelManager(fork_server=fork_server, sandbox=sandbox), sandbox.scratch, startup_timeout)


async def ready(km: AsyncKernelManager, scratch: str, startup_timeout: float = 60) -> WarmKernel:
    """Start `km`'s kernel and wait until it answers (killing it on any failure)."""
    try:
        await km.start_kernel()
    except BaseException:
        if km.provisioner is not None:
            await km.provisioner.kill()
        raise
    kc = km.client()
    # No heartbeat channel: the kernel manager answers "is it alive?". No stdin channel: nobody
    # answers input(), so the kernel must say so at once (StdinNotImplementedError, as under
    # nbclient's own client set-up) rather than wait for a reply until the cell's time limit.
    kc.start_channels(stdin=False, hb=False)
    try:
        await kc.wait_for_ready(timeout=startup_timeout)
    except BaseException:
        kc.stop_channels()
        if km.provisioner is not None:
            await km.provisioner.kill()
        raise
    report = dict(getattr(km.provisioner, "report", None) or {})
    return WarmKernel(km, kc, scratch, report)


async def discard(kernel: WarmKernel) -> None:
    """Kill an unused (or finished) kernel and give back what it held."""
    kernel.kc.stop_channels()
    if kernel.km.provisioner is not None:
        await kernel.km.provisioner.kill()
        await kernel.km.provisioner.cleanup()
    # Emptying and deleting control groups waits for the kernel's processes to be reaped:
    # in a thread, so the event loop keeps serving the other notebooks meanwhile.
    await asyncio.to_thread(kernel.release)
