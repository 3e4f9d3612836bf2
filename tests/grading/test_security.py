"""Hostile submissions (autograde/samples/attacks/) gain nothing, stop no one, and change nothing outside
their sandbox. They are graded in one batch with a reference and a blank submission."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from attnbook.grading import gradebook
from attnbook.grading.checks import Assignment, submission_seed
from attnbook.grading.notebook import read_submission
from attnbook.grading.runner import grade_answers, grade_folder
from attnbook.grading.sandbox import Limits
from conftest import ROOT, course_copy
from make_samples import submission

NAME = "ch01_bottleneck"
ATTACKS = ROOT / "autograde" / "samples" / "attacks"
RAW = ["malformed_json", "empty", "binary", "deeply_nested", "nbformat3", "huge_100mb", "symlink_to_solution",
       "symlinked_folder"]
LIMITS = Limits(wall_seconds=30, cpu_seconds=30, call_seconds=5)
MARK = b"PW" + b"NED"
PORT = 47613


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it gets."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                self.connections.append(self.sock.accept())
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def _baselines(assignment: Assignment, submitted: Path) -> dict:
    """Grade the baseline answers once per attack, on the attack's own random cases (its seed comes from
    its bytes), so that each attack is compared with the same answers without the trick."""
    baseline = read_submission(submitted / "baseline" / NAME / f"{NAME}.ipynb", assignment.template)

    def grade(student: str):
        digest = hashlib.sha256((submitted / student / NAME / f"{NAME}.ipynb").read_bytes()).hexdigest()
        seed = submission_seed("s3cret", student, NAME, digest)
        return student, grade_answers(assignment, student, baseline, seed, digest, LIMITS)

    students = [p.name for p in submitted.iterdir() if p.name not in RAW + ["reference", "blank"]]
    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(grade, students))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every attack with a reference and a blank; grade the baseline under every attack's name too."""
    course = course_copy(tmp_path_factory.mktemp("course"), NAME)
    assignment = Assignment(NAME, course / "solutions", course / "autograde" / "checks")
    submitted, out = course / "submitted", course / "out"
    shutil.copytree(ATTACKS, submitted, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    released = json.loads((ROOT / "notebooks" / NAME / f"{NAME}.ipynb").read_text())
    for student, nb in (("reference", submission(released, assignment.reference_answers)), ("blank", released)):
        (submitted / student / NAME).mkdir(parents=True)
        (submitted / student / NAME / f"{NAME}.ipynb").write_text(json.dumps(nb))
    big = submitted / "huge_100mb" / NAME / f"{NAME}.ipynb"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as fh:
        fh.write(json.dumps(submission(released, assignment.reference_answers)).encode()[:-1])
        fh.truncate(100 * 2**20)
    (submitted / "symlink_to_solution" / NAME).mkdir(parents=True)
    (submitted / "symlink_to_solution" / NAME / f"{NAME}.ipynb").symlink_to(course / "solutions" / NAME / f"{NAME}.ipynb")
    (submitted / "symlinked_folder").mkdir()
    (submitted / "symlinked_folder" / NAME).symlink_to(submitted / "reference" / NAME)
    db = f"sqlite:///{out / 'gradebook.db'}"
    out.mkdir()
    gradebook.record(db, assignment, [])
    before = {"course": _tree_digest(course), "gradebook": (out / "gradebook.db").read_bytes()}
    listener = Listener(PORT)
    try:
        results = {r.student: r for r in grade_folder(assignment, submitted, out, "s3cret", LIMITS, workers=2)}
    finally:
        listener.close()
    after = {"course": _tree_digest(course), "gradebook": (out / "gradebook.db").read_bytes()}
    base = _baselines(assignment, submitted)
    return dict(results=results, baselines=base, before=before, after=after, listener=listener, course=course,
                assignment=assignment)


def test_every_attack_sample_is_graded(batch):
    expected = {p.name for p in ATTACKS.iterdir() if p.is_dir()} | set(RAW) | {"reference", "blank"}
    assert set(batch["results"]) == expected
    assert len(expected) >= 30


def test_reference_and_blank_are_graded_normally_beside_the_attacks(batch):
    results = batch["results"]
    assert results["reference"].score == batch["assignment"].max_score, results["reference"].exercises
    assert results["blank"].score == 0


def test_no_attack_scores_more_than_the_same_answers_without_the_trick(batch):
    higher = {s: (r.score, batch["baselines"][s].score) for s, r in batch["results"].items()
              if s in batch["baselines"] and r.score > batch["baselines"][s].score + 1e-9}
    assert not higher, higher
    assert all(r.max_score == batch["assignment"].max_score for r in batch["results"].values())


def test_files_that_are_not_notebooks_score_zero_with_a_reason(batch):
    for student in RAW:
        res = batch["results"][student]
        assert res.score == 0 and res.problems, (student, res.problems)


def test_attacks_that_scan_and_vandalise_ran_to_the_end_and_found_nothing(batch):
    for student in ("read_outside", "write_outside"):
        res = batch["results"][student]
        assert not res.cell_errors, res.cell_errors  # the scan finished (it was not cut short by a limit)


def test_nothing_outside_the_sandbox_changed(batch):
    assert batch["before"]["gradebook"] == batch["after"]["gradebook"]
    course_before, course_after = batch["before"]["course"], batch["after"]["course"]
    changed = {p for p in course_before if course_after.get(p) != course_before[p]}
    assert not changed
    written = [p for p in batch["course"].rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_size < 2**26
               and MARK in p.read_bytes()]
    assert not written
    assert not list(batch["course"].rglob("vandal.txt")) and not Path("/tmp/vandal.txt").exists()
    assert not (ROOT / "vandal.txt").exists() and not (Path.home() / "vandal.txt").exists()


def test_no_connection_reached_a_listener_on_loopback(batch):
    assert batch["listener"].connections == []
    assert "Network is unreachable" in batch["results"]["network"].cell_errors.get("greedy_decode", "")


def test_each_attack_is_stopped_within_its_own_limits(batch):
    slowest = max(r.seconds for r in batch["results"].values())
    assert slowest < LIMITS.wall_seconds + 15
    assert batch["results"]["ignore_signals"].child.startswith("it ran past the")
    assert batch["results"]["segfault"].child.startswith("crashed (signal 11")
    for student in ("segfault", "os_exit_call", "ignore_signals"):
        acc = next(e for e in batch["results"][student].exercises if e.name == "accuracy_by_length")
        assert all("not run" not in c.message and "stopped" not in c.message for c in acc.checks), student


def test_no_sandbox_process_is_left_running(batch):
    from test_sandbox import _sandbox_processes

    assert not _sandbox_processes()
