"""The nbgrader way, end to end on a local exchange folder with nbgrader's own commands: the instructor
releases, the student fetches and submits, the instructor collects, `attnbook autograde` grades, the
instructor releases the feedback and the student fetches it and holds the feedback page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, course_copy

NAME = "ch01_bottleneck"
STUDENT = "alice"
BIN = Path(sys.executable).parent


def _config(folder: Path, exchange: Path, course_root: Path | None = None) -> None:
    lines = ["c = get_config()", 'c.CourseDirectory.course_id = "attnbook"', f"c.Exchange.root = {str(exchange)!r}",
             f"c.Exchange.cache = {str(folder / '.nbgrader-cache')!r}", "c.Exchange.assignment_dir = '.'"]
    if course_root:
        lines += [f"c.CourseDirectory.root = {str(course_root)!r}", 'c.CourseDirectory.source_directory = "solutions"',
                  'c.CourseDirectory.release_directory = "notebooks"']
    (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n")


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def test_feedback_goes_out_through_nbgraders_exchange_and_the_student_fetches_it(tmp_path):
    course, student, exchange = tmp_path / "course", tmp_path / "home" / STUDENT, tmp_path / "exchange"
    course_copy(course, NAME, ("solutions", "notebooks"))
    exchange.mkdir()
    exchange.chmod(0o777)
    student.mkdir(parents=True)
    _config(course, exchange, course)
    _config(student, exchange)
    nbgrader, as_student = str(BIN / "nbgrader"), f"--CourseDirectory.student_id={STUDENT}"

    _run([nbgrader, "db", "assignment", "add", NAME], course)
    _run([nbgrader, "release_assignment", NAME], course)
    _run([nbgrader, "fetch_assignment", NAME, as_student], student)
    fetched = student / NAME / f"{NAME}.ipynb"
    nb = json.loads(fetched.read_text())
    correct = json.loads((ROOT / "autograde" / "samples" / NAME / "partly_wrong" / NAME / f"{NAME}.ipynb").read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in correct["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    fetched.write_text(json.dumps(nb))
    _run([nbgrader, "submit", NAME, as_student], student)
    _run([nbgrader, "collect", NAME], course)
    submitted = course / "submitted" / STUDENT / NAME
    assert (submitted / f"{NAME}.ipynb").is_file()

    _run([str(BIN / "attnbook"), "autograde", str(course / "submitted"), "--assignment", NAME, "--out", str(course),
          "--course", str(course)], course)
    page = course / "feedback" / STUDENT / NAME / f"{NAME}.html"
    assert page.is_file() and (page.parent / "timestamp.txt").is_file()
    _run([nbgrader, "release_feedback", NAME], course)
    _run([nbgrader, "fetch_feedback", NAME, as_student], student)

    received = list((student / NAME / "feedback").glob(f"*/{NAME}.html"))
    assert len(received) == 1, list((student / NAME).rglob("*"))
    text = received[0].read_text()
    assert text == page.read_text()
    assert "Likely mistake" in text and f"feedback for {STUDENT}" in text
