"""The grader's reading of a pipe kernel's frames (`grader.pipe_client`): whatever bytes a
notebook writes to its kernel's socket, the reader delivers well-formed messages of the request
in flight, drops the rest, or ends the connection, and never raises."""

from __future__ import annotations

import asyncio
import json
import queue
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.pipe_client import MAX_MESSAGE_BYTES, PipeKernelClient


def frame(obj: object) -> bytes:
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


class _Writer:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


async def _alive() -> bool:
    return True


async def _client_fed(data: bytes, request: bool = True) -> tuple[PipeKernelClient, str | None]:
    reader = asyncio.StreamReader()
    client = PipeKernelClient(reader, _Writer(), _alive)  # type: ignore[arg-type]
    msg_id = client.execute("x = 1") if request else None
    reader.feed_data(data)
    reader.feed_eof()
    await asyncio.wait_for(asyncio.shield(client._reading), 5)
    return client, msg_id


def run(data: bytes, request: bool = True) -> tuple[PipeKernelClient, str | None, list[dict], list[dict]]:
    async def main():
        client, msg_id = await _client_fed(data, request)
        iopub, shell = [], []
        for channel, into in ((client.iopub_channel, iopub), (client.shell_channel, shell)):
            while True:
                try:
                    into.append(await channel.get_msg(timeout=0.001))
                except queue.Empty:
                    break
        return client, msg_id, iopub, shell

    return asyncio.run(main())


def test_outputs_and_the_reply_become_jupyter_messages_of_the_request_in_flight():
    data = b"".join(
        [
            frame({"t": "ready", "c": {}}),
            frame({"t": "stream", "c": {"name": "stdout", "text": "hi\n"}}),
            frame({"t": "display_data", "c": {"data": {"text/plain": "2"}, "metadata": {}, "transient": {}}}),
            frame({"t": "error", "c": {"ename": "E", "evalue": "v", "traceback": ["t"]}}),
        ]
    )

    async def main():
        reader = asyncio.StreamReader()
        writer = _Writer()
        kc = PipeKernelClient(reader, writer, _alive)  # type: ignore[arg-type]
        mid = kc.execute("print('hi')", user_expressions={"a": "a"})
        sent = json.loads(writer.written[0][4:])
        assert sent["id"] == mid and sent["c"]["user_expressions"] == {"a": "a"}
        reader.feed_data(data + frame({"t": "execute_reply", "id": mid, "c": {"status": "ok", "execution_count": 1}}))
        reader.feed_eof()
        await asyncio.wait_for(asyncio.shield(kc._reading), 5)
        outputs = [await kc.iopub_channel.get_msg(timeout=1) for _ in range(4)]
        reply = await kc.shell_channel.get_msg(timeout=1)
        return kc, mid, outputs, reply

    kc, mid, outputs, reply = asyncio.run(main())
    assert kc._ready.is_set()
    assert [m["msg_type"] for m in outputs] == ["stream", "display_data", "error", "status"]
    assert all(m["parent_header"]["msg_id"] == mid for m in outputs)
    assert outputs[-1]["content"] == {"execution_state": "idle"}  # after every output: the cell's end
    assert reply["msg_type"] == "execute_reply" and reply["parent_header"]["msg_id"] == mid
    assert reply["header"]["msg_type"] == "execute_reply"
    assert kc.closed == "the kernel closed its connection"  # the end of the stream


@pytest.mark.parametrize(
    "bad",
    [
        {"t": "stream", "c": {"name": "stdout", "text": 5}},
        {"t": "stream", "c": {"name": "stdin", "text": "x"}},
        {"t": "display_data", "c": {"data": [1]}},
        {"t": "display_data", "c": {"data": {}, "metadata": "m"}},
        {"t": "execute_result", "c": {"data": {}, "transient": 3}},
        {"t": "error", "c": {"ename": 1, "evalue": "v"}},
        {"t": "error", "c": {"ename": "E", "evalue": "v", "traceback": [1]}},
        {"t": "clear_output", "c": {"wait": "yes"}},
        {"t": "execute_input", "c": {"execution_count": "1"}},
        {"t": "comm_open", "c": {}},
        {"t": "stream", "c": "text"},
        {"c": {}},
        [1, 2],
        {"t": "execute_reply", "id": "a guess", "c": {"status": "ok"}},
        {"t": "execute_reply", "c": {"status": "ok"}},
    ],
)
def test_frames_of_the_wrong_shape_and_replies_to_no_request_are_dropped(bad):
    client, _msg_id, iopub, shell = run(frame(bad))
    assert iopub == [] and shell == []
    if isinstance(bad, dict):
        assert client.closed == "the kernel closed its connection"  # dropped, and reading went on


def test_a_reply_when_no_request_is_in_flight_is_dropped():
    _client, _, iopub, shell = run(frame({"t": "execute_reply", "id": None, "c": {"status": "ok"}}), request=False)
    assert iopub == [] and shell == []


@pytest.mark.parametrize(
    "data, why",
    [
        (struct.pack(">I", MAX_MESSAGE_BYTES + 1) + b"{}", "larger than the grader accepts"),
        (struct.pack(">I", 5) + b"nope!", "not a message"),
        (struct.pack(">I", 4) + b"\xff\xfe\xfd\xfc", "not a message"),
        (struct.pack(">I", 200_002) + b"[" * 100_001 + b"]" * 100_001, "not a message"),  # nested past recursion
        (struct.pack(">I", 100) + b"{}", "closed its connection"),  # cut short
    ],
)
def test_a_frame_the_grader_cannot_read_ends_the_connection(data, why):
    client, _, iopub, shell = run(data)
    assert why in (client.closed or "") and iopub == [] and shell == []

    async def alive() -> bool:
        return await client.is_alive()

    assert asyncio.run(alive()) is False


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.lists(st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=5))))
def test_no_bytes_make_the_reader_raise(noise, objects):
    data = b"".join(frame(o) for o in objects) + noise
    client, _, _, _ = run(data)
    assert client.closed is not None  # it ended (at the end of the data, or earlier), and never raised
