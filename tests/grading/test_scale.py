"""Crash safety (kill -9 and resume), Dask, PostgreSQL, `nbgrader export` and the class report."""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from attnbook.cli import main as cli
from attnbook.grading import gradebook
from attnbook.grading.checks import Assignment
from attnbook.grading.runner import grade_folder, load_result
from attnbook.grading.sandbox import Limits
from attnbook.grading.spec import load_checks
from conftest import ROOT

NAME = "ch01_bottleneck"
SAMPLES = ROOT / "autograde" / "samples" / NAME
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> Path:
    """Ten submissions: the four samples, and more correct and partly wrong copies."""
    root = tmp_path_factory.mktemp("submitted")
    for i in range(10):
        kind = ["correct", "blank", "partly_wrong", "broken"][i % 4] if i < 4 else ["correct", "partly_wrong"][i % 2]
        shutil.copytree(SAMPLES / kind, root / f"s{i:02d}_{kind}")
    return root


@pytest.fixture(scope="module")
def assignment() -> Assignment:
    return Assignment(NAME, ROOT / "solutions", ROOT / "autograde" / "checks")


@pytest.fixture(scope="module")
def local_results(assignment, submitted, tmp_path_factory) -> list:
    """The batch graded here, in threads."""
    return grade_folder(assignment, submitted, tmp_path_factory.mktemp("local"), "scale-test", Limits(), workers=2)


def _result_files(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "results").glob(f"*/{NAME}.json")}


def _children(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _export(db_url: str, cwd: Path) -> dict[str, float]:
    """Return {student: score} as `nbgrader export` sees them in the gradebook."""
    subprocess.run([str(BIN / "nbgrader"), "export", f"--db={db_url}", "--to=export.csv", "--log-level=WARN"],
                   cwd=cwd, check=True, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    rows = list(csv.DictReader(io.StringIO((cwd / "export.csv").read_text())))
    return {r["student_id"]: float(r["score"]) for r in rows if r["assignment"] == NAME}


@pytest.fixture(scope="module")
def killed_and_resumed(submitted, tmp_path_factory):
    """Grade, SIGKILL the run once a few results are stored, then run it again to the end."""
    out = tmp_path_factory.mktemp("out")
    command = [str(BIN / "attnbook"), "autograde", str(submitted), "--assignment", NAME, "--out", str(out),
               "--course", str(ROOT), "--workers", "1", "--secret", "kill-test"]
    proc = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(_result_files(out)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    helpers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _result_files(out)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{p}").exists() for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = [p for p in helpers if Path(f"/proc/{p}").exists()]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    after = _result_files(out)
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return dict(out=out, before=before, after=after, again=_result_files(out), orphans=orphans)


def test_kill_9_leaves_no_process_behind(killed_and_resumed):
    assert killed_and_resumed["before"], "the run was killed before it stored any result"
    assert not killed_and_resumed["orphans"]


def test_rerun_grades_only_what_is_missing_and_never_double_counts(killed_and_resumed, submitted):
    k = killed_and_resumed
    assert 0 < len(k["before"]) < 10 and len(k["after"]) == 10
    assert all(k["after"][s] == t for s, t in k["before"].items()), "a stored result was graded again"
    assert k["again"] == k["after"], "a complete run graded something again"
    rows = list(csv.DictReader(io.StringIO((k["out"] / "grades.csv").read_text())))
    assert sorted(r["student_id"] for r in rows) == sorted(p.name for p in submitted.iterdir())
    exported = _export(f"sqlite:///{k['out'] / 'gradebook.db'}", k["out"])
    assert exported == pytest.approx({r["student_id"]: float(r["score"]) for r in rows}, abs=1e-4)
    assert exported["s00_correct"] == 10 and exported["s01_blank"] == 0


def test_report_has_plots_csv_and_feedback_without_check_source(killed_and_resumed, tmp_path):
    assert cli(["report", str(killed_and_resumed["out"]), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 1
    for title in ("Score distribution per assignment", "full marks", "most common named causes"):
        assert title in html
    mistakes = list(csv.DictReader(io.StringIO((tmp_path / "mistakes.csv").read_text())))
    assert mistakes and all(int(m["students"]) > 0 for m in mistakes)
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "exercises.csv").read_text())))) == 30
    assert len(list((tmp_path / "feedback").glob(f"*/{NAME}/{NAME}.html"))) == 10
    secret_lines = {line.strip() for ex in load_checks(ROOT / "autograde" / "checks", NAME) for m in ex.mistakes
                    for line in m.source.splitlines() if len(line.strip()) >= 20}
    secret_lines |= {line.strip() for line in (ROOT / "autograde" / "checks" / f"{NAME}.py").read_text().splitlines()
                     if len(line.strip()) >= 25}
    pages = list(tmp_path.rglob("*.html")) + list(tmp_path.rglob("*.csv"))
    pages += list((killed_and_resumed["out"] / "feedback").rglob("*.html"))
    leaks = {(p.name, line) for p in pages for line in secret_lines if line in p.read_text()}
    assert not leaks


def test_dask_cluster_gives_the_same_grades_as_the_local_run(submitted, assignment, local_results, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = local_results
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        remote = grade_folder(assignment, submitted, tmp_path / "dask", "scale-test", Limits(),
                              scheduler=cluster.scheduler_address)
    assert [(r.student, r.score, [c.passed for e in r.exercises for c in e.checks]) for r in local] == \
        [(r.student, r.score, [c.passed for e in r.exercises for c in e.checks]) for r in remote]
    assert {r.student: r.score for r in remote}["s00_correct"] == 10
    assert load_result(tmp_path / "dask" / "results" / "s00_correct" / f"{NAME}.json").score == 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server on a free loopback port, run as an unprivileged user."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (Debian package `postgresql`): the PostgreSQL gradebook is untested")
    pg = bins[-1].parent
    data, port = Path(tempfile.mkdtemp(prefix="attnbook-pg-")), _free_port()  # outside root-only pytest folders
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "nobody", "nogroup")
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    user = "nobody" if as_user else os.environ.get("USER", "postgres")
    subprocess.run(as_user + [str(pg / "initdb"), "-D", str(data), "-U", user, "--auth=trust"], check=True,
                   capture_output=True, cwd="/")
    subprocess.run(as_user + [str(pg / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                              f"-h 127.0.0.1 -p {port} -k {data}", "start"], check=True, capture_output=True, cwd="/")
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, cwd="/")
        shutil.rmtree(data, ignore_errors=True)


def test_postgresql_gradebook_is_seen_by_nbgrader_export(postgres, assignment, local_results, tmp_path):
    pytest.importorskip("psycopg")
    results = local_results
    gradebook.record(postgres, assignment, results)
    gradebook.record(postgres, assignment, results)  # recording twice must not double-count
    assert _export(postgres, tmp_path) == pytest.approx({r.student: r.score for r in results}, abs=1e-6)
