"""Record scores in nbgrader's own gradebook, so `nbgrader export` and formgrader see them.

Recording is idempotent (a grade is set, never added to), so recording a result twice never
double-counts. A `Recorder` writes in a background thread while grading goes on; a result the gradebook
refuses is rolled back and listed in `failures`, and the others are recorded.
"""

from __future__ import annotations

import queue
import sys
import threading
import warnings
from typing import Iterable

from .checks import Assignment


class Recorder:
    """Record results in the gradebook at `db_url` from a background thread, as they arrive."""

    def __init__(self, db_url: str, assignment: Assignment):
        self.db_url, self.assignment = db_url, assignment
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="gradebook", daemon=True)
        self._thread.start()

    def add(self, result) -> None:
        """Queue one SubmissionResult for recording."""
        self._queue.put(result)

    def close(self) -> None:
        """Wait until everything queued is recorded; raise what went wrong, if anything."""
        self._queue.put(None)
        self._thread.join()
        if self._error:
            raise self._error

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        try:
            self._record_all()
        except BaseException as exc:  # noqa: BLE001  (re-raised in close())
            self._error = exc
            while self._queue.get() is not None:
                pass

    def _record_all(self) -> None:
        # jsonschema (through nbformat) builds an IRI grammar at import when rfc3987_syntax is installed,
        # 1.7 s that the grader never uses: it validates no IRI. Only this process is affected.
        sys.modules.setdefault("rfc3987_syntax", None)
        from nbgrader.api import Gradebook, MissingEntry
        from sqlalchemy import text
        from sqlalchemy.exc import SAWarning

        a = self.assignment
        with warnings.catch_warnings(), Gradebook(self.db_url) as gb:
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings on add_submission
            if gb.db.bind.dialect.name == "sqlite":  # nbgrader commits per row; results/ can always rebuild it
                gb.db.execute(text("PRAGMA synchronous=OFF"))
            gb.update_or_create_assignment(a.name)
            gb.update_or_create_notebook(a.name, a.name)
            for cell in a.template:
                if cell.is_test:
                    gb.update_or_create_grade_cell(cell.grade_id, a.name, a.name, max_score=cell.points,
                                                   cell_type="code")
            cell_of = {ex.name: ex.points_cell for ex in a.exercises}
            while (res := self._queue.get()) is not None:
                try:
                    try:
                        gb.find_submission_notebook(a.name, a.name, res.student)
                    except MissingEntry:
                        gb.update_or_create_student(res.student)
                        gb.add_submission(a.name, res.student)
                    for ex in res.exercises:
                        gb.find_grade(cell_of[ex.name], a.name, a.name, res.student).auto_score = ex.points
                    gb.db.commit()
                except Exception as exc:  # noqa: BLE001  (one student's row; the others are recorded)
                    gb.db.rollback()
                    self.failures.append(f"{res.student}: {type(exc).__name__}: {str(exc)[:300]}")


def record(db_url: str, assignment: Assignment, results: Iterable) -> None:
    """Create the assignment's grade cells if needed and store each result's per-exercise auto scores."""
    with Recorder(db_url, assignment) as recorder:
        for res in results:
            recorder.add(res)
