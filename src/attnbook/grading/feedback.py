"""Per-student feedback as a standalone HTML page, and the class's grades.csv.

The page shows, per exercise, the points of each family of checks, each named cause with the checks it
explains, then the failed checks that no cause explains, and finally every check, all in the result's
language (`lang` of the page too). Pages live where nbgrader's `release_feedback` looks for them:
`feedback/<student>/<assignment>/<notebook>.html`.
"""

from __future__ import annotations

import os
import stat
from html import escape
from pathlib import Path

from .. import i18n
from ..i18n import LANGUAGES, t, translate
from .checks import ExerciseResult
from .csvsafe import csv_text
from .runner import GRADER_ERROR, NO_ANSWERS, SubmissionResult, stopped_reason, student_folder, write_atomic
from .spec import family_title

STYLE = """
body{font-family:system-ui,sans-serif;max-width:54rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h2{margin-top:2.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem} h3{font-size:1rem;margin:1.1rem 0 .4rem}
.pass{color:#1b7837} .fail{color:#b2182b} .note{background:#fff7e0;border-left:4px solid #e6a700;padding:.5rem 1rem}
.cause{background:#eef4ff;border-left:4px solid #3465a4;padding:.4rem 1rem;margin:.6rem 0}
.cause.found{background:#f1f7ee;border-left-color:#4d9221} .cause p{margin:.3rem 0}
.explains{font-size:.92rem;color:#444} table{border-collapse:collapse} td,th{padding:.2rem .6rem;text-align:left;
vertical-align:top} tr+tr td{border-top:1px solid #eee} .num{text-align:right;font-variant-numeric:tabular-nums}
details{margin:.6rem 0} summary{cursor:pointer;color:#3465a4}
"""


def feedback_path(out: Path, student: str, assignment: str) -> Path:
    """Return where a student's feedback page goes: nbgrader's feedback/<student>/<assignment>/<notebook>.html."""
    return Path(out) / "feedback" / student_folder(student) / assignment / f"{assignment}.html"


EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")  # what `nbgrader release_feedback` reads beside a page


def write_feedback(out: Path, submitted: Path, result: SubmissionResult) -> None:
    """Write the student's page where nbgrader's commands find it, with the submission's timestamp and secret
    (copied from `submitted/<student>/<assignment>/` when nbgrader's exchange left them there)."""
    page = feedback_path(out, result.student, result.assignment)
    write_atomic(page, render(result), durable=False)
    for name in EXCHANGE_FILES:
        text = _small_text(Path(submitted) / result.student / result.assignment / name)
        if text is not None:
            write_atomic(page.parent / name, text, durable=False)


def _small_text(path: Path, limit: int = 4096) -> str | None:
    """Return a small regular file's text (never following a symbolic link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return fh.read(limit).decode("utf-8", errors="replace")


def points(value: float) -> str:
    """Return points as a person reads them: at most two decimals, no trailing zeros (12.86, 1.5, 2)."""
    return f"{round(value + 0.0, 2):g}"


def _joined(template: str, **html: str) -> str:
    """Return a (translated) joining template, its own characters escaped, filled with pieces of HTML."""
    return escape(template).format(**html)


def _checks_list(labels: list[str], messages: dict[str, str]) -> str:
    return "".join("<li>" + _joined(translate("{label}: {message}"), label=escape(label),
                                    message=f'<span class="fail">{escape(messages.get(label, ""))}</span>') + "</li>"
                   for label in labels)


def _exercise(ex: ExerciseResult) -> str:
    passed = sum(c.passed for c in ex.checks)
    score = f"{points(ex.points)} / {points(ex.max_points)} " + escape(
        t("points ({passed} of {total} checks passed)", passed=passed, total=len(ex.checks)))
    name = f"<code>{escape(ex.name)}</code>"
    head = "<h2>" + _joined(translate("{label}: {message}"), label=name, message=score) + "</h2>"
    rows = "".join(f'<tr><td>{escape(family_title(f.family))}</td><td class="num">{f.passed} / {f.total}</td>'
                   f'<td class="num">{points(f.points)} / {points(f.max_points)}</td></tr>' for f in ex.families)
    table = (f"<table><tr><th>{escape(t('checks of'))}</th><th>{escape(t('passed'))}</th>"
             f"<th>{escape(t('points'))}</th></tr>{rows}</table>") if ex.families else ""
    messages = {c.label: c.message for c in ex.checks if not c.passed}
    causes = ""
    for cause in ex.causes:
        kind = t("Likely mistake:") if cause.source == "catalogue" else t("What your values show:")
        css = "cause" if cause.source == "catalogue" else "cause found"
        explains = escape(t("It explains these failed checks:"))
        said = _joined(translate("{kind} {message}"), kind=f"<strong>{escape(kind)}</strong>",
                       message=escape(cause.message))
        causes += (f'<div class="{css}"><p>{said}</p><p class="explains">{explains}</p><ul class="explains">'
                   f"{_checks_list(cause.checks, messages)}</ul></div>")
    if causes:
        causes = f"<h3>{escape(t('What went wrong'))}</h3>{causes}"
    unexplained = [c.label for c in ex.checks if not c.passed and c.label not in ex.explained]
    rest = ""
    if unexplained:
        title = t("Failed checks that no cause explains") if ex.causes else t("Failed checks")
        rest = f"<h3>{escape(title)}</h3><ul>{_checks_list(unexplained, messages)}</ul>"
    every = "".join(f'<tr><td class="{"pass" if c.passed else "fail"}">{"✔" if c.passed else "✘"}</td>'
                    f"<td>{escape(family_title(c.family))}</td><td>{escape(c.label)}</td>"
                    f"<td>{escape(c.message)}</td></tr>" for c in ex.checks)
    summary = escape(t("All {n} checks", n=len(ex.checks)))
    return (f"<section>{head}{table}{causes}{rest}<details><summary>{summary}</summary><table>{every}</table>"
            "</details></section>")


def render(result: SubmissionResult) -> str:
    """Return the feedback page in the result's language: score, points per family, named causes with their
    checks, notebook problems."""
    lang = result.language if result.language in LANGUAGES else "en"
    with i18n.language(lang):
        return _page(result, lang.replace("_", "-"))


def _page(result: SubmissionResult, html_lang: str) -> str:
    notes = list(result.problems) + [t("cell {cell} raised {error}", cell=repr(k), error=v)
                                     for k, v in result.cell_errors.items()]
    if result.child not in ("ok", NO_ANSWERS, GRADER_ERROR):  # a grader error says why among the problems
        notes.append(t("your code was stopped: {why}", why=stopped_reason(result.child)))
    problems = ""
    if notes:
        problems = (f'<div class="note"><h2>{escape(t("About your notebook"))}</h2><ul>'
                    + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul></div>")
    title = escape(t("{assignment}: feedback for {student}", assignment=result.assignment, student=result.student))
    score = escape(t("Score: {score} / {max_score}", score=points(result.score), max_score=points(result.max_score)))
    rule = escape(t("Points for anything but random inputs are earned in proportion to the points for random inputs."))
    return (f'<!doctype html>\n<html lang="{html_lang}"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n<p><strong>{score}</strong></p>"
            f"<p class=\"explains\">{rule}</p>{problems}"
            + "".join(_exercise(ex) for ex in result.exercises) + "\n</body></html>\n")


def grades_csv(results: list[SubmissionResult]) -> str:
    """Return grades.csv: `student_id,assignment,score,max_score`, one row per student and assignment."""
    return csv_text([["student_id", "assignment", "score", "max_score"]] +
                    [[r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}"]
                     for r in sorted(results, key=lambda r: (r.student, r.assignment))])
