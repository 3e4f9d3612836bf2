"""Command line: `attnbook build | release | translations | autograde | report`."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from .i18n import LANGUAGES


def _course_root(path: str) -> Path:
    root = Path(path).resolve()
    if not (root / "solutions").is_dir() or not (root / "autograde").is_dir():
        raise SystemExit(f"attnbook: {root} is not a course directory (it needs solutions/ and autograde/)")
    return root


def assignments(root: Path) -> list[str]:
    """Return the assignment names found under `root/solutions`, sorted."""
    return sorted(p.name for p in (root / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def cmd_build(args: argparse.Namespace) -> int:
    from .site.build import build

    return build(Path(args.course).resolve(), args.edition, Path(args.out).resolve() if args.out else None,
                 args.language)


def release(root: Path, names: list[str]) -> None:
    """Generate `notebooks/<a>/<a>.ipynb` (student version) from `solutions/` with nbgrader, and its
    Chinese version `notebooks/zh_CN/<a>/<a>.ipynb` from it and the notebook's catalogue."""
    from .translations.update import write_notebooks

    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"releasing {name}", file=sys.stderr)
            subprocess.run([nbgrader, "generate_assignment", name, "--force", "--log-level=WARN",
                            f"--db=sqlite:///{tmp}/gradebook.db"], cwd=root / "autograde", check=True)
    write_notebooks(root, names)


def cmd_release(args: argparse.Namespace) -> int:
    root = _course_root(args.course)
    release(root, args.assignments or assignments(root))
    return 0


def cmd_translations(args: argparse.Namespace) -> int:
    from .translations.update import report, update

    root = _course_root(args.course)
    for path in update(root, assignments(root)):
        print(f"updated {path}", file=sys.stderr)
    print("\n".join(report(root)))
    return 0


def _secret(out: Path, given: str | None) -> str:
    if given:
        return given
    if os.environ.get("ATTNBOOK_SECRET"):
        return os.environ["ATTNBOOK_SECRET"]
    path = out / ".secret"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_hex(16).encode())
        os.close(fd)
    return path.read_text().strip()


def cmd_autograde(args: argparse.Namespace) -> int:
    from .grading import gradebook, sandbox
    from .grading.checks import Assignment, uses_torch
    from .grading.csvsafe import csv_text

    root = _course_root(args.course)
    # the fork server and the gradebook recorder warm up while this process builds the assignments
    sandbox.prestart(torch=any(uses_torch(n, root / "solutions", root / "autograde" / "checks")
                               for n in args.assignment))
    gradebook.prestart()
    from .grading.feedback import feedback_path, grades_csv, write_feedback
    from .grading.runner import OutputBusy, grade_folder, grader_errors, load_result, output_lock, write_atomic
    from .grading.sandbox import IsolationError, Limits

    submitted = Path(args.submitted).resolve()
    if not submitted.is_dir():
        print(f"attnbook: {submitted}: no such folder of submissions", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    limits = Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout), call_seconds=args.call_timeout,
                    memory_bytes=args.memory_mb * 2**20)
    db_url = args.db or f"sqlite:///{out / 'gradebook.db'}"
    problems: list[str] = []

    def feedback(res):
        try:
            write_feedback(out, submitted, res)
        except Exception as exc:  # noqa: BLE001  (this student's page only)
            problems.append(f"{res.student} ({res.assignment}): feedback not written: {type(exc).__name__}: {exc}")

    try:  # every assignment is built before anything is graded: a missing or broken one stops the run here
        assignments = [Assignment(name, root / "solutions", root / "autograde" / "checks") for name in args.assignment]
    except (OSError, ValueError, SyntaxError) as exc:
        print(f"attnbook: cannot grade: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        with output_lock(out):
            secret = _secret(out, args.secret)
            for assignment in assignments:
                name = assignment.name
                graded_now: set[str] = set()
                with gradebook.Recorder(db_url, assignment) as recorder:
                    def on_result(res):
                        feedback(res)
                        recorder.add(res)
                        graded_now.add(res.student)

                    results = grade_folder(assignment, submitted, out, secret, limits, args.workers, on_result,
                                           args.scheduler, args.weak_isolation, args.language)
                    for res in results:
                        if res.student not in graded_now:  # graded by an earlier run: record again (idempotent)
                            recorder.add(res)
                            if not feedback_path(out, res.student, name).exists():
                                feedback(res)
                problems += [f"gradebook: {f}" for f in recorder.failures]
                problems += grader_errors(results)
                print(f"{name}: graded {len(results)} submissions, mean score "
                      f"{sum(r.score for r in results) / max(1, len(results)):.2f} / {assignment.max_score:g}",
                      file=sys.stderr)
            all_results = [r for p in sorted((out / "results").glob("*/*.json")) if (r := load_result(p))]
            write_atomic(out / "grades.csv", grades_csv(all_results))
            write_atomic(out / "grader_errors.csv", csv_text([["problem"]] + [[p] for p in problems]))
    except OutputBusy as exc:
        print(f"attnbook: {exc}", file=sys.stderr)
        return 4
    except IsolationError as exc:
        print(f"attnbook: {exc}", file=sys.stderr)
        return 3
    if not args.scheduler:
        print(f"attnbook: sandbox: {sandbox.shared(args.weak_isolation).describe()}", file=sys.stderr)
    if problems:
        print(f"attnbook: {len(problems)} grader error(s), listed in {out / 'grader_errors.csv'} (every other "
              f"submission was graded):", file=sys.stderr)
        for line in problems[:50]:
            print(f"  {line}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .grading.report import write_report

    write_report([Path(p) for p in args.runs], Path(args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the `attnbook` command line."""
    parser = argparse.ArgumentParser(prog="attnbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the website (warnings are errors)")
    p.add_argument("--course", default=".", help="course directory (default: .)")
    p.add_argument("--edition", choices=["student", "instructor"], default="student",
                   help="instructor: reference solutions behind toggles, built into _instructor/_build/html")
    p.add_argument("--out", help="output folder (default: <course>/_build, or <course>/_instructor/_build)")
    p.add_argument("--language", choices=LANGUAGES,
                   help="build only this language (default: English in _build/html, Chinese in _build/html/zh_CN)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("release", help="generate student notebooks in notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    p.add_argument("--course", default=".")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("translations", help="after an English edit: re-extract messages, update the catalogues "
                       "in locales/ and src/attnbook/locales/, rewrite notebooks/zh_CN/, report what is left")
    p.add_argument("--course", default=".")
    p.set_defaults(func=cmd_translations)

    p = sub.add_parser("autograde", help="grade <submitted>/<student>/<assignment>/<assignment>.ipynb")
    p.add_argument("submitted", help="folder with one sub-folder per student")
    p.add_argument("--assignment", action="append", required=True, help="assignment name (repeatable)")
    p.add_argument("--out", required=True, help="output folder: grades.csv, feedback/, results/, gradebook.db")
    p.add_argument("--course", default=".", help="course directory with solutions/ and autograde/")
    p.add_argument("--db", help="gradebook URL (default: sqlite:///<out>/gradebook.db)")
    p.add_argument("--workers", type=int, default=None, help="parallel submissions (default: CPU count + 1)")
    p.add_argument("--timeout", type=float, default=60.0, help="wall and CPU seconds per submission (default 60)")
    p.add_argument("--call-timeout", type=float, default=10.0, help="seconds per checked call (default 10)")
    p.add_argument("--memory-mb", type=int, default=2048, help="memory per submission in MiB (default 2048)")
    p.add_argument("--secret", help="secret for per-student random inputs (default: $ATTNBOOK_SECRET or <out>/.secret)")
    p.add_argument("--scheduler", help="grade on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--weak-isolation", action="store_true",
                   help="where namespaces are unavailable, grade anyway with rlimits and a temporary folder only")
    p.add_argument("--language", choices=LANGUAGES,
                   help="write every student's feedback in this language (default: the language of each notebook)")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("report", help="class report (HTML, plots, CSV) and feedback from autograde output folders")
    p.add_argument("runs", nargs="+", help="output folders of `attnbook autograde` (their results/)")
    p.add_argument("--out", required=True, help="folder for index.html, the CSV files, plots and feedback/")
    p.set_defaults(func=cmd_report)

    args = parser.parse_args(argv)
    # nbgrader runs `alembic` and Jupyter Book runs kernels: both must come from this environment.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
