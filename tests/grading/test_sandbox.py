"""The sandbox itself: private read-only view, no network, throw-away user, limits, clean kills, warm start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attnbook.grading import sandbox
from attnbook.grading.isolation import SANDBOX_UID_BASE
from attnbook.grading.sandbox import Limits
from conftest import ROOT

sys.path.insert(0, str(ROOT / "autograde" / "samples" / "attacks"))

BIN = Path(sys.executable).parent
PROBE = r'''
import json, os, socket, sys
def probe(secret_file, port):
    seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "cwd": os.getcwd(), "env": dict(os.environ)}
    for name, path in (("solutions", COURSE + "/solutions"), ("checks", COURSE + "/autograde"),
                       ("tests", COURSE + "/tests"), ("host_tmp_file", secret_file)):
        seen[name] = os.path.exists(path)
    seen["proc"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    for name, path in (("etc", "/etc/attnbook-probe"), ("python", sys.prefix + "/attnbook-probe"),
                       ("course", COURSE + "/attnbook-probe")):
        try:
            open(path, "w").close()
            seen["wrote_" + name] = True
        except OSError:
            seen["wrote_" + name] = False
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
        seen["network"] = "connected"
    except OSError as exc:
        seen["network"] = exc.strerror
    return json.dumps(seen)
'''.replace("COURSE", repr(str(ROOT)))


def _call(code: str, name: str, *args, limits: Limits = Limits(call_seconds=5), weak_ok: bool = False):
    from attnbook.grading import wire

    job = {"program": [["cell", code]], "timeout": limits.call_seconds,
           "calls": [{"name": name, "driver": "call", "args": wire.encode(args), "kwargs": wire.encode({})}]}
    with sandbox.lease(weak_ok) as box:
        result = box.run(job, limits)
    calls = [r for r in result.records if "call" in r]
    return result, (wire.decode(calls[0]["value"]) if calls and "value" in calls[0] else calls)


def _sandbox_processes() -> list[int]:
    """Return the sandboxed processes of this checkout's grader still alive (on a machine shared with other
    checkouts, theirs are not counted: a sandboxed process is a fork of its fork server's Python)."""
    left = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1]
            ours = (status.parent / "cmdline").read_bytes().startswith(sys.executable.encode() + b"\0")
        except (OSError, StopIteration):
            continue
        if int(uid) >= SANDBOX_UID_BASE and ours:
            left.append(int(status.parent.name))
    return left


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.5)
        yield server


def test_student_code_sees_only_a_private_read_only_system(tmp_path, listener):
    secret = tmp_path / "instructor-secret.txt"
    secret.write_text("s3cret")
    result, seen = _call(PROBE, "probe", str(secret), listener.getsockname()[1])
    assert result.ended == "ok", result
    seen = json.loads(seen)
    assert not any(seen[k] for k in ("solutions", "checks", "tests", "host_tmp_file")), seen
    assert not any(seen[k] for k in ("wrote_etc", "wrote_python", "wrote_course")), seen
    assert seen["network"] in ("Network is unreachable", "Connection refused"), seen
    with pytest.raises(OSError):
        listener.accept()
    assert seen["env"] == {"HOME": "/tmp", "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    assert seen["cwd"] == "/tmp" and len(seen["proc"]) <= 2
    if os.geteuid() == 0:
        assert seen["uid"] >= SANDBOX_UID_BASE
    assert set(seen["root"]) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp",
                                 *{p.split("/")[1] for p in sys.path if p.startswith("/")}}


def test_limits_turn_bombs_into_errors():
    code = '''
import os, numpy as np
def bombs():
    out = {}
    for name, bomb in (("memory", lambda: np.ones(2**29)), ("file", lambda: open("big", "wb").write(b"x" * 2**25)),
                       ("files", lambda: [open("/dev/null") for _ in range(1000)])):
        try:
            bomb()
            out[name] = "ok"
        except (MemoryError, OSError) as exc:
            out[name] = type(exc).__name__
    pids = []
    for _ in range(100):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.setsid()
            import time
            time.sleep(600)
        pids.append(pid)
    out["forks"] = len(pids)
    return out
'''
    limits = Limits(call_seconds=10, memory_bytes=2**30, file_bytes=2**20, processes=8, open_files=32)
    result, out = _call(code, "bombs", limits=limits)
    assert result.ended == "ok"
    assert out["memory"] == "MemoryError" and out["file"] == "OSError" and out["files"] == "OSError", out
    assert out["forks"] < 8
    assert not _sandbox_processes(), "a process that left the process group outlived its sandbox"


def test_blocked_alarm_and_endless_loop_are_killed_on_time():
    code = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\ndef spin():\n    while True:\n        pass\n"
    start = time.monotonic()
    result, _ = _call(code, "spin", limits=Limits(call_seconds=1, wall_seconds=60))
    assert result.ended == "it ran past the 1 s limit of a call" and time.monotonic() - start < 10
    assert not _sandbox_processes()


def test_a_warm_child_starts_much_faster_than_a_new_python():
    _call("def f():\n    return 1\n", "f")  # warm the server up
    start = time.monotonic()
    for _ in range(5):
        result, value = _call("def f():\n    return 1\n", "f")
        assert value == 1
    warm = (time.monotonic() - start) / 5
    start = time.monotonic()
    subprocess.run([sys.executable, "-I", "-c", "import numpy, torch"], check=True)
    cold = time.monotonic() - start
    print(f"warm sandboxed child: {warm * 1000:.0f} ms, new python with numpy and torch: {cold * 1000:.0f} ms")
    assert warm * 3 < cold


def test_a_server_without_torch_lets_a_student_import_it_inside_the_limits():
    """numpy-only assignments start their fork server without torch (about 1.5 s sooner); a student who
    imports torch anyway pays for the import in their own child, under the filter and the cgroup."""
    from attnbook.grading import wire

    code = ("import sys\ndef f():\n    before = 'torch' in sys.modules\n    import torch\n"
            "    return [before, float(torch.ones(3).sum())]\n")
    job = {"program": [["cell", code]], "timeout": 30,
           "calls": [{"name": "f", "driver": "call", "args": wire.encode(()), "kwargs": wire.encode({})}]}
    box = sandbox.Sandbox(torch=False)
    try:
        box.wait_ready()
        result = box.run(job, Limits(call_seconds=30))
    finally:
        box.close()
    calls = [r for r in result.records if "call" in r]
    assert result.ended == "ok" and wire.decode(calls[0]["value"]) == [False, 3.0]


def test_which_assignments_start_their_server_with_torch(tmp_path):
    from attnbook.grading.checks import uses_torch

    solutions, checks = ROOT / "solutions", ROOT / "autograde" / "checks"
    assert not uses_torch("ch04_three_stages", solutions, checks)  # torch named only in its prose
    assert uses_torch("ch08_attention_vs_self", solutions, checks)
    assert uses_torch("no_such_assignment", tmp_path, tmp_path)  # unreadable: the server gets everything


def _unshare_user(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", script], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})


@pytest.fixture
def user_namespaces():
    if subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode:
        pytest.skip("this kernel does not allow user namespaces: the unprivileged and refusal paths are untested")


def test_without_namespaces_grading_is_refused_unless_weak_isolation_is_asked_for(user_namespaces, tmp_path):
    no_ns = "echo 0 > /proc/sys/user/max_user_namespaces && exec attnbook autograde autograde/samples/ch01_bottleneck " \
            f"--assignment ch01_bottleneck --workers 1 --out {tmp_path}/"
    refused = _unshare_user(no_ns + "refused")
    assert refused.returncode == 3 and "--weak-isolation" in refused.stderr, refused.stderr
    weak = _unshare_user(no_ns + "weak --weak-isolation")
    assert weak.returncode == 0 and "WEAK ISOLATION" in weak.stderr, weak.stderr
    assert "correct,ch01_bottleneck,10,10" in (tmp_path / "weak" / "grades.csv").read_text()


def test_unprivileged_user_namespace_mode_isolates_as_well(user_namespaces, tmp_path, listener):
    script = (f"import json; from attnbook.grading import sandbox; from test_sandbox import _call, PROBE; "
              f"box = sandbox.shared(); r, seen = _call(PROBE, 'probe', '{tmp_path}', {listener.getsockname()[1]}); "
              f"print(json.dumps([box.isolation, r.ended, json.loads(seen)]))")
    run = _unshare_user(f"PYTHONPATH=tests/grading:tests exec {sys.executable} -c \"{script}\"")
    assert run.returncode == 0, run.stderr
    isolation, ended, seen = json.loads(run.stdout.splitlines()[-1])
    assert isolation == "userns" and ended == "ok"
    assert not any(seen[k] for k in ("solutions", "checks", "tests", "host_tmp_file", "wrote_etc"))
    # In this mode the student owns the sandbox's private /tmp, where a course under the host's /tmp has its
    # mount points: a write there may succeed, but must never reach the host.
    assert not (ROOT / "attnbook-probe").exists()
    assert seen["network"] in ("Network is unreachable", "Connection refused")


# ---- Issue 9: limits kept from outside the student's process --------------------------------------------

def test_a_call_that_switches_its_alarm_off_and_sends_heartbeats_is_stopped_at_its_limit():
    from make_attacks import HEARTBEAT

    code = "def spin():\n" + "".join(f"    {line}\n" for line in HEARTBEAT.strip().splitlines())
    start = time.monotonic()
    result, _ = _call(code, "spin", limits=Limits(call_seconds=1, wall_seconds=60))
    assert result.ended == "it ran past the 1 s limit of a call", result.ended
    assert time.monotonic() - start < 10
    assert [r for r in result.records if "call" in r] == []  # its forged lines never reached the grader
    assert not _sandbox_processes()


KERNEL_PROBE = r'''
import ctypes, errno, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
def _errno(result):
    return "allowed" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def _clone(flags):
    pid = libc.syscall(56, flags | 17, 0, 0, 0, 0)  # x86_64 clone(flags | SIGCHLD)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return _errno(pid)
def probe():
    seen = {"unshare_user": _errno(libc.unshare(0x10000000)), "unshare_ipc": _errno(libc.unshare(0x08000000)),
            "clone_newuser": _clone(0x10000000), "clone_newns": _clone(0x00020000),
            "setns": _errno(libc.setns(os.open("/proc/self/ns/uts", os.O_RDONLY), 0)),
            "add_key": _errno(libc.syscall(248, b"user", b"k", b"v", 1, -4)),  # KEY_SPEC_USER_KEYRING
            "keyctl": _errno(libc.syscall(250, 0, -4, 0, 0, 0)),
            "shmget": _errno(libc.shmget(0, 1 << 20, 0o1000 | 0o600)),
            "msgget": _errno(libc.msgget(0, 0o1000 | 0o600)), "semget": _errno(libc.semget(0, 1, 0o1000 | 0o600)),
            "ptrace": _errno(libc.ptrace(0, 0, 0, 0)),  # PTRACE_TRACEME
            "mount": _errno(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
            "umount": _errno(libc.umount2(b"/proc", 2)),
            "pivot_root": _errno(libc.syscall(155, b"/tmp", b"/tmp")),
            "bpf": _errno(libc.syscall(321, 0, 0, 0)), "perf_event_open": _errno(libc.syscall(298, 0, 0, -1, -1, 0)),
            "userfaultfd": _errno(libc.syscall(323, 1)),  # UFFD_USER_MODE_ONLY: allowed to anyone without a filter
            "io_uring_setup": _errno(libc.syscall(425, 1, ctypes.create_string_buffer(120))),
            "memfd_create": _errno(libc.memfd_create(b"x", 0))}
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()
    seen["thread"] = "allowed"
    seen["subprocess"] = "allowed" if subprocess.run(["true"]).returncode == 0 else "refused"
    import numpy, torch
    seen["torch"] = "allowed" if float(torch.ones(3).sum()) == float(numpy.ones(3).sum()) else "wrong"
    return seen
'''


@pytest.fixture(scope="module")
def confined() -> sandbox.Sandbox:
    box = sandbox.shared()
    if not box.filter:
        pytest.skip("pyseccomp or libseccomp2 is missing: the system-call filter is untested")
    return box


def test_kernel_facilities_that_escape_namespaces_and_rlimits_are_refused(confined):
    result, seen = _call(KERNEL_PROBE, "probe")
    assert result.ended == "ok", result
    allowed = {"thread", "subprocess", "torch"}
    assert {k for k, v in seen.items() if v == "allowed"} == allowed, seen
    assert all(seen[k] == "EPERM" for k in seen if k not in allowed), seen


def test_memory_that_no_resident_set_shows_is_bounded_by_the_cgroup(confined):
    if not confined.cgroup:
        pytest.skip("no memory cgroup for the sandbox on this machine (cgroup v1 memory and pids, as root)")
    code = ("def hoard():\n    for i in range(40):\n        with open(f'/tmp/part{i}', 'wb') as fh:\n"
            "            fh.write(b'x' * (16 << 20))\n    return 'kept 640 MiB in tmpfs'\n")
    limits = Limits(call_seconds=20, memory_bytes=256 << 20, tmp_bytes=1 << 30, file_bytes=1 << 30)
    result, value = _call(code, "hoard", limits=limits)
    assert result.ended == "used more than 256 MiB of memory", (result.ended, value)
    assert not _sandbox_processes()


FLOODS = {
    "one 60 MiB string": "b'{\"call\": 0, \"value\": \"' + b'y' * (60 << 20) + b'\"}\\n'",
    "20 M empty lists (a JSON blow-up)": "b'{\"call\": 0, \"value\": [' + b'[],' * (20 << 20) + b'[]]}\\n'",
    "60 M empty lines": "b'\\n' * (60 << 20)",
    "one line that never ends": "b'{\"call\": 0, \"value\": ' + b'7' * (60 << 20)",
}
MEASURE = r'''
import json, resource, sys, time
from attnbook.grading import runner, sandbox
job = {"program": [["cell", "import os\ndef flood():\n    os.write(3, " + sys.argv[1] + ")\n    os._exit(0)\n"]],
       "calls": [{"name": "flood", "driver": "call", "args": [], "kwargs": {"__dict__": []}}], "timeout": 30}
box = sandbox.shared()
box.run({"program": [], "calls": []}, sandbox.Limits())
before, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time()
result = box.run(job, sandbox.Limits(call_seconds=30))
outcomes = [runner._outcome(r) for r in result.records[1:]]
print(json.dumps({"grown_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, "ended": result.ended,
                  "cpu": time.process_time() - cpu, "outcomes": [o.error or "ok" for o in outcomes]}))
'''


@pytest.mark.parametrize("flood", FLOODS)
def test_the_parent_reads_64_mib_of_child_output_in_linear_time_and_bounded_memory(flood):
    run = subprocess.run([sys.executable, "-c", MEASURE, FLOODS[flood]], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    print(flood, seen)
    assert seen["grown_kib"] < 4 * 64 * 1024, seen  # a small multiple of what was sent, never a blow-up
    assert seen["ended"] in ("ok", "exit 0"), seen


def test_the_keeper_passes_on_exactly_the_expected_records_whatever_junk_surrounds_them():
    import random

    from attnbook.grading.forkserver import Records

    real = [b'{"cell": 0, "id": "a", "error": null}\n', b'{"cell": 1, "id": "b", "error": "x"}\n',
            b'{"call": 3, "value": 1}\n', b'{"call": 4, "value": [1, 2]}\n']
    junk = [b"\n", b"garbage", b'{"call": 9, "value": 1}\n', b'{"cell": 7, "id": "fake"}\n', b'{"ca', b'll": 8, \n',
            b'\n{"call": 33, "v": 1}\n', b"x" * 5000]
    for trial in range(500):
        rng = random.Random(trial)
        stream = b""
        for record in real:
            stream += b"".join(rng.choice(junk) for _ in range(rng.randrange(3)))
            stream += (b"\n" if stream and not stream.endswith(b"\n") else b"") + record
        stream += b"".join(rng.choice(junk) for _ in range(3))
        records, passed, done, pos = Records(2, 3, 2), b"", 0, 0
        while pos < len(stream):
            step = rng.randrange(1, 64)
            out, completed = records.feed(stream[pos:pos + step])
            passed, done, pos = passed + out, done + completed, pos + step
        assert passed == b"".join(real) and done == 4 and records.complete, (trial, stream)
