"""Issue 9: one submission never breaks the batch, each is read once by descriptor, results follow the
checks, random cases are new for every new submission, and what the instructor opens is safe.

Every test here attacks the grader the way a student (or a second instructor) would."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from nbgrader.api import Gradebook

from attnbook.grading import runner
from attnbook.grading.checks import Assignment, submission_seed
from attnbook.grading.csvsafe import cell, csv_text
from attnbook.grading.feedback import feedback_path
from attnbook.grading.notebook import open_submission
from attnbook.grading.runner import GRADER_ERROR, grade_folder, load_result, result_path
from attnbook.grading.sandbox import Limits
from conftest import ROOT, course_copy
from make_samples import submission

NAME = "ch01_bottleneck"
ATTACKS = ROOT / "autograde" / "samples" / "attacks"
SAMPLES = ROOT / "autograde" / "samples" / NAME
LIMITS = Limits(wall_seconds=30, cpu_seconds=30, call_seconds=5)
BIN = Path(sys.executable).parent


def _student(root: Path, student: str | bytes, source: Path) -> Path:
    folder = os.path.join(os.fsencode(root), os.fsencode(student), NAME.encode())
    os.makedirs(folder)
    shutil.copy(source, os.path.join(folder, f"{NAME}.ipynb".encode()))
    return Path(os.fsdecode(folder)) / f"{NAME}.ipynb"


def _autograde(submitted: Path, out: Path, course: Path = ROOT, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "attnbook"), "autograde", str(submitted), "--assignment", NAME, "--out", str(out),
                           "--course", str(course), "--workers", "2", "--secret", "s3cret", *extra],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """A class whose hostile members once stopped every run (a 10**400 integer that crashed the comparison,
    lone surrogates that crashed the feedback writer), named to attack the instructor's spreadsheet, the
    file system and the gradebook; graded twice by the real command line."""
    tmp = tmp_path_factory.mktemp("class")
    submitted = tmp / "submitted"
    for attack in ("huge_int", "lone_surrogates", "surrogates_and_nul_in_notebook", "wide_list", "long_line"):
        _student(submitted, attack, ATTACKS / attack / NAME / f"{NAME}.ipynb")
    names = {"formula": '=HYPERLINK("https:evil.example","grade")', "dde": "@SUM(1+9)*cmd|' -C calc'!A0",
             "latin1": b"ren\xe9e", "newline": "alice\n=1+1", "long": "x" * 250, "correct": "correct"}
    for name in names.values():
        _student(submitted, name, SAMPLES / "correct" / NAME / f"{NAME}.ipynb")
    first = _autograde(submitted, tmp / "out")
    second = _autograde(submitted, tmp / "out")
    rows = list(csv.DictReader(io.StringIO((tmp / "out" / "grades.csv").read_text())))
    return dict(out=tmp / "out", first=first, second=second, rows=rows, names=names)


def test_submissions_that_once_stopped_the_class_are_graded_and_every_classmate_too(class_run):
    assert class_run["first"].returncode == 0, class_run["first"].stderr[-3000:]
    rows = {r["student_id"]: r for r in class_run["rows"]}
    assert len(rows) == 11
    for attack in ("huge_int", "lone_surrogates", "wide_list", "long_line"):
        result = load_result(result_path(class_run["out"], attack, NAME))
        assert result.status == "graded" and 0 < result.score < 10, (attack, result.problems, result.child)
    huge = load_result(result_path(class_run["out"], "huge_int", NAME))
    greedy = next(e for e in huge.exercises if e.name == "greedy_decode")
    assert all("not plain data" in c.message and "float" in c.message for c in greedy.checks if not c.passed)
    surrogates = feedback_path(class_run["out"], "lone_surrogates", NAME).read_text()
    assert "\\xff\\ud800 in a message" in surrogates  # shown escaped, not dropped and not crashing the page
    assert all(float(rows[n]["score"]) == 10 for n in ("correct", "'=HYPERLINK(\"https:evil.example\",\"grade\")"))


def test_a_rerun_replays_no_crash_and_grades_nothing_again(class_run):
    assert class_run["second"].returncode == 0, class_run["second"].stderr[-3000:]
    assert "regrading" not in class_run["second"].stderr


def test_no_cell_of_any_csv_can_run_as_a_formula(class_run):
    for row in class_run["rows"]:
        assert not row["student_id"].startswith(("=", "+", "-", "@", "\t", "\r")), row
    ids = {r["student_id"] for r in class_run["rows"]}
    assert "'=HYPERLINK(\"https:evil.example\",\"grade\")" in ids and "'@SUM(1+9)*cmd|' -C calc'!A0" in ids
    report = class_run["out"] / "report"
    subprocess.run([str(BIN / "attnbook"), "report", str(class_run["out"]), "--out", str(report)], check=True,
                   capture_output=True)
    for table in report.glob("*.csv"):
        for row in csv.reader(io.StringIO(table.read_text())):
            assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in row), (table.name, row)
    assert "'=HYPERLINK" in (report / "exercises.csv").read_text()


@pytest.mark.parametrize("value, safe", [
    ("=1+1", "'=1+1"), ("+A1", "'+A1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("  =1", "'  =1"), ("|cmd", "'|cmd"), ("＝1+1", "'＝1+1"), ("-1.5", "-1.5"), ("+3", "+3"),
    (2.5, "2.5"), ("alice", "alice"), ("a=b", "a=b")])
def test_the_csv_neutraliser(value, safe):
    assert cell(value) == safe
    assert next(csv.reader(io.StringIO(csv_text([[value]])))) == [safe]


def test_folder_names_that_are_not_utf8_or_hold_control_characters_are_graded_and_shown_escaped(class_run):
    rows = {r["student_id"]: r for r in class_run["rows"]}
    assert rows["ren\\xe9e"]["score"] == "10" and rows["alice\\x0a=1+1"]["score"] == "10"
    assert feedback_path(class_run["out"], "ren\\xe9e", NAME).is_file()
    long_id = "x" * 250
    assert rows[long_id]["score"] == "10" and result_path(class_run["out"], long_id, NAME).is_file()
    with Gradebook(f"sqlite:///{class_run['out'] / 'gradebook.db'}") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(NAME)}
    assert scores["ren\\xe9e"] == 10 and scores["alice\\x0a=1+1"] == 10


def test_a_grader_failure_is_that_students_row_and_the_run_says_so(tmp_path, monkeypatch):
    """Whatever breaks while grading one submission (here: scoring itself) costs only that submission."""
    course = course_copy(tmp_path, NAME)
    assignment = Assignment(NAME, course / "solutions", course / "autograde" / "checks")
    for name in ("victim", "bystander"):
        _student(tmp_path / "submitted", name, SAMPLES / "correct" / NAME / f"{NAME}.ipynb")
    real, broken = runner.score_exercise, []

    def breaks_on_the_victim(assignment, exercise, cases, actual):
        if exercise.name == "greedy_decode" and not broken:
            broken.append(exercise)
            raise np.linalg.LinAlgError("a comparison numpy refused")
        return real(assignment, exercise, cases, actual)

    monkeypatch.setattr(runner, "score_exercise", breaks_on_the_victim)
    results = {r.student: r for r in grade_folder(assignment, tmp_path / "submitted", tmp_path / "out", "s", LIMITS,
                                                    workers=1)}
    victim = results["bystander"] if results["bystander"].status == GRADER_ERROR else results["victim"]
    assert victim.status == GRADER_ERROR and victim.score == 0
    assert "a comparison numpy refused" in victim.problems[-1]
    assert sum(r.status == GRADER_ERROR for r in results.values()) == 1
    assert sum(r.score == 10 for r in results.values()) == 1
    assert runner.grader_errors(list(results.values())) == [f"{victim.student} ({NAME}): {victim.problems[-1]}"]


def test_a_submission_that_killed_the_grader_twice_is_not_tried_a_third_time(tmp_path):
    course = course_copy(tmp_path, NAME)
    assignment = Assignment(NAME, course / "solutions", course / "autograde" / "checks")
    path = _student(tmp_path / "submitted", "killer", SAMPLES / "correct" / NAME / f"{NAME}.ipynb")
    _student(tmp_path / "submitted", "classmate", SAMPLES / "correct" / NAME / f"{NAME}.ipynb")
    fingerprint = runner.grader_fingerprint(assignment, LIMITS, "s")
    attempts = runner._Attempts(tmp_path / "out", NAME)
    key = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {fingerprint}"
    attempts.begin("killer", key)  # two runs that died (kill -9, out of memory) while grading it
    attempts.begin("killer", key)
    results = {r.student: r for r in grade_folder(assignment, tmp_path / "submitted", tmp_path / "out", "s", LIMITS)}
    assert results["killer"].status == GRADER_ERROR and "stopped 2 times" in results["killer"].problems[-1]
    assert results["classmate"].score == 10
    attempts.begin("classmate", "an older submission")  # a mark from other bytes never counts
    assert attempts.count("classmate", key) == 0


def _swap_forever(path: Path, stop: threading.Event, good: bytes, target: Path) -> None:
    """Keep replacing `path` by a FIFO, a symbolic link to `target` and the good bytes, as fast as it can."""
    spare = path.with_name("spare")
    while not stop.is_set():
        for make in (lambda: os.mkfifo(spare), lambda: os.symlink(target, spare), lambda: spare.write_bytes(good)):
            try:
                make()
                os.replace(spare, path)
            except OSError:
                spare.unlink(missing_ok=True)


def test_a_notebook_swapped_for_a_fifo_or_a_link_during_grading_neither_hangs_nor_changes_what_is_graded(tmp_path):
    course = course_copy(tmp_path, NAME)
    assignment = Assignment(NAME, course / "solutions", course / "autograde" / "checks")
    good = (SAMPLES / "partly_wrong" / NAME / f"{NAME}.ipynb").read_bytes()
    path = _student(tmp_path / "submitted", "swapper", SAMPLES / "partly_wrong" / NAME / f"{NAME}.ipynb")
    target = course / "solutions" / NAME / f"{NAME}.ipynb"  # the reference: full marks if it were followed
    stop = threading.Event()
    swapper = threading.Thread(target=_swap_forever, args=(path, stop, good, target), daemon=True)
    swapper.start()
    try:
        seen = []
        for i in range(6):
            start = time.monotonic()
            (result,) = grade_folder(assignment, tmp_path / "submitted", tmp_path / f"out{i}", "s", LIMITS)
            seen.append((result, time.monotonic() - start))
    finally:
        stop.set()
        swapper.join()
    for result, seconds in seen:
        assert seconds < 60
        if result.problems and "not a regular file" in result.problems[0]:
            assert result.score == 0
        else:
            assert result.digest == hashlib.sha256(good).hexdigest() and result.score < 10, result.problems


def test_a_fifo_a_link_and_a_folder_link_are_refused_on_the_descriptor(tmp_path):
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "nb.ipynb")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "nb.ipynb").symlink_to(ROOT / "solutions" / NAME / f"{NAME}.ipynb")
    (tmp_path / "folder_link").symlink_to(tmp_path / "link")
    for folder in ("fifo", "link", "folder_link"):
        start = time.monotonic()
        data, problem = open_submission(tmp_path, (folder, "nb.ipynb"))
        assert data is None and "not a regular file" in problem and time.monotonic() - start < 1, folder


def test_random_cases_are_new_for_every_new_submission_and_the_same_for_the_same_bytes():
    seeds = {submission_seed("secret", "alice", NAME, digest) for digest in ("a" * 64, "b" * 64)}
    assert len(seeds) == 2
    assert submission_seed("secret", "alice", NAME, "a" * 64) == submission_seed("secret", "alice", NAME, "a" * 64)
    assert submission_seed("other", "alice", NAME, "a" * 64) not in seeds


def _lookup_table(assignment: Assignment, seed: int) -> str:
    """The answer cells of a student who copied every expected value from the feedback on submission 1:
    functions that recognise those inputs and return what the reference returned, and nothing else."""
    from attnbook.grading.checks import call_in_process

    table: dict[str, list] = {}
    for ex in assignment.exercises:
        for case in assignment.cases(seed)[ex.name]:
            outcome = call_in_process(assignment.reference_ns, ex.name, case)
            if outcome.error is None and case.driver == "call":
                key = runner.wire.dumps([list(case.args), case.kwargs])
                table.setdefault(ex.name, []).append((key, runner.wire.dumps(outcome.value)))
    return {name: (f"from attnbook.grading import wire\n_TABLE_{name} = {rows!r}\n"
                   f"def {name}(*args, **kwargs):\n    key = wire.dumps([list(args), kwargs])\n"
                   f"    for k, v in _TABLE_{name}:\n        if k == key:\n            return wire.loads(v)\n"
                   f"    raise NotImplementedError\n") for name, rows in table.items()}


def test_feedback_cannot_be_turned_into_a_lookup_table(tmp_path):
    """Submission 2 holds a table of every expected value of submission 1's random cases: it meets new ones."""
    assignment = Assignment(NAME, ROOT / "solutions", ROOT / "autograde" / "checks")
    released = json.loads((ROOT / "notebooks" / NAME / f"{NAME}.ipynb").read_text())
    first = (SAMPLES / "blank" / NAME / f"{NAME}.ipynb").read_bytes()
    seed = submission_seed("s", "cheat", NAME, hashlib.sha256(first).hexdigest())
    path = tmp_path / "submitted" / "cheat" / NAME / f"{NAME}.ipynb"
    path.parent.mkdir(parents=True)
    table = _lookup_table(assignment, seed)
    path.write_text(json.dumps(submission(released, table)))
    (result,) = grade_folder(assignment, tmp_path / "submitted", tmp_path / "out", "s", LIMITS)
    random_checks = [c for e in result.exercises if e.name in table for c in e.checks if "random" in c.label]
    assert random_checks and not any(c.passed for c in random_checks)
    assert result.score < assignment.max_score / 2
    # The same table, graded with the seed of the submission it was copied from, would have passed them all:
    parsed = runner.parse_submission(path.read_bytes(), NAME, assignment.template)
    same = runner.grade_answers(assignment, "cheat", parsed, seed, "", LIMITS)
    assert all(c.passed for e in same.exercises if e.name in table for c in e.checks if "random" in c.label)


def test_editing_a_check_regrades_everyone_it_affects_and_says_so(tmp_path):
    course = course_copy(tmp_path, NAME)
    for name in ("a", "b"):
        _student(tmp_path / "submitted", name, SAMPLES / "partly_wrong" / NAME / f"{NAME}.ipynb")
    first = _autograde(tmp_path / "submitted", tmp_path / "out", course)
    assert first.returncode == 0, first.stderr[-2000:]
    stored = {s: load_result(result_path(tmp_path / "out", s, NAME)) for s in ("a", "b")}
    again = _autograde(tmp_path / "submitted", tmp_path / "out", course)
    assert "regrading" not in again.stderr
    checks = course / "autograde" / "checks" / f"{NAME}.py"
    checks.write_text(checks.read_text().replace("Mistake(", "Mistake(  # reworded by the instructor\n", 1))
    edited = _autograde(tmp_path / "submitted", tmp_path / "out", course)
    assert "changed since 2 stored result(s) were graded: regrading them" in edited.stderr, edited.stderr[-2000:]
    regraded = {s: load_result(result_path(tmp_path / "out", s, NAME)) for s in ("a", "b")}
    assert all(regraded[s].fingerprint != stored[s].fingerprint for s in stored)
    longer = _autograde(tmp_path / "submitted", tmp_path / "out", course, "--call-timeout", "7")
    assert "regrading them" in longer.stderr  # the limits decide results too


def test_two_runs_on_one_output_folder_cannot_both_write_it(tmp_path):
    submitted = tmp_path / "submitted"
    for i in range(20):
        _student(submitted, f"s{i}", SAMPLES / "correct" / NAME / f"{NAME}.ipynb")
    command = [str(BIN / "attnbook"), "autograde", str(submitted), "--assignment", NAME, "--out", str(tmp_path / "out"),
               "--workers", "1", "--secret", "s"]
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out" / ".lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, capture_output=True, text=True)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 4 and "is in use by another `attnbook autograde` (pid" in second.stderr, second.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    assert len(rows) == 20 and all(r["score"] == "10" for r in rows)
