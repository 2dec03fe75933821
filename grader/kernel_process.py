"""A kernel forked by the warm parent, as the grader sees it: a pid to poll, signal and kill.

Both ways of talking to a kernel (ipykernel over ZeroMQ, `kernel_manager.ForkProvisioner`;
the pipe kernel, `pipe_client`) control its process the same way: only through the fork
server, which signals the kernel's keeper, its own unreaped child, so no pid that may have
been reused is ever signalled.
"""

from __future__ import annotations

import asyncio
import signal
import time

from .warm_parent import ForkServer

# No message from a kernel, over either protocol, may be larger than this: the results of a run
# are at most 96 MiB of arrays (base64 and JSON around them), and a notebook printing a gigabyte
# at once must not make the grader parse a gigabyte. A larger message ends the connection.
MAX_MESSAGE_BYTES = 256 * 1024**2


class ForkedProcess:
    """A forked kernel's process (its keeper's pid) and what the fork server says of it."""

    def __init__(self, fork_server: ForkServer) -> None:
        self.fork_server = fork_server
        self.pid: int | None = None
        self.exit_code: int | None = None

    @property
    def has_process(self) -> bool:
        return self.pid is not None and self.exit_code is None

    async def poll(self) -> int | None:
        """None while it runs; its exit code (negative: the signal that killed it) after."""
        if self.pid is None:
            return 0
        if self.exit_code is not None:
            return self.exit_code
        return self.fork_server.exit_code(self.pid)

    async def alive(self) -> bool:
        return await self.poll() is None

    async def wait(self) -> int | None:
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.02)
        return code

    async def send_signal(self, signum: int) -> None:
        if self.pid is not None and await self.poll() is None:
            self.fork_server.signal(self.pid, signum)

    async def kill(self, restart: bool = False) -> None:
        if self.pid is not None:
            # The keeper dies, so its kernel dies (parent-death signal), and with the kernel,
            # the init of its PID namespace, everything the notebook started.
            self.fork_server.signal(self.pid, signal.SIGKILL)
            # Wait for the fork server to reap it, so "is it alive?" is answered at once.
            deadline = time.monotonic() + 2
            while await self.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.002)

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    async def cleanup(self, restart: bool = False) -> None:
        code = await self.poll() if self.pid is not None else None
        if code is not None and self.pid is not None:
            self.exit_code = code
            self.fork_server.forget(self.pid)  # the fork server's record is no longer needed
