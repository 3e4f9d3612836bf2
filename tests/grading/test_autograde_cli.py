"""`attnbook autograde` end to end on the chapter 1 samples: grades.csv, feedback pages and the gradebook."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import ROOT

SAMPLES = ROOT / "autograde" / "samples" / "ch01_bottleneck"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli")
    proc = subprocess.run([str(Path(sys.executable).parent / "attnbook"), "autograde", str(SAMPLES),
                           "--assignment", "ch01_bottleneck", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_grades_csv_has_one_row_per_student_with_the_expected_scores(graded):
    rows = {r["student_id"]: r for r in csv.DictReader((graded / "grades.csv").open())}
    assert set(rows) == {"correct", "blank", "partly_wrong", "broken"}
    assert all(r["assignment"] == "ch01_bottleneck" and r["max_score"] == "10" for r in rows.values())
    assert rows["correct"]["score"] == "10" and rows["blank"]["score"] == "0" and rows["broken"]["score"] == "0"
    assert 0 < float(rows["partly_wrong"]["score"]) < 10


def test_feedback_names_the_mistake_and_the_broken_file_without_check_source(graded):
    partly = (graded / "feedback" / "partly_wrong" / "ch01_bottleneck" / "ch01_bottleneck.html").read_text()
    assert "Likely mistake" in partly and "h_{t-1} @ W_hh" in partly
    broken = (graded / "feedback" / "broken" / "ch01_bottleneck" / "ch01_bottleneck.html").read_text()
    assert "is not valid JSON" in broken and "ch01_bottleneck.ipynb" in broken
    checks = (ROOT / "autograde" / "checks" / "ch01_bottleneck.py").read_text()
    for page in (graded / "feedback").rglob("*.html"):
        text = page.read_text()
        assert "def rnn_encode" not in text and "RNN_HEADER" not in text and "rng.normal" not in text
        assert not any(len(line.strip()) > 40 and line.strip() in text for line in checks.splitlines())


def test_scores_are_in_nbgrader_gradebook(graded):
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions("ch01_bottleneck")}
    assert scores["correct"] == 10 and scores["blank"] == 0 and 0 < scores["partly_wrong"] < 10


def test_the_gradebook_schema_version_is_the_one_nbgrader_asks_alembic_for():
    import nbgrader.api

    from attnbook.grading.gradebook import alembic_head

    assert alembic_head() == nbgrader.api.get_alembic_version()


@pytest.mark.parametrize("problem", ["no_folder", "no_assignment"])
def test_a_run_that_stops_early_says_why_in_one_line_and_leaves_no_helper_behind(tmp_path, problem):
    """The fork server and the gradebook recorder start ahead of the work; a run that stops before grading
    (no such folder, no such assignment) must still end with one clear message, exit 2 and no traceback
    from either helper, and neither helper may outlive it."""
    submitted = tmp_path / "missing" if problem == "no_folder" else SAMPLES
    assignment = "ch01_bottleneck" if problem == "no_folder" else "no_such_assignment"
    proc = subprocess.run([str(Path(sys.executable).parent / "attnbook"), "autograde", str(submitted),
                           "--assignment", assignment, "--out", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert ("no such folder" if problem == "no_folder" else "no_such_assignment") in proc.stderr
    deadline = time.monotonic() + 10
    while _helpers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _helpers_of(tmp_path)


def _helpers_of(tmp_path: Path) -> list[int]:
    """Return the grader helpers (fork server, recorder) of this checkout still running (their command lines
    name their modules; the ones of a run under `tmp_path` are children of nothing once it ends)."""
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
            ppid = int(next(l for l in (cmdline.parent / "status").read_text().splitlines()
                            if l.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        if words[0] == sys.executable.encode() and ppid == 1 and any(
                w in (b"attnbook.grading.forkserver", b"attnbook.grading.gradebook") for w in words):
            left.append(int(cmdline.parent.name))
    return left
