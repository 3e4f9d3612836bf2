"""Run a job in a confined child of a warm fork server, under limits; a pool of such servers per process."""

from __future__ import annotations

import atexit
import json
import os
import select
import selectors
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

from ..i18n import translate
from . import wire

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
    ended: str = "ok"  # in English: "ok", "timeout", "crashed (signal N, NAME)", "exit N", "too much output", ...
    seconds: float = 0.0


class IsolationError(RuntimeError):
    """This machine cannot give the sandbox its namespaces, and weak isolation was not allowed."""


def scrubbed_env() -> dict[str, str]:
    """Return the fork server's whole environment: nothing inherited from the instructor's shell."""
    return {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


class Sandbox:
    """One warm fork server; `run` confines one job per call, from any number of threads at once.

    The server starts in the background as soon as the object is made; the first `run` waits for it. With
    `torch` it imports and warms up torch for every child; without, children that import torch pay for it.
    """

    def __init__(self, weak: bool = False, torch: bool = True):
        self._sock, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "attnbook.grading.forkserver", str(theirs.fileno()),
             "weak" if weak else "strong", "torch" if torch else "numpy"],
            pass_fds=[theirs.fileno()], env=scrubbed_env(), cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._send_lock, self._ready_lock = threading.Lock(), threading.Lock()
        self.broken, self.isolation, self.filter, self.cgroup = False, "", False, False
        self._ready_error: IsolationError | None = None

    def wait_ready(self) -> None:
        """Wait until the server has warmed up and a probe child ran; raise IsolationError if it cannot."""
        with self._ready_lock:
            if self.isolation:
                if self._ready_error:
                    raise self._ready_error
                return
            ready = _read_line(self._sock, 300)
            info = json.loads(ready) if ready else {"ready": "none"}
            self.isolation, self.filter, self.cgroup = info["ready"], info.get("filter"), info.get("cgroup")
            probe = self._run({"program": [], "calls": []}, Limits(wall_seconds=30))
            if probe.ended != "ok":
                reason = next((r["setup_error"] for r in probe.records if "setup_error" in r), probe.ended)
                self._ready_error = IsolationError(f"the sandbox cannot isolate student code here ({reason})")
                self.close()
                raise self._ready_error

    def describe(self) -> str:
        """Return one line saying what confines the children of this server."""
        self.wait_ready()
        return (f"isolation {self.isolation}; system-call filter {'on' if self.filter else 'OFF'}; "
                f"memory and pids cgroup {'on' if self.cgroup else 'OFF'}")

    def run(self, job: dict, limits: Limits) -> ChildResult:
        """Run `job` (see child.py) in a fresh confined child; never raises for anything the child does."""
        self.wait_ready()
        return self._run(job, limits)

    def _run(self, job: dict, limits: Limits) -> ChildResult:
        result, start = ChildResult(), time.monotonic()
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        rep_r, rep_w = os.pipe()
        first = job.get("start", 0)
        request = {"limits": asdict(limits), "cells": len(job["program"]), "first_call": first,
                   "calls": len(job["calls"]) - first}
        try:
            with self._send_lock:
                socket.send_fds(self._sock, [json.dumps(request).encode() + b"\n"], [job_r, res_w, rep_w])
        except OSError:
            self.broken = True
        finally:
            for fd in (job_r, res_w, rep_w):
                os.close(fd)
        writer = threading.Thread(target=_write_job, args=(job_w, job), daemon=True)
        writer.start()
        result.ended = _collect(res_r, limits, start, result.records)
        status = _read_fd_line(rep_r, limits.wall_seconds + 30)
        writer.join()
        # Endings stay English (the grader tests them) and are catalogue templates (a student reads them translated).
        ended = json.loads(status)["ended"] if status else translate("the sandbox server died", "en")
        if result.ended == "ok" or ended != "ok":
            result.ended = ended
        if any("setup_error" in r for r in result.records):
            result.ended = "sandbox setup failed"
        result.seconds = time.monotonic() - start
        return result

    def close(self) -> None:
        """Stop the fork server."""
        self.broken = True
        self._sock.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _write_job(fd: int, job: dict) -> None:
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(job).encode() + b"\n")
    except OSError:
        pass  # the child died before reading its job: the status says why


def _read_line(sock: socket.socket, timeout: float) -> bytes | None:
    deadline, data = time.monotonic() + timeout, b""
    while not data.endswith(b"\n"):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1)
        except (TimeoutError, OSError):
            chunk = b""
        if not chunk:
            return None
        data += chunk
    return data


def _read_fd_line(fd: int, timeout: float) -> bytes | None:
    """Read a short report from a pipe until its writer closes it (or `timeout` passes)."""
    deadline, data = time.monotonic() + timeout, b""
    try:
        while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk or len(data) > 1 << 16:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.strip() or None


def _collect(read_fd: int, limits: Limits, start: float, records: list[dict]) -> str:
    """Read record lines until the keeper closes the pipe (it enforces the limits and passes on only the
    expected records; this is a backstop). Work and memory are linear in what arrives: each byte is
    scanned for a newline once, and no more than the result limit is ever held."""
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    line, held = bytearray(), 0
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
            held += len(chunk)
            if held > limits.result_bytes + (1 << 20):
                return "too much output"
            begin = 0
            while (end := chunk.find(b"\n", begin)) >= 0:
                line += chunk[begin:end]
                records.append(_record(line))
                line, begin = bytearray(), end + 1
            line += chunk[begin:]
    finally:
        sel.close()
        os.close(read_fd)


def _record(line: bytes) -> dict:
    try:
        return wire.record(line)
    except wire.WireError as exc:
        return {"refused": str(exc)}


_server: Sandbox | None = None
_torch = True  # whether this process's fork server preloads torch
_lock = threading.Lock()


def prestart(torch: bool = True) -> None:
    """Start this process's fork server in the background (its warm-up overlaps the caller's work), with
    torch preloaded or not (numpy-only assignments start about 1.5 s sooner without it)."""
    global _server, _torch
    with _lock:
        if _server is None:
            _torch = torch
            _server = Sandbox(torch=torch)


def shared(weak_ok: bool = False) -> Sandbox:
    """Return this process's warm fork server, started on first use: one serves every thread at once.
    Where full isolation fails, raise IsolationError, or fall back to weak isolation when `weak_ok`."""
    global _server
    with _lock:
        if _server is None or _server.broken:
            if _server is not None:
                _server.close()
            _server = Sandbox(torch=_torch)
        box = _server
    try:
        box.wait_ready()
    except IsolationError as exc:
        if not weak_ok:
            raise IsolationError(f"{exc}: {WEAK_HINT}") from None
        with _lock:
            if _server is box:
                print(f"attnbook: WEAK ISOLATION, {exc}", file=sys.stderr)
                _server = Sandbox(weak=True, torch=_torch)
            box = _server
        box.wait_ready()
    return box


@contextmanager
def lease(weak_ok: bool = False) -> Iterator[Sandbox]:
    """Lend this process's fork server for a `with` block (kept for callers that grade one job)."""
    yield shared(weak_ok)


@atexit.register
def close_all() -> None:
    """Stop the fork server this process started."""
    global _server
    with _lock:
        if _server is not None:
            _server.close()
        _server = None
