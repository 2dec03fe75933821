"""The sandbox against the attacks of a red-team pass, one fixture per attack (and neighbours).

Every attack notebook runs in three confinements: the fork server as root (every protection
must be active and every attack must gain nothing: no secret, no file or segment left, no
host process visible, no message between kernels, the neighbour's score unchanged), and a
grader running as the unprivileged user nobody, with the fork server (user namespaces, no
control groups or separate uid) and with the portable backend (no namespaces at all). For
those, the invariant is that no report claims a protection whose attack succeeded, and the
portable backend's report must say what it lacks. All attacks of one confinement run at the
same time, in kernels alive together, as a class's notebooks would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kernels import run_as_nobody, run_together, unprivileged_python
from nbfactory import variant

from grader.course import load_course
from grader.grading import Grader
from grader.limits import Limits

# Each confinement's fixture grades many notebooks: it is built once, on one xdist worker
# (--dist loadgroup), by grouping that confinement's tests; the three confinements are three
# groups, so the two workers build them side by side.
CONFINEMENTS = [
    pytest.param(kind, marks=pytest.mark.xdist_group(f"test_sandbox-{kind}"))
    for kind in ("forkserver-root", "forkserver-nobody", "portable-nobody")
]

SECRET = "d2l-grader-test-secret-7c1e"
LIMITS = Limits(cell_timeout=20, timeout=120, harness_timeout=60, call_timeout=15, memory=1024**3, processes=48)
OUTSIDE = Path("/var/tmp") / f"d2l-grader-test-{os.getpid()}"  # readable by anyone: only a sandbox hides it
MARKER = f"d2l-grader-daemon-{os.getpid()}"
SHM_KEY = 0x0D2C6E11 + os.getpid() % 4096  # the SysV segment the attack makes, told from the host's others
COURSE = load_course()

ATTACKS: dict[str, tuple[list[str], list[str]]] = {
    # PR_SET_DUMPABLE, then /proc/<pid>/environ and the process's own stack and heap
    "environment": (
        [
            r"""
import ctypes, os, re
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
found = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:
    try:
        found.append(open(f'/proc/{pid}/environ', 'rb').read())
    except OSError:
        pass
found.append(repr(dict(os.environ)).encode())
with open('/proc/self/maps') as maps:
    regions = [line.split() for line in maps if '[stack]' in line or '[heap]' in line]
with open('/proc/self/mem', 'rb') as mem:
    for fields in regions:
        start, end = (int(x, 16) for x in fields[0].split('-'))
        try:
            mem.seek(start)
            found.append(mem.read(min(end - start, 64 << 20)))
        except OSError:
            pass
leaked = sorted({m.decode() for b in found for m in re.findall(rb'd2l-grader-test-secret-[0-9a-f]+', b)})
"""
        ],
        ["leaked"],
    ),
    # files outside the kernel's folder: another course folder, the course itself; and the view
    "files": (
        [
            f"""
import os
readable = []
for path in {[str(OUTSIDE / "other-students.zip"), os.path.join(COURSE.root, "rubrics", "conv-layer.toml"), os.path.join(COURSE.root, "reference", "conv_layer.py")]!r}:
    try:
        with open(path, 'rb') as f:
            f.read(1)
        readable.append(path)
    except OSError:
        pass
top = sorted(os.listdir('/'))
mountinfo = open('/proc/self/mountinfo').read()
sys_files = [os.path.join(d, f) for d, _, files in os.walk('/sys') for f in files][:5]
"""
        ],
        ["readable", "top", "mountinfo", "sys_files"],
    ),
    # files in /dev/shm, /tmp, /var/tmp and a SysV segment meant to outlive grading; a tmpfs bomb
    "leftovers": (
        [
            f"SHM_KEY = {SHM_KEY}\nRUN = {os.getpid()}\n"
            + """
import ctypes, os, errno
wrote = {}
for folder in ('/dev/shm', '/tmp', '/var/tmp'):
    try:
        with open(os.path.join(folder, 'd2l-grader-leftover-%d-%d' % (RUN, os.getuid())), 'wb') as f:
            f.write(b'x' * (8 << 20))
        wrote[folder] = 'ok'
    except OSError as exc:
        wrote[folder] = errno.errorcode.get(exc.errno, str(exc.errno))
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(SHM_KEY, 64 << 20, 0o1000 | 0o600)  # IPC_CREAT, a key the host check looks for
try:
    with open('/dev/shm/d2l-grader-big-%d-%d' % (RUN, os.getuid()), 'wb') as f:
        f.write(b'y' * (100 << 20))
    big = 'ok'
except OSError as exc:
    big = errno.errorcode.get(exc.errno, str(exc.errno))
"""
        ],
        ["wrote", "big"],
    ),
    # the machine's processes, the grader's command line, signals to the grader
    "processes": (
        [
            f"""
import os
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
commands = []
for pid in pids:
    try:
        commands.append(open(f'/proc/{{pid}}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())
    except OSError:
        pass
reached = []
for pid in ({os.getpid()}, {os.getppid()}):
    try:
        os.kill(pid, 0)
        reached.append(pid)
    except OSError:
        pass
"""
        ],
        ["pids", "commands", "reached"],
    ),
    # daemons in sessions of their own, meant to outlive the kernel
    "daemons": (
        [
            f"""
import subprocess, sys
for _ in range(3):
    subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', '{MARKER}'],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""
        ],
        [],
    ),
    # two kernels alive at once: an abstract Unix socket, and TCP on loopback
    "listener": (
        [
            """
import socket
got = []
servers = []
for family, address in ((socket.AF_UNIX, '\\0d2l-grader-test-abstract'), (socket.AF_INET, ('127.0.0.1', 48123))):
    try:
        server = socket.socket(family, socket.SOCK_STREAM)
        server.bind(address)
        server.listen(1)
        server.settimeout(6)
        servers.append(server)
    except OSError:
        pass
for server in servers:
    try:
        conn, _ = server.accept()
        got.append(conn.recv(100).decode())
    except OSError:
        pass
"""
        ],
        ["got"],
    ),
    "talker": (
        [
            """
import socket, time
sent = []
end = time.time() + 4
for family, address in ((socket.AF_UNIX, '\\0d2l-grader-test-abstract'), (socket.AF_INET, ('127.0.0.1', 48123))):
    while time.time() < end:
        try:
            client = socket.socket(family, socket.SOCK_STREAM)
            client.settimeout(1)
            client.connect(address)
            client.sendall(b'hello from the neighbour')
            sent.append(str(family))
            break
        except OSError:
            time.sleep(0.1)
"""
        ],
        ["sent"],
    ),
    # a user namespace (the usual first step of an escalation), other namespaces
    "namespaces": (
        [
            """
import ctypes, subprocess
libc = ctypes.CDLL(None, use_errno=True)
attempts = {
    'unshare(CLONE_NEWUSER)': libc.unshare(0x10000000),
    'unshare(CLONE_NEWNET)': libc.unshare(0x40000000),
    'unshare -U -r': subprocess.run(['unshare', '-U', '-r', 'true'], capture_output=True).returncode,
}
# As root the warm parent holds a descriptor of its own PID namespace (to step back into it after
# each fork): none may reach a kernel, and no descriptor it has lets it join another namespace.
import os
inherited = {}
for fd in os.listdir('/proc/self/fd'):
    try:
        inherited[int(fd)] = os.readlink('/proc/self/fd/' + fd)
    except OSError:
        pass
namespace_fds = sorted(
    target for target in inherited.values()
    if target.split(':')[0] in ('pid', 'mnt', 'net', 'user', 'ipc', 'uts', 'cgroup', 'time')
)
for fd in inherited:
    attempts['setns(fd %d)' % fd] = libc.setns(fd, 0)
"""
        ],
        ["attempts", "namespace_fds"],
    ),
}


def _host_segments() -> set[str]:
    """The host's SysV segments made with the attack's key (other programs on the machine, a
    browser test's Chromium say, make segments of their own meanwhile)."""
    rows = [line.split() for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    return {row[1] for row in rows if int(row[0]) == SHM_KEY}


def _leftovers() -> list[Path]:
    """This run's leftover files on the host (named with the test process's pid, as MARKER is:
    a killed earlier run's files are not this run's verdict)."""
    found = []
    for folder in ("/dev/shm", "/tmp", "/var/tmp"):
        found += [p for p in Path(folder).glob(f"d2l-grader-leftover-{os.getpid()}-*") if p.is_file()]
    return found + [p for p in Path("/dev/shm").glob(f"d2l-grader-big-{os.getpid()}-*") if p.is_file()]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


class Outcome:
    """What every attack of one confinement gained (values), what each report claimed, and what
    the host looked like afterwards."""

    def __init__(self, kind: str, results: dict[str, tuple[dict, dict]], host: dict[str, Any], grader: Any) -> None:
        self.kind = kind
        self.results = results
        self.host = host
        self.grader = grader

    @property
    def complete(self) -> bool:
        """Every protection must be active (the fork server as root, with bubblewrap and control groups)."""
        return self.kind == "forkserver-root"

    def holds(self, attack: str, protection: str, attack_failed: bool) -> None:
        """No report claims a protection whose attack succeeded; where everything must be
        active, the protection is active (so the attack failed)."""
        report = self.results[attack][0]
        if self.complete:
            assert report.get(protection) is True, (protection, report)
        if report.get(protection):
            assert attack_failed, (protection, self.results[attack][1])


# session, not module: see "Expensive fixtures" in tests/conftest.py
@pytest.fixture(scope="session", params=CONFINEMENTS)
def outcome(request, course):
    kind = request.param
    if kind == "forkserver-root" and os.geteuid() != 0:
        pytest.skip("needs root")
    if kind != "forkserver-root" and unprivileged_python() is None:
        pytest.skip("no interpreter the unprivileged user nobody can run with these packages")
    OUTSIDE.mkdir(exist_ok=True)
    os.chmod(OUTSIDE, 0o755)
    (OUTSIDE / "other-students.zip").write_text(SECRET)
    os.chmod(OUTSIDE / "other-students.zip", 0o644)
    segments = _host_segments()
    names = list(ATTACKS)
    grader = None
    try:
        if kind == "forkserver-root":
            os.environ["D2L_GRADER_TEST_TOKEN"] = SECRET  # in the grader's environment: never in a kernel
            grader = Grader(LIMITS, course=course).start()
            runs = [(e.sandbox, v) for e, v in run_together(grader, *ATTACKS.values())]
        else:
            backend = "portable" if kind == "portable-nobody" else "forkserver"
            env = {"D2L_GRADER_TEST_TOKEN": SECRET}
            runs = [
                (r["sandbox"], r["values"]) for r in run_as_nobody(backend, LIMITS, *ATTACKS.values(), extra_env=env)
            ]
        deadline = time.monotonic() + 10  # the keeper's end takes its kernel's namespace down
        while time.monotonic() < deadline and _processes_with(MARKER):
            time.sleep(0.2)
        host = {"leftovers": _leftovers(), "segments": _host_segments() - segments, "daemons": _processes_with(MARKER)}
        yield Outcome(kind, dict(zip(names, runs, strict=True)), host, grader)
    finally:
        os.environ.pop("D2L_GRADER_TEST_TOKEN", None)
        if grader is not None:
            grader.close()
        for path in _leftovers():
            path.unlink(missing_ok=True)
        for segment in _host_segments() - segments:
            subprocess.run(["ipcrm", "-m", segment], check=False)
        for pid in _processes_with(MARKER):
            os.kill(pid, 9)
        (OUTSIDE / "other-students.zip").unlink(missing_ok=True)
        OUTSIDE.rmdir()


def test_the_graders_environment_never_reaches_a_kernel(outcome):
    report, values = outcome.results["environment"]
    if outcome.kind == "portable-nobody":  # the grader runs as the same user, visible: said so
        assert report["process_isolation"] is False
        return
    assert values["leaked"] == [], values
    assert SECRET not in repr(outcome.results)


def test_a_kernel_sees_only_the_allowlisted_file_system(outcome):
    report, values = outcome.results["files"]
    outcome.holds("files", "filesystem_hidden", values["readable"] == [])
    allowed = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "tmp", "run", "sys"}
    allowed |= {p.strip("/").split("/")[0] for p in [sys.prefix, sys.base_prefix, *sys.path] if p.startswith("/")}
    only_allowed = set(values["top"]) <= allowed and "var" not in values["top"] and "home" not in values["top"]
    nothing_else = values["sys_files"] == [] and str(OUTSIDE) not in values["mountinfo"]
    outcome.holds("files", "filesystem_allowlist", only_allowed and nothing_else)
    if outcome.kind == "portable-nobody":
        assert str(OUTSIDE / "other-students.zip") in values["readable"] and not report["filesystem_hidden"]


def test_shared_memory_and_temporary_files_die_with_the_kernel(outcome):
    values = outcome.results["leftovers"][1]
    outcome.holds("leftovers", "ipc_isolated", not outcome.host["leftovers"] and not outcome.host["segments"])
    outcome.holds("leftovers", "resource_groups", values["big"] == "ENOSPC")
    if outcome.complete:
        assert values["wrote"]["/dev/shm"] == "ok" and values["wrote"]["/tmp"] == "ok"  # private and writable
        assert values["wrote"]["/var/tmp"] != "ok"  # not part of the allowlisted view at all
        assert values["big"] == "ENOSPC"  # the private tmpfs is capped (and charged to the memory limit)


def test_a_kernel_sees_and_signals_only_its_own_processes(outcome):
    values = outcome.results["processes"][1]
    alone = values["pids"] == [1] and values["reached"] == [] and not any("pytest" in c for c in values["commands"])
    outcome.holds("processes", "process_isolation", alone)


def test_daemons_a_notebook_starts_die_with_its_kernel(outcome):
    outcome.holds("daemons", "process_isolation", outcome.host["daemons"] == [])


def test_two_kernels_cannot_talk_to_each_other(outcome):
    heard, talker = outcome.results["listener"][1], outcome.results["talker"][1]
    outcome.holds("listener", "network_isolated", heard["got"] == [] and talker["sent"] == [])


def test_user_namespaces_mounts_and_other_namespaces_are_refused(outcome):
    values = outcome.results["namespaces"][1]
    outcome.holds("namespaces", "syscall_filter", all(code != 0 for code in values["attempts"].values()))


def test_no_namespace_descriptor_reaches_a_kernel(outcome):
    assert outcome.results["namespaces"][1]["namespace_fds"] == []


def test_the_portable_backend_says_what_it_lacks(outcome):
    if outcome.kind != "portable-nobody":
        pytest.skip("the portable backend's report")
    report = outcome.results["environment"][0]
    assert report["backend"] == "portable"
    for protection in ("filesystem_hidden", "network_isolated", "process_isolation", "ipc_isolated", "syscall_filter"):
        assert report[protection] is False, protection


HOG = """
import subprocess, sys, time
hogs = []
for _ in range(40):
    try:
        hogs.append(subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True))
    except OSError:
        break
started = len(hogs)
time.sleep(8)
for hog in hogs:  # (so that the checks of this notebook itself get some CPU)
    hog.kill()
"""


def test_a_busy_neighbour_cannot_make_another_notebook_time_out(outcome, course, tmp_path):
    """40 busy loops in their own sessions in one kernel, graded beside a LeNet notebook: LeNet
    keeps full marks (its cells' limits count its own CPU time; the hog gets at most one core)."""
    if not outcome.complete:
        pytest.skip("needs control groups and CPU-time budgets (the fork server as root)")
    import asyncio

    from kernels import _run

    grader = outcome.grader
    lenet = variant("lenet.ipynb", tmp_path)

    async def both():
        hog = asyncio.ensure_future(_run(grader, [HOG], ["started"], None))
        await asyncio.sleep(2)  # the loops are running when LeNet starts
        victim = await grader.grade_async(lenet, course.get("lenet"))
        return await hog, victim

    (_, hog_values), victim = asyncio.run(both())
    assert hog_values["started"] >= 30
    assert victim.errors == [] and victim.score == victim.max_score == course.get("lenet").max_score
    assert victim.sandbox["cpu_time_budget"] and victim.sandbox["resource_groups"]


def test_each_confinement_is_one_group_of_one_worker(request, outcome):
    """Each confinement's expensive fixture is built once only if its tests stay on one xdist
    worker (--dist loadgroup suffixes their node ids with their group). Fails if grouping stops."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith(f"@test_sandbox-{outcome.kind}"), request.node.nodeid


def test_as_root_each_kernel_is_forked_straight_into_a_pid_namespace_of_its_own(grader):
    """No keeper between the warm parent and a kernel as root (`forkserver._fork_into_new_pid_namespace`):
    each kernel is PID 1 of a namespace of its own and a child of the warm parent itself, and
    the warm parent stepped back into its own namespace after each fork (the next kernel gets
    a namespace of its own too, and the judge still starts)."""
    import asyncio

    import psutil

    from grader.kernel_manager import discard

    if os.geteuid() != 0:
        pytest.skip("as root only: without root a keeper makes the kernel's user and PID namespaces")

    def nspid(pid: int) -> list[str]:
        with open(f"/proc/{pid}/status") as f:
            return next(line.split()[1:] for line in f if line.startswith("NSpid:"))

    def server(process: psutil.Process) -> bool:
        return "grader.forkserver" in " ".join(process.cmdline()) and "bwrap" not in process.name()

    async def main() -> list[list[tuple[list[str], bool]]]:
        grader.start()
        seen = []
        for _ in range(2):
            kernel = await grader.backend.start_kernel(grader.new_scratch())
            try:
                # Every kernel below us (other tests' graders may have kernels too): a server
                # process in a PID namespace below its parent's, and whose parent is the warm
                # parent itself (a server whose parent is no server), not a keeper.
                kernels = []
                for p in psutil.Process().children(recursive=True):
                    if server(p) and len(nspid(p.pid)) > len(nspid(p.ppid())):
                        kernels.append((nspid(p.pid), not server(p.parent().parent())))
                seen.append(kernels)
            finally:
                await discard(kernel)
        return seen

    for kernels in asyncio.run(main()):
        assert kernels  # this one at least
        for namespaced, child_of_the_warm_parent in kernels:
            assert namespaced[-1] == "1"  # its namespace's PID 1
            assert child_of_the_warm_parent  # no keeper
    result = grader.grade(str(Path(__file__).parent.parent.parent / "reference" / "conv-layer.ipynb"), "conv-layer")
    assert result.score == result.max_score  # kernels and the judge after those forks
