"""A notebook owns its pipe kernel's process, so it can write to the kernel's socket itself
(`sys.stdout.channel.sock`). Whatever it writes costs its own notebook at most: frames of the
wrong shape are dropped, a reply to no request is ignored, and a frame the grader will not read
ends that kernel's connection, never the grader or a neighbour."""

from __future__ import annotations

from grader.grading import Grader
from tests.kernels import run_cells, run_together

SOCKET = (
    "import json, struct, sys, time\n"
    "sock = sys.stdout.channel.sock\n"
    "def frame(obj):\n"
    "    data = json.dumps(obj).encode()\n"
    "    sock.sendall(struct.pack('>I', len(data)) + data)\n"
)


def test_forged_and_malformed_frames_are_dropped_and_the_notebook_goes_on(grader):
    forged = (
        SOCKET + "frame({'t': 'stream', 'c': {'name': 'stdout', 'text': 5}})\n"
        "frame({'t': 'error', 'c': {'ename': 1}})\n"
        "frame({'t': 'display_data', 'c': {'data': [1]}})\n"
        "frame({'t': 'execute_reply', 'id': 'a guess', 'c': {'status': 'ok'}})\n"
        "frame({'t': 'ready', 'c': {}})\n"
        "time.sleep(0.3)\n"
        "first = 'done'"
    )
    execution, values = run_cells(grader, [forged, "second = first + ' too'"], ["first", "second"])
    assert execution.errors == []
    assert values == {"first": "done", "second": "done too"}


def test_a_frame_too_large_to_read_ends_only_that_kernel(grader: Grader):
    huge = SOCKET + "sock.sendall(struct.pack('>I', 2**31 - 1) + b'{')\ntime.sleep(30)"
    garbage = SOCKET + "sock.sendall(struct.pack('>I', 5) + b'nope!')\ntime.sleep(30)"
    calm = ["import time\ntime.sleep(1.5)\nneighbour = 'fine'"]
    (big, _), (bad, _), (other, values) = run_together(
        grader, ([huge, "after = 1"], ["after"]), ([garbage], []), (calm, ["neighbour"])
    )
    for execution in (big, bad):
        assert [e.kind for e in execution.errors] == ["kernel-died"]
        assert execution.errors[0].cell == 1 and execution.fetched is None
    assert other.errors == [] and values == {"neighbour": "fine"}
    execution, values = run_cells(grader, ["x = 41 + 1"], ["x"])  # and the grader goes on
    assert execution.errors == [] and values == {"x": 42}


def test_the_connection_is_the_kernel_s_own_and_accepts_no_second_client(grader):
    probe = (
        "import socket, sys\n"
        "path = sys.stdout.channel.sock.getpeername()\n"
        "try:\n"
        "    socket.socket(socket.AF_UNIX).connect(path)\n"
        "    second = 'connected'\n"
        "except OSError as exc:\n"
        "    second = type(exc).__name__\n"
    )
    execution, values = run_cells(grader, [probe], ["second"])
    assert execution.errors == []
    assert values["second"] in ("FileNotFoundError", "ConnectionRefusedError")  # the listener is gone
