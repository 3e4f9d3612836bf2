"""Run the child in a throw-away directory with a scrubbed environment and hard resource limits."""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's child process."""

    wall_seconds: float = 120.0
    cpu_seconds: int = 120
    call_seconds: float = 10.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 16 * 2**20
    processes: int = 64
    result_bytes: int = 256 * 2**20


@dataclass
class ChildResult:
    """What came back from the child: one record per event, and how it ended."""

    records: list[dict] = field(default_factory=list)
    ended: str = "ok"  # "ok", "timeout", "crashed (signal N)", "exit N", "too much output"
    seconds: float = 0.0


def _apply_limits(limits: Limits) -> None:
    for res, value in ((resource.RLIMIT_CPU, limits.cpu_seconds), (resource.RLIMIT_AS, limits.memory_bytes),
                       (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_NPROC, limits.processes),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing the child


def scrubbed_env(workdir: str) -> dict[str, str]:
    """Return the child's whole environment: nothing inherited from the instructor's shell."""
    return {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def run_child(job: dict, limits: Limits) -> ChildResult:
    """Run `attnbook.grading.child` on `job` under `limits`; never raises for anything the child does."""
    result = ChildResult()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="attnbook-child-") as workdir:
        read_fd, write_fd = os.pipe()
        with open(os.path.join(workdir, "output.txt"), "wb") as output:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "attnbook.grading.child", str(write_fd)],
                stdin=subprocess.PIPE, stdout=output, stderr=output, pass_fds=(write_fd,), cwd=workdir,
                env=scrubbed_env(workdir), start_new_session=True, preexec_fn=lambda: _apply_limits(limits))
        os.close(write_fd)
        try:
            proc.stdin.write((json.dumps(job) + "\n").encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        result.ended = _collect(proc, read_fd, limits, start, result.records)
        result.seconds = time.monotonic() - start
    return result


def _collect(proc: subprocess.Popen, read_fd: int, limits: Limits, start: float, records: list[dict]) -> str:
    """Read result lines until the child ends, the wall limit passes or it sends too much."""
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    buffer, total, ended = b"", 0, None
    try:
        while ended is None:
            remaining = limits.wall_seconds - (time.monotonic() - start)
            if remaining <= 0:
                ended = "timeout"
                break
            if not sel.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limits.result_bytes:
                ended = "too much output"
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            records.extend(_parse(line) for line in lines if line.strip())
    finally:
        sel.close()
        os.close(read_fd)
        _kill_group(proc)
    if ended:
        return ended
    code = proc.returncode
    if code < 0:
        return f"crashed (signal {-code}, {signal.Signals(-code).name})"
    return "ok" if code == 0 else f"exit {code}"


def _parse(line: bytes) -> dict:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return {"garbled": True}
    return record if isinstance(record, dict) else {"garbled": True}


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the child's whole process group (it may have forked) and reap the child."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
