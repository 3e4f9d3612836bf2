"""Grade submissions: one end to end, or a whole folder in parallel (threads or Dask), resumably, with progress.

Each submission is graded inside its own error boundary: whatever its code, its outputs or its file name
do, a failure becomes that student's "grader error" result and every other student is graded. A
submission in flight when the grader itself died twice is not tried a third time (so no rerun replays a
crash), and a stored result is reused only while the submission's bytes and the run's fingerprint (the
assignment's template, reference and checks, the grader's code, the limits and the secret) are unchanged.

Each submission is graded in the language of its feedback (its notebook's, or the one asked for): every
message of its result is written in that language, and the result remembers it (`language`, also part of the
fingerprint with that language's catalogue), so it is reused only for the same language.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from .. import i18n
from ..i18n import LANGUAGES, t, translate
from . import drivers, sandbox, wire
from .checks import Assignment, CheckResult, ExerciseResult, Outcome, child_job, score_exercise, submission_seed
from .notebook import Submission, open_submission, parse_submission
from .sandbox import IsolationError, Limits

GRADER_ERROR = "grader error"
MAX_ATTEMPTS = 2  # times the grader may die with a submission in flight before it is given up on


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
    status: str = "graded"  # or GRADER_ERROR
    fingerprint: str = ""
    timing: dict[str, float] = field(default_factory=dict)  # seconds in the sandbox and in the parent's scoring
    language: str = "en"  # of every message above, and of the feedback page


def grader_fingerprint(assignment: Assignment, limits: Limits, secret: str, language: str = "en") -> str:
    """Return the digest of everything besides the submission that decides its result in `language`."""
    h = hashlib.sha256(assignment.fingerprint.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.read_bytes())
    h.update(json.dumps(asdict(limits), sort_keys=True).encode())
    h.update(hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest())
    if language != "en":
        catalogue = i18n.catalogue_path(language)
        h.update(language.encode() + b"\0" + (catalogue.read_bytes() if catalogue.is_file() else b""))
    return h.hexdigest()


# How a child "ended" when none ran, or when it exited early: English, like the fork server's endings (the
# grader tests them), and catalogue templates (a student reads them translated, see `stopped_reason`).
NO_ANSWERS = translate("no answer cells were found", "en")
EXITED = translate("exited during a call", "en")


def stopped_reason(ended: str) -> str:
    """Return how a child ended (the fork server says it in English) in the current language."""
    return i18n.retranslate(ended)


def _prepare_grader_process() -> None:
    drivers.trust_this_process()  # this is the grader: its drivers run the reference and mistakes only
    torch = sys.modules.get("torch")  # the reference's torch: one thread each, or workers spin against each other
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def grade_answers(assignment: Assignment, student: str, sub: Submission, seed: int, digest: str,
                  limits: Limits, weak_ok: bool = False) -> SubmissionResult:
    """Run a parsed submission in a sandbox of this process and score it, in the current language."""
    _prepare_grader_process()
    start = time.monotonic()
    cases = assignment.cases(seed)
    total = sum(len(group) for group in cases.values())
    outcomes: list[Outcome] = []
    cell_errors: dict[str, str] = {}
    ended = NO_ANSWERS
    if sub.answers:
        box = sandbox.shared(weak_ok)
        ended = _run_calls(box, child_job(assignment, sub.answers, cases, limits.call_seconds), limits,
                           outcomes, cell_errors)
    missing = Outcome(error=t("was not run ({reason})", reason=stopped_reason(ended)), error_type="NotRun")
    outcomes += [missing] * (total - len(outcomes))
    result = SubmissionResult(student, assignment.name, 0.0, assignment.max_score, problems=sub.problems,
                              cell_errors=cell_errors, child=ended, digest=digest, language=i18n.current())
    scoring = time.monotonic()
    position = 0
    for ex in assignment.exercises:
        group = cases[ex.name]
        result.exercises.append(score_exercise(assignment, ex, group, outcomes[position:position + len(group)]))
        position += len(group)
    result.score = round(sum(e.points for e in result.exercises), 6)
    end = time.monotonic()
    result.seconds = round(end - start, 3)
    result.timing = {"sandbox": round(scoring - start, 4), "scoring": round(end - scoring, 4)}
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
        # The keeper passes on only the expected records, in order: cells first, then calls.
        records = [r for r in child.records if "setup_error" not in r]
        cells = records[:len(job["program"])]
        for (grade_id, _), rec in zip(job["program"], cells):
            if rec.get("error") or "refused" in rec:
                cell_errors.setdefault(grade_id, wire.message(rec.get("error") or rec["refused"]))
        for rec in records[len(cells):len(cells) + len(calls) - len(outcomes)]:
            outcomes.append(_outcome(rec))
        ended = child.ended if child.ended != "ok" or len(outcomes) == len(calls) else EXITED
        first = ended if first == "ok" else first
        if ended == "ok" or ended in ("timeout", "sandbox setup failed") or len(cells) < len(job["program"]):
            break
        name = calls[len(outcomes)]["name"]
        stopped = Outcome(error=t("the program stopped during a call of {name} ({reason})", name=name,
                                  reason=stopped_reason(ended)),
                          error_type="Timeout" if ended.startswith("it ran past") else "Crashed")
        while len(outcomes) < len(calls) and calls[len(outcomes)]["name"] == name:
            outcomes.append(stopped)
    return first


def _outcome(record: dict) -> Outcome:
    if "refused" in record:
        return Outcome(error=t("sent a result that is not plain data ({reason})",
                               reason=wire.message(record["refused"])), error_type="BadValue")
    if "value" in record:
        try:
            return Outcome(value=wire.decode(record["value"]))
        except (wire.WireError, ValueError, TypeError, RecursionError) as exc:
            return Outcome(error=t("returned something that is not plain data ({reason})",
                                   reason=wire.message(str(exc))), error_type="BadValue")
    return Outcome(error=wire.message(record.get("error", "unknown error")),
                   error_type=wire.message(record.get("type", "Error"), 100))


def _clip_messages(result: SubmissionResult) -> None:
    """Cut every message and label to a bounded, printable length before it reaches results or pages."""
    result.problems = [wire.message(p) for p in result.problems]
    result.child = wire.message(result.child)
    for ex in result.exercises:
        ex.diagnoses = [wire.message(d, 2000) for d in ex.diagnoses]
        for cause in ex.causes:
            cause.message, cause.english = wire.message(cause.message, 2000), wire.message(cause.english, 2000)
        for check in ex.checks:
            check.label, check.message = wire.message(check.label, 300), wire.message(check.message)


def grader_error(assignment: Assignment, student: str, digest: str, fingerprint: str, reason: str,
                 language: str = "en") -> SubmissionResult:
    """Return the result recorded when the grader itself failed on a submission: zero, and why (in `language`)."""
    with i18n.language(language):
        problem = t("the grader could not grade this notebook ({reason}); your instructor has been told",
                    reason=wire.message(reason))
    return SubmissionResult(student, assignment.name, 0.0, assignment.max_score, status=GRADER_ERROR,
                            child=GRADER_ERROR, digest=digest, fingerprint=fingerprint, problems=[problem],
                            language=language)


def grade_safely(assignment: Assignment, student: str, sub: Submission, seed: int, digest: str, fingerprint: str,
                 limits: Limits, weak_ok: bool = False) -> SubmissionResult:
    """Run and score one parsed submission inside an error boundary, in the submission's language (this is
    what workers run)."""
    try:
        with i18n.language(sub.language):
            result = grade_answers(assignment, student, sub, seed, digest, limits, weak_ok)
        result.fingerprint = fingerprint
        _clip_messages(result)
        return result
    except IsolationError:
        raise
    except Exception as exc:  # noqa: BLE001  (the boundary: anything else is this submission's grader error)
        return grader_error(assignment, student, digest, fingerprint, f"{type(exc).__name__}: {exc}", sub.language)


def _parse(assignment: Assignment, data: bytes | None, problem: str | None, language: str | None) -> Submission:
    name = f"{assignment.name}.ipynb"
    if data is None:
        return Submission(problems=[problem], language=language or "en")
    return parse_submission(data, name, assignment.template, language)


def find_submissions(root: Path, assignment: str) -> list[tuple[str, str]]:
    """Return (student id, folder name) for every student folder under `root`; the id is the folder name
    with anything unprintable escaped (bytes that are not UTF-8 show as \\xNN)."""
    with os.scandir(root) as entries:
        folders = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
    return [(wire.printable(folder), folder) for folder in folders]


def student_folder(student: str) -> str:
    """Return the folder name that holds a student's files in the output folder (short enough for any
    file system; a long id is cut and given a digest, so that two ids never share a folder)."""
    if len(student.encode()) <= 150 and not re.fullmatch(r".{60}~[0-9a-f]{16}", student, re.S):
        return student  # (an id shaped like a cut one is cut too: it must not take a long id's folder)
    return f"{student[:60]}~{hashlib.sha256(student.encode()).hexdigest()[:16]}"


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half of one
    (`durable`: on disk before the call returns, so that a power cut cannot lose it either). No character
    can make the write fail: what UTF-8 cannot encode is written as a backslash escape."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def result_path(out: Path, student: str, assignment: str) -> Path:
    """Return where one student's result JSON lives under the output directory."""
    return Path(out) / "results" / student_folder(student) / f"{assignment}.json"


def load_result(path: Path) -> SubmissionResult | None:
    """Return a stored result, or None when there is none or it cannot be read."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["exercises"] = [ExerciseResult(**{**e, "checks": [CheckResult(**c) for c in e["checks"]]})
                            for e in raw["exercises"]]
        return SubmissionResult(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


class _Attempts:
    """A marker per submission in flight, so that a submission that kills the grader itself is given up on
    after MAX_ATTEMPTS runs instead of stopping every rerun of the class."""

    def __init__(self, out: Path, assignment: str):
        self.out, self.assignment = out, assignment

    def _path(self, student: str) -> Path:
        return Path(self.out) / "results" / student_folder(student) / f".{self.assignment}.attempt"

    def count(self, student: str, key: str) -> int:
        try:
            mark = json.loads(self._path(student).read_text())
            return int(mark["count"]) if mark["key"] == key else 0
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def begin(self, student: str, key: str) -> None:
        write_atomic(self._path(student), json.dumps({"key": key, "count": self.count(student, key) + 1}),
                     durable=False)

    def end(self, student: str) -> None:
        self._path(student).unlink(missing_ok=True)


def grade_folder(assignment: Assignment, root: Path, out: Path, secret: str, limits: Limits,
                 workers: int | None = None, on_result: Callable | None = None, scheduler: str | None = None,
                 weak_ok: bool = False, language: str | None = None) -> list[SubmissionResult]:
    """Grade every submission under `root` in parallel (threads here, or a Dask cluster at `scheduler`), each
    in `language` or else in its notebook's own; reuse a stored result only for the same bytes under the same
    fingerprint, in the same language. Each result is written atomically as it arrives; a failure while
    storing or reporting one is that student's alone."""
    fingerprints = {lang: grader_fingerprint(assignment, limits, secret, lang) for lang in LANGUAGES}
    attempts = _Attempts(out, assignment.name)
    results: dict[str, SubmissionResult] = {}
    todo, stale = [], 0
    submissions = find_submissions(root, assignment.name)
    for student, folder in submissions:
        with i18n.language(language or "en"):
            data, problem = open_submission(Path(root), (folder, assignment.name, f"{assignment.name}.ipynb"))
        digest = hashlib.sha256(data if data is not None else problem.encode("utf-8", "surrogateescape")).hexdigest()
        try:  # parsed here, from the bytes just hashed; only the answers are kept (and travel)
            sub = _parse(assignment, data, problem, language)
        except Exception as exc:  # noqa: BLE001  (the boundary reaches the parser too)
            results[student] = grader_error(assignment, student, digest, fingerprints[language or "en"],
                                            f"{type(exc).__name__}: {exc}", language or "en")
            _store(out, results[student], on_result, attempts)
            continue
        fingerprint = fingerprints[sub.language]
        done = load_result(result_path(out, student, assignment.name))
        key = f"{digest} {fingerprint}"
        if done and done.digest == digest and done.fingerprint == fingerprint and done.language == sub.language:
            results[student] = done
        elif attempts.count(student, key) >= MAX_ATTEMPTS:
            with i18n.language(sub.language):
                reason = t("the grader stopped {n} times while grading it", n=MAX_ATTEMPTS)
            results[student] = grader_error(assignment, student, digest, fingerprint, reason, sub.language)
            _store(out, results[student], on_result, attempts)
        else:
            stale += bool(done and done.digest == digest)
            seed = submission_seed(secret, student, assignment.name, digest)
            todo.append(((student, digest, fingerprint, sub.language),
                         (assignment, student, sub, seed, digest, fingerprint, limits, weak_ok)))
    if stale:
        print(f"attnbook: {assignment.name}: the template, reference, checks, grader, limits or feedback language "
              f"changed since {stale} stored result(s) were graded: regrading them", file=sys.stderr)
    local = scheduler is None
    if local:
        sandbox.prestart()
    if "torch" in sys.modules:  # the reference uses torch: its first calls would import sympy and more
        drivers.warm_up()
    gc.freeze()  # what exists now (torch, the references) lives on: the collector need not walk it per result
    with _executor(workers, scheduler) as pool, \
            tqdm(total=len(submissions), initial=len(results), desc=f"grading {assignment.name}",
                 unit="nb", file=sys.stderr, disable=None, smoothing=0.1) as bar:
        futures: dict[Future, tuple[str, str, str, str]] = {}
        for about, args in todo:
            _, digest, fingerprint, _ = about
            fut = pool.submit(_attempted, attempts, f"{digest} {fingerprint}", *args) if local else \
                pool.submit(grade_safely, *args)
            futures[fut] = about
        for fut in as_completed(futures):
            student, digest, fingerprint, lang = futures[fut]
            try:
                res = fut.result()
            except IsolationError:
                raise
            except Exception as exc:  # noqa: BLE001  (a Dask worker that died, a lost connection)
                res = grader_error(assignment, student, digest, fingerprint, f"{type(exc).__name__}: {exc}", lang)
            results[res.student] = res
            _store(out, res, on_result, attempts)
            bar.update(1)
    return [results[s] for s, _ in submissions]


def _attempted(attempts: _Attempts, key: str, *args) -> SubmissionResult:
    attempts.begin(args[1], key)
    return grade_safely(*args)


def _store(out: Path, res: SubmissionResult, on_result: Callable | None, attempts: _Attempts) -> None:
    try:
        write_atomic(result_path(out, res.student, res.assignment), json.dumps(asdict(res), indent=1))
        attempts.end(res.student)
        if on_result:
            on_result(res)
    except Exception as exc:  # noqa: BLE001  (disk full, a name the file system refuses: this student only)
        res.status = GRADER_ERROR
        with i18n.language(res.language):
            res.problems.append(t("the grader could not store this result ({reason})", reason=wire.message(str(exc))))


def grader_errors(results: list[SubmissionResult]) -> list[str]:
    """Return one line per result the grader failed on, for the summary at the end of a run."""
    return [f"{r.student} ({r.assignment}): {r.problems[-1] if r.problems else GRADER_ERROR}"
            for r in results if r.status == GRADER_ERROR]


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the output folder's lock for the `with` block; raise OutputBusy at once if another run holds it."""
    Path(out).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(out) / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("ascii", "replace").strip() or "unknown"
            raise OutputBusy(f"{out} is in use by another `attnbook autograde` ({holder}): wait until it "
                             f"finishes, or grade into another --out folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)


class OutputBusy(RuntimeError):
    """Another grading run holds the output folder."""


@contextmanager
def _executor(workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    if scheduler is None:
        with ThreadPoolExecutor(max_workers=workers or (os.cpu_count() or 1) + 1) as pool:
            yield pool
        return
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client:
        with client.get_executor(pure=False) as pool:
            yield pool
