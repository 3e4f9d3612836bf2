"""Run a job in a confined child of a warm fork server, under limits; a pool of such servers per process."""

from __future__ import annotations

import atexit
import json
import os
import queue
import selectors
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

WEAK_HINT = ("run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
             "user.max_user_namespaces > 0), or accept weaker isolation with --weak-isolation")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's sandbox."""

    wall_seconds: float = 60.0          # whole submission, all restarts included
    cpu_seconds: int = 60               # per process
    call_seconds: float = 10.0          # per cell and per checked call
    memory_bytes: int = 2 * 2**30       # address space per process, and resident memory of all its processes
    file_bytes: int = 16 * 2**20        # largest file it may write
    tmp_bytes: int = 64 * 2**20         # its whole writable /tmp
    processes: int = 16                 # processes and threads
    open_files: int = 64
    result_bytes: int = 64 * 2**20      # what it may send back


@dataclass
class ChildResult:
    """What came back from the child: one record per event, and how it ended."""

    records: list[dict] = field(default_factory=list)
    ended: str = "ok"  # "ok", "timeout", "crashed (signal N, NAME)", "exit N", "too much output", ...
    seconds: float = 0.0


class IsolationError(RuntimeError):
    """This machine cannot give the sandbox its namespaces, and weak isolation was not allowed."""


def scrubbed_env() -> dict[str, str]:
    """Return the fork server's whole environment: nothing inherited from the instructor's shell."""
    return {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


class Sandbox:
    """One warm fork server; `run` confines one job at a time."""

    def __init__(self, weak: bool = False):
        self._sock, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "attnbook.grading.forkserver", str(theirs.fileno()),
             "weak" if weak else "strong"],
            pass_fds=[theirs.fileno()], env=scrubbed_env(), cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._buffer = b""
        self.broken = False
        ready = self._read_line(300)
        self.isolation = json.loads(ready)["ready"] if ready else "none"
        probe = self.run({"program": [], "calls": []}, Limits(wall_seconds=30))
        if probe.ended != "ok":
            self.close()
            reason = next((r["setup_error"] for r in probe.records if "setup_error" in r), probe.ended)
            raise IsolationError(f"the sandbox cannot isolate student code here ({reason})")

    def _read_line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self._sock.recv(65536)
            except (TimeoutError, OSError):
                chunk = b""
            if not chunk:
                self.broken = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def run(self, job: dict, limits: Limits) -> ChildResult:
        """Run `job` (see child.py) in a fresh confined child; never raises for anything the child does."""
        result, start = ChildResult(), time.monotonic()
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            header = json.dumps({"limits": asdict(limits)}).encode() + b"\n"
            socket.send_fds(self._sock, [header], [job_r, res_w])
        except OSError:
            self.broken = True
        finally:
            os.close(job_r)
            os.close(res_w)
        try:
            with os.fdopen(job_w, "wb") as fh:
                fh.write(json.dumps(job).encode() + b"\n")
        except OSError:
            pass  # the child died before reading its job: the status says why
        result.ended = _collect(res_r, limits, start, result.records, len(job["program"]) + len(job["calls"]) + 1)
        status = self._read_line(limits.wall_seconds + 30) if not self.broken else None
        ended = json.loads(status)["ended"] if status else "the sandbox server died"
        if result.ended == "ok" or ended != "ok":
            result.ended = ended
        if any("setup_error" in r for r in result.records):
            result.ended = "sandbox setup failed"
        result.seconds = time.monotonic() - start
        return result

    def close(self) -> None:
        """Stop the fork server."""
        self._sock.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _collect(read_fd: int, limits: Limits, start: float, records: list[dict], wanted: int) -> str:
    """Read result lines until the keeper closes the pipe (it enforces the limits; this is a backstop);
    keep the first `wanted` records and drop the rest unparsed."""
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    buffer = b""
    try:
        while True:
            remaining = limits.wall_seconds + 10 - (time.monotonic() - start)
            if remaining <= 0:
                return "timeout"
            if not sel.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                return "ok"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            records.extend(_parse(line) for line in lines[:max(0, wanted - len(records))] if line.strip())
    finally:
        sel.close()
        os.close(read_fd)


def _parse(line: bytes) -> dict:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return {"garbled": True}
    return record if isinstance(record, dict) else {"garbled": True}


_idle: dict[bool, queue.SimpleQueue] = {False: queue.SimpleQueue(), True: queue.SimpleQueue()}
_all: list[Sandbox] = []
_lock = threading.Lock()


def start(weak_ok: bool = False) -> Sandbox:
    """Start a fork server with full isolation, or with weak isolation where that fails and `weak_ok`."""
    try:
        return Sandbox()
    except IsolationError as exc:
        if not weak_ok:
            raise IsolationError(f"{exc}: {WEAK_HINT}") from None
        print(f"attnbook: WEAK ISOLATION, {exc}", file=sys.stderr)
        return Sandbox(weak=True)


@contextmanager
def lease(weak_ok: bool = False) -> Iterator[Sandbox]:
    """Lend a warm sandbox of this process (starting one if none is idle); give it back afterwards."""
    try:
        box = _idle[weak_ok].get_nowait()
    except queue.Empty:
        box = start(weak_ok)
        with _lock:
            _all.append(box)
    try:
        yield box
    finally:
        if box.broken:
            box.close()
        else:
            _idle[weak_ok].put(box)


@atexit.register
def close_all() -> None:
    """Stop every fork server this process started."""
    with _lock:
        for box in _all:
            box.close()
        _all.clear()
    for q in _idle.values():
        while not q.empty():
            q.get_nowait()
