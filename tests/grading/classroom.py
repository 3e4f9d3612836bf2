"""A made-up class for the report tests: stored results of students who answer with the corpus's realistic
answers (right, wrong, or the stub), graded in this process (no sandbox: the answers are our own)."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from attnbook.grading.checks import Assignment
from attnbook.grading.runner import SubmissionResult, result_path, write_atomic
from conftest import ROOT
from corpus import chapter, grade_in_process


def make_class(out: Path, assignments: tuple[str, ...], students: int, seed: int = 0) -> list[SubmissionResult]:
    """Write results/<student>/<assignment>.json for `students` students under `out` and return them."""
    rng = np.random.default_rng(seed)
    results = []
    for name in assignments:
        assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
        corpus = chapter(name)
        for k in range(students):
            student = f"s{k:03d}"
            exercises = []
            for ex in assignment.exercises:
                kind = rng.choice(["correct", "wrong", "wrong", "blank"], p=[0.45, 0.25, 0.2, 0.1])
                pool = {"correct": corpus.CORRECT[ex.name], "wrong": corpus.WRONG[ex.name]}.get(kind)
                source = (pool[int(rng.integers(len(pool)))].source if pool else
                          f"def {ex.name}(*args, **kwargs):\n    raise NotImplementedError\n")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exercises.append(grade_in_process(assignment, ex.name, source, seed=k))
            res = SubmissionResult(student, name, round(sum(e.points for e in exercises), 6), assignment.max_score,
                                   exercises)
            write_atomic(result_path(out, student, name), json.dumps(asdict(res)), durable=False)
            results.append(res)
    return results
