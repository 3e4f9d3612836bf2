"""Inside the sandbox: run the student's cells, call the exercises, write plain results.

Protocol: the job is one JSON line read from `job_fd`: `{"program": [[grade_id, source], ...],
"calls": [...], "start": i, "timeout": s, "language": lang}` (the language of the messages written here; the
fork server has read the catalogues before forking), each call `{"name", "driver", "args", "kwargs"}` in wire
encoding. One JSON line per event goes to `result_fd`: `{"cell": i, "id": grade_id, "error": str|None}`
for each cell i, then `{"call": i, "value": ...}` or `{"call": i, "error": str, "type": exception class
name}` for calls `start`, `start + 1`, ... (after a call times out, the exercise's later calls are
skipped). The own alarm here is a courtesy that lets an honest slow call report itself and the child go
on; the limits are kept outside (forkserver.py). The parent trusts none of it: every value is validated
there.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import traceback

from .. import i18n
from ..i18n import t
from . import drivers, wire


class CallTimeout(BaseException):
    """Raised inside a call that ran past its time limit (BaseException: `except Exception` cannot eat it)."""


def _on_alarm(signum, frame):
    raise CallTimeout()


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    line = next((f.lineno for f in reversed(frames) if f.filename.startswith("<cell ")), None)
    text = f"{type(exc).__name__}: {exc}"[:500]
    return t("{error} (line {line})", error=text, line=line) if line else text


@functools.cache
def _at_line(lang: str) -> re.Pattern:
    head, _, tail = i18n.translate("{error} (line {line})", lang).partition("{error}")
    return re.compile(re.escape(head) + "(.*)" + re.escape(tail).replace(re.escape("{line}"), r"\d+") + r"\Z", re.S)


def without_line(error: str) -> str:
    """Return an error message that `_describe` wrote in the current language without its line number."""
    match = _at_line(i18n.current()).match(error)
    return match.group(1) if match else error


def run(job_fd: int, result_fd: int) -> None:
    """Run one job and exit the process (never returns)."""
    with os.fdopen(job_fd, "rb") as fh:
        job = json.loads(fh.readline())
    out = os.fdopen(result_fd, "w", buffering=1)
    if job.get("language") in i18n.LANGUAGES:
        i18n.use_language(job["language"])

    def emit(record: dict) -> None:
        out.write(json.dumps(record) + "\n")

    timeout = float(job.get("timeout", 10))
    signal.signal(signal.SIGALRM, _on_alarm)
    ns: dict = {"__name__": "__main__"}
    for index, (grade_id, source) in enumerate(job["program"]):
        error = None
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            exec(compile(source, f"<cell {grade_id}>", "exec"), ns)
        except CallTimeout:
            error = t("the cell ran longer than {limit:g} s", limit=timeout)
        except BaseException as exc:  # noqa: BLE001  (student code may raise anything, SystemExit too)
            error = _describe(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        emit({"cell": index, "id": grade_id, "error": error})
    timed_out: set[str] = set()
    for i, call in enumerate(job["calls"]):
        if i < job.get("start", 0):
            continue
        record: dict = {"call": i}
        if call["name"] in timed_out:
            emit({**record, "error": t("not run: an earlier call ran out of time"), "type": "Timeout"})
            continue
        try:
            args, kwargs = wire.decode(call["args"]), wire.decode(call["kwargs"])
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                value = drivers.DRIVERS[call["driver"]](ns, call["name"], list(args), dict(kwargs))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            record["value"] = wire.encode(value)
        except CallTimeout:
            record.update(error=t("the call ran longer than {limit:g} s", limit=timeout), type="Timeout")
            timed_out.add(call["name"])
        except BaseException as exc:  # noqa: BLE001
            record.update(error=_describe(exc), type=type(exc).__name__)
        emit(record)
    out.flush()
    os._exit(0)
