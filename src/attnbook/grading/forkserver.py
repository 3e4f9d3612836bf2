"""The warm fork server: imports NumPy (and torch, where the assignment uses it) once, then forks one confined
child per job.

Started by `sandbox.Sandbox` as `python -I -m attnbook.grading.forkserver SOCKET_FD strong|weak torch|numpy`,
with a scrubbed environment. It never holds a reference, a check, a secret or another student's job: the
job travels through a pipe straight from the grader to the child. Per request (one JSON line with the
limits and how many records to expect, plus three file descriptors: the job's read end, the results'
write end and the report's write end) it forks a *keeper* and goes back to listening, so one server
serves every grading thread at once. The keeper puts itself in a fresh memory and pids cgroup (where
there is one), enters fresh namespaces and forks the *child* (PID 1 of the new PID namespace, so
killing it kills everything the student started). The child loads the system-call filter just before
the student's code. The keeper keeps every deadline from outside, passes on only the records the grader
expects, in order, and writes one JSON line `{"ended": ...}` to the report pipe. How a child ended is
written in English, from templates (this process never changes its language): the grader tests it as it is
and translates it for the student (`i18n.retranslate`).
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

from ..i18n import t

SETUP_FAILED = 121
DEADLINE_GRACE = 2.0   # the child's own alarm fires at the limit; the keeper kills this much later
EXIT_GRACE = 1.0       # time to exit after the last record


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


class Records:
    """Split the child's output into lines and keep only the records the grader expects, in order.

    The expected records are `{"cell": i, ...` for each program cell, then `{"call": j, ...` for each
    call; a first line `{"setup_error": ...` is kept too. Everything else is skipped as it streams by,
    with one C-speed search per chunk for where the next expected record starts, so that junk of any
    shape (one endless line, millions of empty ones) costs the keeper a few bytes of memory and the grader
    nothing.
    """

    SETUP = b'{"setup_error": '

    def __init__(self, cells: int, first_call: int, calls: int):
        self.cells = cells
        self.prefixes = [b'{"cell": %d, ' % i for i in range(cells)]
        self.prefixes += [b'{"call": %d, ' % i for i in range(first_call, first_call + calls)]
        self.done, self.keep, self.setup, self.carry, self.line_start = 0, False, False, b"", True

    @property
    def complete(self) -> bool:
        """Return True once every expected record has arrived."""
        return self.done == len(self.prefixes)

    def _next_start(self, data: bytes, pos: int) -> tuple[int, bool] | None:
        """Return (where the next expected line starts, whether it is the setup line), if it is in `data`."""
        wanted = [] if self.complete else [(self.prefixes[self.done], False)]
        wanted += [(self.SETUP, True)] if self.done == 0 else []
        found = []
        for prefix, setup in wanted:
            if self.line_start and data.startswith(prefix, pos):
                return pos, setup
            at = data.find(b"\n" + prefix, pos)
            if at >= 0:
                found.append((at + 1, setup))
        return min(found) if found else None

    def feed(self, data: bytes) -> tuple[bytes, int]:
        """Return the bytes to pass on from `data`, and how many expected records it completed."""
        data, self.carry = self.carry + data, b""
        out, completed, pos = [], 0, 0
        while pos < len(data):
            if self.keep:
                end = data.find(b"\n", pos)
                if end < 0:
                    out.append(data[pos:])
                    break
                out.append(data[pos:end + 1])
                self.keep, self.line_start, pos = False, True, end + 1
                if not self.setup:
                    self.done += 1
                    completed += 1
                continue
            start = self._next_start(data, pos)
            if start is None:  # keep the tail: an expected line may begin across the chunk boundary
                tail = max(pos, len(data) - len(self.SETUP) - 8)
                self.line_start = self.line_start and tail == pos
                self.carry = data[tail:]
                break
            pos, self.setup = start
            self.keep = True
        return b"".join(out), completed


def _child(request: dict, level: str, job_fd: int, result_fd: int, workdir: str | None, uid: int | None,
           rules) -> None:
    """Confine this process and run the job in it (never returns)."""
    from . import child, isolation, syscalls

    limits = request["limits"]
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")  # the first to go when memory runs out: never the keeper
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
        if rules is not None:
            syscalls.load(rules)
    except BaseException as exc:  # noqa: BLE001
        os.write(result_fd, (json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        os._exit(SETUP_FAILED)
    child.run(0, 3)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return t("crashed (signal {number}, {name})", number=os.WTERMSIG(status),
                 name=signal.Signals(os.WTERMSIG(status)).name)
    code = os.WEXITSTATUS(status)
    return "ok" if code == 0 else t("sandbox setup failed") if code == SETUP_FAILED else t("exit {code}", code=code)


def _keeper(request: dict, level: str, job_fd: int, result_fd: int, report: int, server: int, rules) -> None:
    """Start the confined child, relay its records within the limits, write how it ended to `report`."""
    from . import cgroup, isolation

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    limits, workdir, group = request["limits"], None, None
    uid = isolation.SANDBOX_UID_BASE + os.getpid() if isolation.can_switch_user() else None
    try:
        group = cgroup.Cgroup.create(f"{server}-{os.getpid()}", limits["memory_bytes"], limits["processes"] + 1)
        if group:
            group.enter(os.getpid())  # the child is born inside it; it raises its own OOM score above ours
        if level == "weak":
            workdir = tempfile.mkdtemp(prefix="attnbook-sandbox-")
        else:
            isolation.enter_namespaces(level)
        shared = _tree_rss(os.getpid(), 0)
        relay_r, relay_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(relay_r)
            _child(request, level, job_fd, relay_w, workdir, uid, rules)
        for fd in (job_fd, relay_w):
            os.close(fd)
        records = Records(request["cells"], request["first_call"], request["calls"])
        try:
            ended = _watch(pid, limits, records, relay_r, result_fd, os.pidfd_open(server), shared, group)
        except OSError as exc:  # the grader stopped reading
            _kill(pid)
            ended = t("sandbox error: {reason}", reason=exc)
        if level == "weak":
            _kill(pid, group=True)
    except BaseException as exc:  # noqa: BLE001
        ended = t("sandbox error: {reason}", reason=f"{type(exc).__name__}: {exc}")
    try:
        os.close(result_fd)
        os.write(report, json.dumps({"ended": ended}).encode() + b"\n")
        os.close(report)
    finally:  # cleaning up after the report: the grader need not wait for it
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        if group:
            group.remove(os.getpid())
        os._exit(0)


def _kill(pid: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _watch(pid: int, limits: dict, records: Records, relay: int, result_fd: int, server_fd: int, shared: int,
           group) -> str:
    """Pass the child's records on; kill it (and all it started) past the wall time, when the next record
    is late (a cell or call ran past its limit, whatever the child did to its own alarm; only expected
    records count), past the memory or output limit, or when the server dies."""
    child_fd = os.pidfd_open(pid)
    start = now = time.monotonic()
    deadline = start + limits["call_seconds"] + DEADLINE_GRACE
    sent, ended, watched, checked = 0, None, [child_fd, server_fd, relay], start
    memory = t("used more than {limit:.0f} MiB of memory", limit=limits["memory_bytes"] / 2**20)
    while ended is None:
        ready, _, _ = select.select(watched, [], [], 0.1)
        now = time.monotonic()
        if relay in ready:
            data = os.read(relay, 1 << 16)
            sent += len(data)
            if not data:
                watched.remove(relay)  # the child closed its end: wait for it to exit
            elif sent > limits["result_bytes"]:
                ended = t("too much output")
                break
            else:
                passed, completed = records.feed(data)
                if passed:
                    os.write(result_fd, passed)
                if completed:
                    deadline = now + (EXIT_GRACE if records.complete else limits["call_seconds"] + DEADLINE_GRACE)
        if child_fd in ready:
            status = os.waitpid(pid, 0)[1]
            while relay in watched and sent <= limits["result_bytes"] and select.select([relay], [], [], 0)[0]:
                data = os.read(relay, 1 << 16)
                if not data:
                    break
                sent += len(data)
                os.write(result_fd, records.feed(data)[0])
            return memory if group and group.memory_exceeded() else _describe_exit(status)
        # Checked on every pass, however busy the child keeps the channel.
        if server_fd in ready:
            ended = t("grader stopped")
        elif now - start > limits["wall_seconds"]:
            ended = t("timeout")
        elif now > deadline:
            ended = "ok" if records.complete else _late(records, limits["call_seconds"])
        elif now - checked > 0.1:
            checked = now
            if group.memory_exceeded() if group else _tree_rss(pid, shared) > limits["memory_bytes"]:
                ended = memory
    _kill(pid)
    os.waitpid(pid, 0)
    return ended


def _late(records: Records, limit: float) -> str:
    if records.done < records.cells:
        return t("it ran past the {limit:g} s limit of a cell", limit=limit)
    return t("it ran past the {limit:g} s limit of a call", limit=limit)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def serve(sock: socket.socket, level: str, rules) -> None:
    """Answer requests until the grader closes its end of the socket; every keeper reports on its own pipe."""
    server = os.getpid()
    while True:
        request, fds = _recv_request(sock)
        _reap()
        if request is None:
            return
        pid = os.fork()
        if pid == 0:
            sock.close()
            _keeper(request, level, *fds, server, rules)
        for fd in fds:
            os.close(fd)


def main() -> None:
    """Warm up, tell the grader which isolation this machine gives, then serve."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    requested, preload = sys.argv[2], sys.argv[3]
    import numpy  # noqa: F401  (warm imports shared by every child)

    import attnbook.testing  # noqa: F401  (the templates' helpers)

    from .. import i18n
    from . import cgroup, child, drivers, isolation, syscalls  # noqa: F401

    i18n.load_catalogues()  # the children write messages in any language, and cannot read the catalogues
    if preload == "torch":
        import torch

        torch.set_num_threads(1)
        drivers.warm_up()
    level = "weak" if requested == "weak" else isolation.mode()
    rules = syscalls.build()
    cgroup.remove_stale()
    probe = cgroup.Cgroup.create(f"{os.getpid()}-probe", 2**30, 16)
    if probe:
        probe.remove(os.getpid())
    gc.freeze()  # the warm heap is never traversed again: no child's collector walks (and copies) its pages
    try:
        sock.sendall(json.dumps({"ready": level, "filter": rules is not None, "cgroup": probe is not None})
                     .encode() + b"\n")
    except OSError:  # the grader is gone before it needed a child (it stopped early): nothing to serve
        return
    serve(sock, level, rules)


if __name__ == "__main__":
    main()
