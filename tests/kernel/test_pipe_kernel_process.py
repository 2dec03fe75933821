"""The pipe kernel's own side (`grader.pipe_kernel`), driven directly: one process running
`pipe_kernel.serve` on a socket, outside any sandbox, talked to through the grader's
`PipeKernelClient`. What Jupyter's messages must say for nbclient to give a cell its meaning:
streams in order, results and displays, errors and the reply's status, user expressions,
refused input, interrupts, output larger than one message, and a clean exit once the grader
hangs up. (Graded kernels run the same code confined: tests/kernel/test_kernel_protocols.py.)"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile

from grader.pipe_client import PipeKernelClient
from grader.pipe_kernel import STREAM_MESSAGE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = "import sys\nfrom grader import pipe_kernel\npipe_kernel.prepare()\npipe_kernel.serve(sys.argv[1])\n"


async def _cell(client: PipeKernelClient, code: str, **options) -> tuple[list[dict], dict]:
    """Execute `code`; (the request's IOPub messages up to its idle status, its reply)."""
    msg_id = client.execute(code, **options)
    outputs = []
    while True:
        message = await client.iopub_channel.get_msg(timeout=30)
        assert message["parent_header"]["msg_id"] == msg_id
        if message["msg_type"] == "status":
            break
        outputs.append(message)
    reply = await client.shell_channel.get_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    return outputs, reply["content"]


def _kinds(outputs: list[dict]) -> list[str]:
    return [m["msg_type"] for m in outputs]


async def _session(folder: str) -> dict:
    path = os.path.join(folder, "pipe")
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(path)
    listening.listen(1)
    listening.setblocking(False)
    process = subprocess.Popen([sys.executable, "-c", KERNEL, path], cwd=ROOT)
    seen: dict = {}
    try:
        connection, _ = await asyncio.wait_for(asyncio.get_running_loop().sock_accept(listening), 60)
        reader, writer = await asyncio.open_unix_connection(sock=connection)

        async def alive() -> bool:
            return process.poll() is None

        client = PipeKernelClient(reader, writer, alive)
        await client.wait_for_ready(60)
        seen["warm"] = await _cell(
            client,
            "leftover = [n for n in ('torch', '_x', '_shown') if n in globals()]",
            user_expressions={"left": "leftover"},
        )
        seen["streams"] = await _cell(
            client, "import sys\nprint('out')\nprint('err', file=sys.stderr)\nprint('out again')\n6 * 7"
        )
        seen["display"] = await _cell(
            client,
            "from IPython.display import display, update_display, clear_output\n"
            "display('first', display_id='d')\nupdate_display('second', display_id='d')\nclear_output(wait=True)",
        )
        seen["error"] = await _cell(client, "print('before')\nraise ValueError('boom')")
        seen["syntax"] = await _cell(client, "def broken(:\n    pass")
        seen["silent"] = await _cell(client, "hidden = 5", silent=True, user_expressions={"h": "hidden * 2"})
        seen["input"] = await _cell(client, "input('name? ')")
        seen["large"] = await _cell(client, f"print('x' * {STREAM_MESSAGE + 10}, end='')")
        seen["magic"] = await _cell(client, "%time y = 1\nlisted = !echo hello\nlisted")
        seen["await"] = await _cell(client, "import asyncio\nawait asyncio.sleep(0)\n'awaited'")
        msg_id = client.execute("import time\ntime.sleep(20)")
        await asyncio.sleep(0.5)
        process.send_signal(signal.SIGINT)
        interrupted = []
        while True:
            message = await client.iopub_channel.get_msg(timeout=10)
            if message["msg_type"] == "status":
                break
            interrupted.append(message)
        reply = await client.shell_channel.get_msg(timeout=10)
        assert reply["parent_header"]["msg_id"] == msg_id
        seen["interrupted"] = (interrupted, reply["content"])
        seen["after"] = await _cell(client, "'still here'")
        try:
            await client.shell_channel.get_msg(timeout=0.01)
            seen["stray"] = True
        except queue.Empty:
            seen["stray"] = False
        client.stop_channels()  # the grader hangs up: the kernel's loop ends and it exits
        seen["exit"] = await asyncio.to_thread(process.wait, 30)
    finally:
        listening.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    return seen


def test_the_pipe_kernel_speaks_jupyter_s_messages():
    with tempfile.TemporaryDirectory() as folder:
        seen = asyncio.run(_session(folder))

    outputs, reply = seen["warm"]
    assert reply["status"] == "ok" and reply["execution_count"] == 1 and _kinds(outputs) == ["execute_input"]
    assert reply["user_expressions"]["left"]["data"] == {"text/plain": "[]"}  # prepare()'s cell left nothing

    outputs, reply = seen["streams"]
    assert _kinds(outputs) == ["execute_input", "stream", "stream", "stream", "execute_result"]
    assert [(m["content"]["name"], m["content"]["text"]) for m in outputs[1:4]] == [
        ("stdout", "out\n"),
        ("stderr", "err\n"),
        ("stdout", "out again\n"),
    ]
    assert outputs[4]["content"]["data"] == {"text/plain": "42"} and outputs[4]["content"]["execution_count"] == 2
    assert reply["status"] == "ok" and reply["execution_count"] == 2

    outputs, _ = seen["display"]
    assert _kinds(outputs) == ["execute_input", "display_data", "update_display_data", "clear_output"]
    assert outputs[1]["content"]["transient"] == {"display_id": "d"}
    assert outputs[2]["content"]["data"]["text/plain"] == "'second'" and outputs[3]["content"] == {"wait": True}

    outputs, reply = seen["error"]
    assert _kinds(outputs) == ["execute_input", "stream", "error"]
    assert outputs[2]["content"]["ename"] == "ValueError" and outputs[2]["content"]["evalue"] == "boom"
    assert reply["status"] == "error" and reply["ename"] == "ValueError" and reply["user_expressions"] == {}
    assert any("boom" in line for line in reply["traceback"])

    outputs, reply = seen["syntax"]
    assert reply["status"] == "error" and reply["ename"] == "SyntaxError" and _kinds(outputs)[-1] == "error"

    outputs, reply = seen["silent"]
    assert outputs == []  # no execute_input for a silent request
    assert reply["user_expressions"]["h"]["data"] == {"text/plain": "10"}

    _, reply = seen["input"]
    assert reply["ename"] == "StdinNotImplementedError"

    outputs, _ = seen["large"]
    texts = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
    assert len(texts) == 2 and len(texts[0]) == STREAM_MESSAGE and "".join(texts) == "x" * (STREAM_MESSAGE + 10)

    outputs, reply = seen["magic"]
    assert reply["status"] == "ok" and "Wall time" in "".join(m["content"].get("text", "") for m in outputs)
    assert outputs[-1]["content"]["data"]["text/plain"] == "['hello']"

    outputs, reply = seen["await"]
    assert reply["status"] == "ok" and outputs[-1]["content"]["data"] == {"text/plain": "'awaited'"}

    outputs, reply = seen["interrupted"]
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert _kinds(outputs)[-1] == "error"
    _, reply = seen["after"]
    assert reply["status"] == "ok"  # the interrupt ended the cell, not the kernel
    assert seen["stray"] is False and seen["exit"] == 0
