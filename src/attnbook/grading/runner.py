"""Grade submissions: one submission end to end, or a whole folder in parallel with progress."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import wire
from .checks import Assignment, CheckResult, ExerciseResult, Outcome, child_job, score_exercise, student_seed
from .notebook import read_submission
from .sandbox import Limits, run_child


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


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, or '' when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() if not Path(path).is_symlink() else "symlink"
    except OSError:
        return ""


def grade_submission(assignment: Assignment, student: str, path: Path, secret: str, limits: Limits) -> SubmissionResult:
    """Grade one notebook; a broken notebook or a crashing child still yields a result."""
    sub = read_submission(path, assignment.template)
    cases = assignment.cases(student_seed(secret, student, assignment.name))
    outcomes: list[Outcome] = []
    cell_errors: dict[str, str] = {}
    ended = "no answer cells were found"
    if sub.answers:
        child = run_child(child_job(assignment, sub.answers, cases, limits.call_seconds), limits)
        ended = child.ended
        for rec in child.records:
            if "cell" in rec and rec.get("error"):
                cell_errors[str(rec["cell"])] = str(rec["error"])[:500]
            elif "call" in rec and rec.get("call") == len(outcomes):
                outcomes.append(_outcome(rec))
    total = sum(len(group) for group in cases.values())
    missing = Outcome(error=f"was not run ({ended})", error_type="NotRun")
    outcomes += [missing] * (total - len(outcomes))
    result = SubmissionResult(student, assignment.name, 0.0, assignment.max_score, problems=sub.problems,
                              cell_errors=cell_errors, child=ended, digest=file_digest(path))
    position = 0
    for ex in assignment.exercises:
        group = cases[ex.name]
        result.exercises.append(score_exercise(assignment, ex, group, outcomes[position:position + len(group)]))
        position += len(group)
    result.score = round(sum(e.points for e in result.exercises), 6)
    return result


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


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
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
        raw["exercises"] = [ExerciseResult(**{**e, "checks": [CheckResult(**c) for c in e["checks"]]}) for e in raw["exercises"]]
        return SubmissionResult(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def grade_folder(assignment: Assignment, root: Path, out: Path, secret: str, limits: Limits,
                 workers: int | None = None, on_result=None) -> list[SubmissionResult]:
    """Grade every submission under `root` in parallel; skip those already graded with the same bytes."""
    submissions = find_submissions(root, assignment.name)
    results: dict[str, SubmissionResult] = {}
    todo = []
    for student, path in submissions:
        done = load_result(result_path(out, student, assignment.name))
        if done and done.digest and done.digest == file_digest(path):
            results[student] = done
        else:
            todo.append((student, path))
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(submissions), initial=len(results), desc=f"grading {assignment.name}",
                 unit="nb", file=sys.stderr, disable=None) as bar:
        futures = {pool.submit(grade_submission, assignment, s, p, secret, limits): s for s, p in todo}
        for fut in as_completed(futures):
            res = fut.result()
            write_atomic(result_path(out, res.student, assignment.name), json.dumps(asdict(res), indent=1))
            results[res.student] = res
            if on_result:
                on_result(res)
            bar.update(1)
    return [results[s] for s, _ in submissions]
