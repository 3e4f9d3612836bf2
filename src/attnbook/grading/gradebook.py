"""Record scores in nbgrader's own gradebook, so `nbgrader export` and formgrader see them."""

from __future__ import annotations

import warnings
from typing import Iterable

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from .checks import Assignment


def record(db_url: str, assignment: Assignment, results: Iterable) -> None:
    """Create the assignment's grade cells if needed and store each result's per-exercise auto scores."""
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings on add_submission
        gb.update_or_create_assignment(assignment.name)
        gb.update_or_create_notebook(assignment.name, assignment.name)
        for cell in assignment.template:
            if cell.is_test:
                gb.update_or_create_grade_cell(cell.grade_id, assignment.name, assignment.name,
                                               max_score=cell.points, cell_type="code")
        cell_of = {ex.name: ex.points_cell for ex in assignment.exercises}
        for res in results:
            gb.update_or_create_student(res.student)
            try:
                gb.find_submission_notebook(assignment.name, assignment.name, res.student)
            except MissingEntry:
                gb.add_submission(assignment.name, res.student)
            for ex in res.exercises:
                grade = gb.find_grade(cell_of[ex.name], assignment.name, assignment.name, res.student)
                grade.auto_score = ex.points
            gb.db.commit()
