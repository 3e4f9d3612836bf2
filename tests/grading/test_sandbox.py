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
    left = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1]
        except (OSError, StopIteration):
            continue
        if int(uid) >= SANDBOX_UID_BASE:
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
