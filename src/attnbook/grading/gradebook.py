"""Record scores in nbgrader's own gradebook, so `nbgrader export` and formgrader see them.

Recording is idempotent (a grade is set, never added to), so recording a result twice never
double-counts. A `Recorder` writes from a process of its own (`python -m attnbook.grading.gradebook`),
so that importing nbgrader and committing rows run beside the grading instead of in its way; a result
the gradebook refuses is rolled back and listed in `failures`, and the others are recorded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import types
import warnings
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # the recording process itself needs none of the grader
    from .checks import Assignment


_spare: subprocess.Popen | None = None  # a recording process started ahead, for the next Recorder


def _start() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "attnbook.grading.gradebook"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, encoding="utf-8", errors="surrogateescape")


def prestart() -> None:
    """Start the next Recorder's process now, so that its imports run beside the caller's work."""
    global _spare
    if _spare is None:
        _spare = _start()


class Recorder:
    """Record results in the gradebook at `db_url` as they arrive, from a recording process."""

    def __init__(self, db_url: str, assignment: Assignment):
        global _spare
        self._proc, _spare = _spare or _start(), None
        cells = [[c.grade_id, c.points] for c in assignment.template if c.is_test]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._queue.put({"db": db_url, "assignment": assignment.name, "cells": cells})
        self._cell_of = {ex.name: ex.points_cell for ex in assignment.exercises}
        self._thread = threading.Thread(target=self._feed, name="gradebook", daemon=True)
        self._thread.start()
        self.failures: list[str] = []

    def add(self, result) -> None:
        """Queue one SubmissionResult for recording."""
        self._queue.put({"student": result.student,
                         "scores": {self._cell_of[ex.name]: ex.points for ex in result.exercises}})

    def _feed(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._proc.stdin.write(json.dumps(item) + "\n")
                self._proc.stdin.flush()
        except OSError:
            pass  # the recording process died: close() says why
        finally:
            self._proc.stdin.close()

    def close(self) -> None:
        """Wait until everything queued is recorded; raise what went wrong, if anything."""
        self._queue.put(None)
        self._thread.join()
        report = self._proc.stdout.read()
        self._proc.wait()
        try:
            outcome = json.loads(report.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"the gradebook recorder stopped (exit {self._proc.returncode})") from None
        self.failures += outcome["failures"]
        if outcome["error"]:
            raise RuntimeError(f"the gradebook could not be written: {outcome['error']}")

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def record(db_url: str, assignment: Assignment, results: Iterable) -> None:
    """Create the assignment's grade cells if needed and store each result's per-exercise auto scores."""
    with Recorder(db_url, assignment) as recorder:
        for res in results:
            recorder.add(res)


def alembic_head() -> str:
    """Return the head revision of nbgrader's gradebook schema, from alembic's own library.

    nbgrader asks the same question of a new gradebook by starting the `alembic` command (a new Python
    that imports alembic and SQLAlchemy: seconds of CPU); asking in this process gives the same answer
    (a test compares them) in a tenth of a second.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite://") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


def _skip_unused_imports() -> None:
    """Let this recording process import `nbgrader.api` without two costs it never uses (about 2 s of CPU
    beside the grading): jsonschema (through nbformat) builds an IRI grammar at import when rfc3987_syntax
    is installed, and the package `nbgrader` itself loads its Jupyter server extensions. The package is
    entered as a bare namespace over the same folder, so `nbgrader.api` and its imports are the real ones."""
    sys.modules.setdefault("rfc3987_syntax", None)
    if "nbgrader" not in sys.modules:
        package = types.ModuleType("nbgrader")
        package.__path__ = list(importlib.util.find_spec("nbgrader").submodule_search_locations)
        sys.modules["nbgrader"] = package


def _record_all(lines: Iterable[str], failures: list[str]) -> None:
    _skip_unused_imports()
    import nbgrader.api
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import text

    nbgrader.api.get_alembic_version = alembic_head
    from sqlalchemy.exc import SAWarning

    lines = iter(lines)
    first = next(lines, None)
    if first is None:  # started ahead for a run that stopped before grading: nothing to record
        return
    spec = json.loads(first)
    name = spec["assignment"]
    with warnings.catch_warnings(), Gradebook(spec["db"]) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings on add_submission
        if gb.db.bind.dialect.name == "sqlite":  # nbgrader commits per row; results/ can always rebuild it
            gb.db.execute(text("PRAGMA synchronous=OFF"))
        gb.update_or_create_assignment(name)
        gb.update_or_create_notebook(name, name)
        for grade_id, points in spec["cells"]:
            gb.update_or_create_grade_cell(grade_id, name, name, max_score=points, cell_type="code")
        for line in lines:
            res = json.loads(line)
            try:
                try:
                    gb.find_submission_notebook(name, name, res["student"])
                except MissingEntry:
                    gb.update_or_create_student(res["student"])
                    gb.add_submission(name, res["student"])
                for cell, points in res["scores"].items():
                    gb.find_grade(cell, name, name, res["student"]).auto_score = points
                gb.db.commit()
            except Exception as exc:  # noqa: BLE001  (one student's row; the others are recorded)
                gb.db.rollback()
                failures.append(f"{res['student']}: {type(exc).__name__}: {str(exc)[:300]}")


def main() -> None:
    """Record the results read from standard input; print {"failures": [...], "error": ...} at the end."""
    os.nice(10)  # recording can wait: the grading at its side cannot
    sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
    failures: list[str] = []
    error = None
    try:
        _record_all(sys.stdin, failures)
    except Exception as exc:  # noqa: BLE001  (reported to the grader, which raises it)
        error = f"{type(exc).__name__}: {exc}"
        for _ in sys.stdin:
            pass
    try:
        print(json.dumps({"failures": failures, "error": error}), flush=True)
    except BrokenPipeError:  # the grader is gone: it stopped early and reads no report
        pass


if __name__ == "__main__":
    main()
