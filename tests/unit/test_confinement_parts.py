"""The sandbox's parts that need no kernel: uid leases, control-group files, the warm parent's
launch (allowlist, environment), the policy object, and the system-call filter."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import cgroups, uids
from grader.limits import Limits
from grader.policy import SandboxPolicy
from grader.warm_parent import ENGINE_MOUNT, SERVER_ENV, plan_launch


# ----------------------------------------------------------------------------- uids
def test_a_uid_range_never_overlaps_accounts_or_subordinate_ranges():
    reserved = [(1000, 1001), (100_000, 165_536), (165_536, 231_072), (5_000, 5_001)]
    assert uids.free_range(100_000, 1000, reserved) == (231_072, 232_072)  # pushed past two adjacent ranges
    assert uids.free_range(2_000, 1000, reserved) == (2_000, 3_000)
    assert uids.free_range(4_500, 1000, reserved) == (5_001, 6_001)


def test_the_real_range_avoids_every_passwd_entry_and_subuid_line():
    start, end = uids.free_range()
    for low, high in uids.reserved_ranges():
        assert high <= start or end <= low


def test_subordinate_files_are_read(tmp_path):
    sub = tmp_path / "subuid"
    sub.write_text("alice:1900000000:70000\nbroken line\n")
    assert (1_900_000_000, 1_900_070_000) in uids.reserved_ranges((str(sub),))
    start, _ = uids.free_range(reserved=uids.reserved_ranges((str(sub),)))
    assert start >= 1_900_070_000


HOLDER = textwrap.dedent(
    """
    import sys, time
    from grader.uids import UidPool
    pool = UidPool(sys.argv[1], start=int(sys.argv[2]), size=int(sys.argv[3]))
    leases = [pool.lease() for _ in range(int(sys.argv[4]))]
    print(" ".join(str(l.uid) for l in leases), flush=True)
    time.sleep(60)
    """
)


def test_two_graders_never_lease_the_same_uid_and_a_dead_grader_frees_its_leases(tmp_path):
    lock_dir = str(tmp_path / "locks")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lock_dir, "2000000000", "8", "5"], stdout=subprocess.PIPE, text=True
    )
    try:
        held = {int(u) for u in holder.stdout.readline().split()}
        assert len(held) == 5
        pool = uids.UidPool(lock_dir, start=2_000_000_000, size=8)
        mine = [pool.lease() for _ in range(3)]
        assert not held & {lease.uid for lease in mine}
        with pytest.raises(uids.NoFreeUid):
            pool.lease()
    finally:
        holder.kill()
        holder.wait()
    again = [pool.lease() for _ in range(5)]  # the dead grader's locks went with it
    assert {lease.uid for lease in again} == held
    mine[0].release()
    assert pool.lease().uid == mine[0].uid


# ----------------------------------------------------------------------------- control groups
def _fake_v2(root):
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_cgroup_v2_kernel_groups_get_their_limits_before_anyone_joins(tmp_path):
    tree = cgroups.open_tree("d2l-test", str(_fake_v2(tmp_path)))
    assert tree.version == 2 and (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    group = tree.kernel_group(memory_bytes=512 << 20, processes=32, cpus=1.0)
    folder = tmp_path / "d2l-test" / "kernel-1"
    assert (folder / "memory.max").read_text() == str(512 << 20)
    assert (folder / "pids.max").read_text() == "32"
    assert (folder / "cpu.max").read_text() == "100000 100000"
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.cpu_seconds() == 2.5 and group.oom_kills() == 1


def test_cgroup_v2_without_the_needed_controllers_is_unavailable(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset io\n")
    with pytest.raises(cgroups.CgroupUnavailable, match="memory, pids, cpu"):
        cgroups.open_tree("d2l-test", str(tmp_path))


def test_cgroup_v1_uses_one_tree_per_controller(tmp_path):
    for controller in cgroups.V1_CONTROLLERS:
        (tmp_path / controller).mkdir()
    tree = cgroups.open_tree("d2l-test", str(tmp_path))
    group = tree.kernel_group(memory_bytes=1 << 30, processes=64, cpus=0.5)
    assert tree.version == 1
    memory = group.dirs["memory"]
    assert Path(memory, "memory.limit_in_bytes").read_text() == str(1 << 30)
    assert Path(group.dirs["pids"], "pids.max").read_text() == "64"
    assert Path(group.dirs["cpu"], "cpu.cfs_quota_us").read_text() == "50000"
    with open(os.path.join(group.dirs["cpuacct"], "cpuacct.usage"), "w") as f:
        f.write("1500000000\n")
    with open(os.path.join(memory, "memory.oom_control"), "w") as f:
        f.write("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.cpu_seconds() == 1.5 and group.oom_kills() == 2


def test_a_missing_v1_controller_is_reported(tmp_path):
    (tmp_path / "memory").mkdir()
    with pytest.raises(cgroups.CgroupUnavailable, match="not mounted"):
        cgroups.open_tree("d2l-test", str(tmp_path))


# ----------------------------------------------------------------------------- the warm parent
def test_the_warm_parent_gets_a_minimal_environment_and_an_allowlisted_root(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTRUCTORS_API_TOKEN", "s3cr3t")
    launch = plan_launch(str(tmp_path), readable=["/srv/data"], writable=[])
    text = " ".join(launch.argv) + repr(launch.env)
    assert "s3cr3t" not in text and "INSTRUCTORS_API_TOKEN" not in text
    if not launch.allowlisted:
        pytest.skip("bubblewrap is not installed here")
    argv = launch.argv
    assert "--clearenv" in argv and "--die-with-parent" in argv and "--unshare-net" in argv
    binds = {argv[i + 2]: argv[i] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--ro-bind-try")}
    assert binds[str(tmp_path)] == "--bind"  # the scratch root is the only writable host folder
    assert all(kind != "--bind" for path, kind in binds.items() if path != str(tmp_path))
    assert not any(path.startswith(("/home", "/srv/", "/opt")) for path in binds if path != "/srv/data")
    engine = os.path.dirname(os.path.abspath(__import__("grader").__file__))
    course = os.path.dirname(engine)
    assert course not in binds and os.path.join(course, "rubrics") not in binds
    if binds.get(os.path.join(ENGINE_MOUNT, "grader")):
        assert ENGINE_MOUNT in launch.server_only  # kernels unmount it
    settings = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setenv"}
    assert set(settings) - {"PYTHONPATH"} == set(SERVER_ENV)  # exactly these, nothing inherited


def test_gpus_join_the_kernels_dev_only_by_their_own_device_nodes(monkeypatch, tmp_path):
    """Where the machine has NVIDIA GPUs, their nodes are bound into the minimal /dev bubblewrap
    makes (probes then train on CUDA); nothing else of the host's /dev comes with them."""
    from grader import warm_parent

    monkeypatch.setattr(warm_parent.glob, "glob", lambda pattern: ["/dev/nvidiactl", "/dev/nvidia0"])
    assert warm_parent.gpu_devices() == ["/dev/nvidia0", "/dev/nvidiactl"]
    assert warm_parent.gpu_devices(wanted=False) == []  # SandboxPolicy(gpu=False)
    launch = plan_launch(str(tmp_path), devices=warm_parent.gpu_devices())
    if not launch.allowlisted:
        pytest.skip("bubblewrap is not installed here")
    bound = [launch.argv[i + 1] for i, a in enumerate(launch.argv) if a.startswith("--dev-bind")]
    assert bound == ["/dev/nvidia0", "/dev/nvidiactl"]
    assert launch.argv[launch.argv.index("--dev") + 1] == "/dev"  # bubblewrap's own minimal /dev


def test_without_bubblewrap_the_warm_parent_still_gets_a_minimal_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTRUCTORS_API_TOKEN", "s3cr3t")
    launch = plan_launch(str(tmp_path), use_bwrap=False)
    assert not launch.allowlisted and "s3cr3t" not in repr(launch.env)
    assert set(launch.env) == {*SERVER_ENV, "PYTHONPATH"}


# ----------------------------------------------------------------------------- the policy
def test_one_policy_object_travels_to_dask_workers_unchanged():
    policy = SandboxPolicy.from_limits(Limits(memory=2 << 30, processes=32), "forkserver", readable=("/data",))
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert (policy.memory_bytes, policy.processes, policy.readable) == (2 << 30, 32, ("/data",))


def test_the_backend_is_chosen_for_the_machine_and_checked():
    assert SandboxPolicy(backend="portable").chosen_backend() == "portable"
    assert SandboxPolicy().chosen_backend() == ("forkserver" if sys.platform.startswith("linux") else "portable")
    with pytest.raises(ValueError, match="backend must be one of"):
        SandboxPolicy(backend="docker")


# ----------------------------------------------------------------------------- the syscall filter
FILTERED = textwrap.dedent(
    """
    import ctypes, subprocess, threading
    from grader import seccomp
    assert seccomp.install() is None
    libc = ctypes.CDLL(None, use_errno=True)
    refused = [libc.unshare(0x10000000) == -1 and ctypes.get_errno() == 1, libc.unshare(0x40000000) == -1]
    thread = threading.Thread(target=lambda: None); thread.start(); thread.join()  # threads still start
    child = subprocess.run(["true"]).returncode  # and processes
    print(all(refused), child)
    """
)


def test_the_syscall_filter_refuses_namespaces_but_not_threads_or_processes():
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    from grader import seccomp

    if seccomp._library() is None:
        pytest.skip("no libseccomp here")
    proc = subprocess.run([sys.executable, "-c", FILTERED], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "0"]


def test_the_set_up_pipe_is_read_by_content_not_order():
    """The kernel may report before its keeper says its pid (a race seen under load)."""
    from grader.forkserver import read_status

    pid, report = b'{"kernel_pid": 10}\n', b'{"filesystem_hidden": true, "pid_namespace": true}\n'
    for lines in ([pid, report], [report, pid]):
        assert read_status(lines) == ({"kernel_pid": 10}, {"filesystem_hidden": True, "pid_namespace": True})
    failed = b'{"error": "OSError: mount"}\n'
    assert read_status([pid, failed]) == ({"kernel_pid": 10}, {"error": "OSError: mount"})
    assert read_status([failed, b""]) == ({"error": "OSError: mount"}, {"error": "OSError: mount"})
    assert read_status([pid, b""])[1] == {"error": "the kernel exited during set-up"}
    assert read_status([b"", b""])[1] == {"error": "the kernel process exited during set-up"}
    assert read_status([b"{not json", b""])[1] == {"error": "unreadable set-up report"}


def test_scratch_goes_where_socket_paths_fit(tmp_path):
    from grader.grading import SOCKET_PATH_BELOW_BASE, SOCKET_PATH_ROOM, scratch_base

    assert scratch_base("/tmp") == "/tmp"
    deep = str(tmp_path / ("x" * 80))
    assert scratch_base(deep) == "/tmp"
    fits = "/" + "y" * (SOCKET_PATH_ROOM - SOCKET_PATH_BELOW_BASE - 1)
    assert scratch_base(fits) == fits
