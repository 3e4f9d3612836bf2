"""Grade submissions: one end to end, or a whole folder in parallel (threads or Dask), resumably, with progress."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from . import sandbox, wire
from .checks import Assignment, CheckResult, ExerciseResult, Outcome, child_job, score_exercise, student_seed
from .notebook import MAX_NOTEBOOK_BYTES, Submission, read_submission
from .sandbox import Limits


@dataclass
class SubmissionResult:
    """Everything the grader concluded about one student's notebook."""

    student: str
    assignment: str
    score: float
    max_score: float
    exercises: list[ExerciseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cell_errors: dict[str, str] = field(default_factory=dict)
    child: str = "ok"
    digest: str = ""
    seconds: float = 0.0


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a regular file's bytes, or a description of what stands there instead."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_NOTEBOOK_BYTES:
            return f"not graded: mode {info.st_mode:o}, {info.st_size} bytes, mtime {info.st_mtime_ns}"
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def grade_answers(assignment: Assignment, student: str, sub: Submission, seed: int, digest: str,
                  limits: Limits, weak_ok: bool = False) -> SubmissionResult:
    """Run a parsed submission in a sandbox of this process and score it (this is what workers run)."""
    start = time.monotonic()
    cases = assignment.cases(seed)
    total = sum(len(group) for group in cases.values())
    outcomes: list[Outcome] = []
    cell_errors: dict[str, str] = {}
    ended = "no answer cells were found"
    if sub.answers:
        with sandbox.lease(weak_ok) as box:
            ended = _run_calls(box, child_job(assignment, sub.answers, cases, limits.call_seconds), limits,
                               outcomes, cell_errors)
    missing = Outcome(error=f"was not run ({ended})", error_type="NotRun")
    outcomes += [missing] * (total - len(outcomes))
    result = SubmissionResult(student, assignment.name, 0.0, assignment.max_score, problems=sub.problems,
                              cell_errors=cell_errors, child=ended, digest=digest)
    position = 0
    for ex in assignment.exercises:
        group = cases[ex.name]
        result.exercises.append(score_exercise(assignment, ex, group, outcomes[position:position + len(group)]))
        position += len(group)
    result.score = round(sum(e.points for e in result.exercises), 6)
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _run_calls(box: sandbox.Sandbox, job: dict, limits: Limits, outcomes: list[Outcome],
               cell_errors: dict[str, str]) -> str:
    """Run the job; when the child dies during a call, fail the rest of that exercise and go on with the
    next exercise in a fresh child. Returns how the (first abnormal) child ended."""
    deadline = time.monotonic() + limits.wall_seconds
    calls, first = job["calls"], "ok"
    while len(outcomes) < len(calls):
        remaining = deadline - time.monotonic()
        if remaining < 1:
            return first if first != "ok" else "timeout"
        child = box.run({**job, "start": len(outcomes)}, replace(limits, wall_seconds=remaining))
        cells = [r for r in child.records if "cell" in r]
        for rec in cells:
            if rec.get("error"):
                cell_errors.setdefault(str(rec["cell"])[:100], str(rec["error"])[:500])
        for rec in child.records:
            if "call" in rec and rec["call"] == len(outcomes):
                outcomes.append(_outcome(rec))
        ended = child.ended if child.ended != "ok" or len(outcomes) == len(calls) else "exited during a call"
        first = ended if first == "ok" else first
        if ended == "ok" or ended in ("timeout", "sandbox setup failed") or len(cells) < len(job["program"]):
            break
        name = calls[len(outcomes)]["name"]
        while len(outcomes) < len(calls) and calls[len(outcomes)]["name"] == name:
            outcomes.append(Outcome(error=f"the program stopped during a call of {name} ({ended})",
                                    error_type="Crashed"))
    return first


def _outcome(record: dict) -> Outcome:
    if "value" in record:
        try:
            return Outcome(value=wire.decode(record["value"]))
        except (wire.WireError, ValueError, TypeError) as exc:
            return Outcome(error=f"returned something that is not plain data ({exc})", error_type="BadValue")
    return Outcome(error=str(record.get("error", "unknown error"))[:500], error_type=str(record.get("type", "Error")))


def find_submissions(root: Path, assignment: str) -> list[tuple[str, Path]]:
    """Return (student id, notebook path) for every `<root>/<student>/<assignment>/<assignment>.ipynb`."""
    found = []
    for student_dir in sorted(Path(root).iterdir()):
        if student_dir.is_dir() and not student_dir.is_symlink() and not student_dir.name.startswith("."):
            found.append((student_dir.name, student_dir / assignment / f"{assignment}.ipynb"))
    return found


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half of one
    (`durable`: on disk before the call returns, so that a power cut cannot lose it either)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def result_path(out: Path, student: str, assignment: str) -> Path:
    """Return where one student's result JSON lives under the output directory."""
    return Path(out) / "results" / student / f"{assignment}.json"


def load_result(path: Path) -> SubmissionResult | None:
    """Return a stored result, or None when there is none or it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["exercises"] = [ExerciseResult(**{**e, "checks": [CheckResult(**c) for c in e["checks"]]})
                            for e in raw["exercises"]]
        return SubmissionResult(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def grade_folder(assignment: Assignment, root: Path, out: Path, secret: str, limits: Limits,
                 workers: int | None = None, on_result=None, scheduler: str | None = None,
                 weak_ok: bool = False) -> list[SubmissionResult]:
    """Grade every submission under `root` in parallel (threads here, or a Dask cluster at `scheduler`);
    skip those already graded with the same bytes. Each result is written atomically as it arrives."""
    submissions = find_submissions(root, assignment.name)
    results: dict[str, SubmissionResult] = {}
    todo = []
    for student, path in submissions:
        digest = file_digest(path)
        done = load_result(result_path(out, student, assignment.name))
        if done and done.digest and done.digest == digest:
            results[student] = done
        else:
            todo.append((student, path, digest))
    with _executor(workers, scheduler) as pool, \
            tqdm(total=len(submissions), initial=len(results), desc=f"grading {assignment.name}",
                 unit="nb", file=sys.stderr, disable=None, smoothing=0.1) as bar:
        futures = [pool.submit(grade_answers, assignment, student, read_submission(path, assignment.template),
                               student_seed(secret, student, assignment.name), digest, limits, weak_ok)
                   for student, path, digest in todo]
        for fut in as_completed(futures):
            res = fut.result()
            write_atomic(result_path(out, res.student, assignment.name), json.dumps(asdict(res), indent=1))
            results[res.student] = res
            if on_result:
                on_result(res)
            bar.update(1)
    return [results[s] for s, _ in submissions]


@contextmanager
def _executor(workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    if scheduler is None:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            yield pool
        return
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client:
        with client.get_executor(pure=False) as pool:
            yield pool
