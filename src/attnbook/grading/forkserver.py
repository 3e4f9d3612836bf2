"""The warm fork server: imports NumPy and torch once, then forks one confined child per job.

Started by `sandbox.Sandbox` as `python -I -m attnbook.grading.forkserver SOCKET_FD strong|weak`, with
a scrubbed environment. It never holds a reference, a check, a secret or another student's job: the
job travels through a pipe straight from the grader to the child. Per request (one JSON line carrying
the limits, plus two file descriptors: the job's read end and the results' write end) it forks a
*keeper*, which enters fresh namespaces and forks the *child* (PID 1 of the new PID namespace, so
killing it kills everything the student started). The keeper confines the child, watches its wall
time and memory, and reports one JSON line `{"ended": ...}` that the server passes back.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

SETUP_FAILED = 121


def _recv_request(sock: socket.socket) -> tuple[dict | None, list[int]]:
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, new_fds, _, _ = socket.recv_fds(sock, 65536, 4)
        fds += new_fds
        if not chunk:
            return None, fds
        data += chunk
    return json.loads(data), fds


def _tree_rss(pid: int, shared: int) -> int:
    """Return the memory the process tree under `pid` uses beyond the pages it shares with the server."""
    page, total, todo = os.sysconf("SC_PAGE_SIZE"), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += max(0, int(fh.read().split()[1]) * page - shared)
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def _child(limits: dict, level: str, job_fd: int, result_fd: int, workdir: str | None, uid: int | None) -> None:
    """Confine this process and run the job in it (never returns)."""
    from . import child, isolation

    try:
        if level == "weak":
            os.setsid()
            os.chdir(workdir)
        else:
            isolation.build_root(limits["tmp_bytes"])
        null = os.open("/dev/null", os.O_RDWR)
        for fd, target in ((job_fd, 0), (null, 1), (null, 2), (result_fd, 3)):
            os.dup2(fd, target)
        os.closerange(4, 1 << 16)
        if workdir and uid is not None:
            os.chown(workdir, uid, uid)
        isolation.drop_privileges(uid)
        isolation.apply_limits(limits["cpu_seconds"], limits["memory_bytes"], limits["file_bytes"],
                               limits["processes"], limits["open_files"])
        home = workdir or "/tmp"
        os.environ.clear()
        os.environ.update(HOME=home, TMPDIR=home, PATH="/usr/bin:/bin", LANG="C.UTF-8")
    except BaseException as exc:  # noqa: BLE001
        os.write(result_fd, (json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        os._exit(SETUP_FAILED)
    child.run(0, 3)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"crashed (signal {os.WTERMSIG(status)}, {signal.Signals(os.WTERMSIG(status)).name})"
    code = os.WEXITSTATUS(status)
    return "ok" if code == 0 else "sandbox setup failed" if code == SETUP_FAILED else f"exit {code}"


def _keeper(limits: dict, level: str, job_fd: int, result_fd: int, server: int, report: int) -> None:
    """Start the confined child, relay its results within the limits, write how it ended to `report`."""
    from . import isolation

    workdir = None
    uid = isolation.SANDBOX_UID_BASE + os.getpid() if isolation.can_switch_user() else None
    try:
        if level == "weak":
            workdir = tempfile.mkdtemp(prefix="attnbook-sandbox-")
        else:
            isolation.enter_namespaces(level)
        shared = _tree_rss(os.getpid(), 0)
        relay_r, relay_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(relay_r)
            _child(limits, level, job_fd, relay_w, workdir, uid)
        for fd in (job_fd, relay_w):
            os.close(fd)
        try:
            ended = _watch(pid, limits, relay_r, result_fd, os.pidfd_open(server), shared)
        except OSError as exc:  # the grader stopped reading
            _kill(pid)
            ended = f"sandbox error: {exc}"
        if level == "weak":
            _kill(pid, group=True)
    except BaseException as exc:  # noqa: BLE001
        ended = f"sandbox error: {type(exc).__name__}: {exc}"
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    os.write(report, json.dumps({"ended": ended}).encode())
    os._exit(0)


def _kill(pid: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _watch(pid: int, limits: dict, relay: int, result_fd: int, server_fd: int, shared: int) -> str:
    """Pass the child's results on; kill it (and all it started) past the wall time, when a cell or call
    sends nothing for longer than its limit (it blocked the alarm), past the memory or output limit, or
    when the server dies."""
    child_fd = os.pidfd_open(pid)
    start = last = time.monotonic()
    stall = limits["call_seconds"] + 5
    sent, ended, watched = 0, None, [child_fd, server_fd, relay]
    while ended is None:
        ready, _, _ = select.select(watched, [], [], 0.1)
        now = time.monotonic()
        if relay in ready:
            data = os.read(relay, 1 << 16)
            sent += len(data)
            if not data:
                watched.remove(relay)  # the child closed its end: wait for it to exit
            elif sent > limits["result_bytes"]:
                ended = "too much output"
            else:
                last = now if b"\n" in data else last
                os.write(result_fd, data)
                continue
        if ended:
            break
        if child_fd in ready:
            status = os.waitpid(pid, 0)[1]
            while relay in watched and sent <= limits["result_bytes"] and select.select([relay], [], [], 0)[0]:
                data = os.read(relay, 1 << 16)
                if not data:
                    break
                sent += len(data)
                os.write(result_fd, data)
            return _describe_exit(status)
        if server_fd in ready:
            ended = "grader stopped"
        elif now - start > limits["wall_seconds"]:
            ended = "timeout"
        elif now - last > stall:
            ended = f"stalled (nothing for {stall:g} s)"
        elif _tree_rss(pid, shared) > limits["memory_bytes"]:
            ended = f"used more than {limits['memory_bytes'] / 2**20:.0f} MiB of memory"
    _kill(pid)
    os.waitpid(pid, 0)
    return ended


def serve(sock: socket.socket, level: str) -> None:
    """Answer requests until the grader closes its end of the socket."""
    server = os.getpid()
    while True:
        request, fds = _recv_request(sock)
        if request is None:
            return
        job_fd, result_fd = fds
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            sock.close()
            os.close(report_r)
            _keeper(request["limits"], level, job_fd, result_fd, server, report_w)
        for fd in (job_fd, result_fd, report_w):
            os.close(fd)
        keeper_fd = os.pidfd_open(pid)
        while keeper_fd not in select.select([keeper_fd, sock], [], [])[0]:
            if not sock.recv(1, socket.MSG_PEEK):
                return  # the grader is gone: the keeper sees the server exit and kills the child
        os.waitpid(pid, 0)
        os.close(keeper_fd)
        with os.fdopen(report_r, "rb") as fh:
            status = fh.read() or json.dumps({"ended": "sandbox keeper died"}).encode()
        sock.sendall(status + b"\n")


def main() -> None:
    """Warm up, tell the grader which isolation this machine gives, then serve."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    requested = sys.argv[2]
    import numpy  # noqa: F401  (warm imports shared by every child)
    import torch

    from . import child, isolation  # noqa: F401

    torch.set_num_threads(1)
    level = "weak" if requested == "weak" else isolation.mode()
    sock.sendall(json.dumps({"ready": level}).encode() + b"\n")
    serve(sock, level)


if __name__ == "__main__":
    main()
