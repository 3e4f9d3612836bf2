"""Issue 12: the grader accepts either language's student notebook (same checks, same points, same cases for
the same seed) and writes feedback in the submission's language, or the one asked for with `--language`;
results remember their language, and the class report stays English.

Attacked as a student would: a setup cell that smuggles code in behind the language line, a notebook that
claims a language we do not have, metadata that is not a dict, a huge language string."""

from __future__ import annotations

import copy
import json
import pickle
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from attnbook.grading import child, wire
from attnbook.grading.checks import Assignment
from attnbook.grading.feedback import feedback_path, render
from attnbook.grading.notebook import build_program, parse_submission
from attnbook.grading.report import write_report
from attnbook.grading.runner import grade_safely, grader_fingerprint, load_result, result_path, stopped_reason
from attnbook.grading.sandbox import Limits
from attnbook.i18n import LANGUAGE_LINES, SETUP_CELL, language, t, translate
from conftest import ASSIGNMENTS, ROOT
from make_samples import submission

ZH = "zh_CN"
EDITED = "cell 'setup' is read-only and was edited"
EDITED_ZH = "单元格 'setup' 是只读的，却被修改了"
LIMITS = Limits(wall_seconds=60, cpu_seconds=60, call_seconds=10)
BIN = Path(sys.executable).parent


def released(name: str, lang: str) -> dict:
    folder = ROOT / "notebooks" / (name if lang == "en" else f"{ZH}/{name}")
    return json.loads((folder / f"{name}.ipynb").read_text(encoding="utf-8"))


def with_setup(nb: dict, source: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == SETUP_CELL:
            cell["source"] = source
    return nb


def setup_of(nb: dict) -> str:
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == SETUP_CELL)
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def parse(assignment: Assignment, nb: dict, lang: str | None = None):
    return parse_submission(json.dumps(nb).encode(), f"{assignment.name}.ipynb", assignment.template, lang)


def han_share(html: str) -> float:
    """Return the share of Han characters among the letters of a page's body text (code, style left out)."""
    body = re.sub(r"<(style|code|title)>.*?</\1>", "", html, flags=re.S)
    text = unescape(re.sub(r"<[^>]+>", " ", body))
    han, latin = len(re.findall(r"[\u4e00-\u9fff]", text)), len(re.findall(r"[A-Za-z]", text))
    return han / max(1, han + latin)


@pytest.fixture(scope="module")
def assignments() -> dict[str, Assignment]:
    return {name: Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks") for name in ASSIGNMENTS}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_each_languages_notebook_is_read_as_itself_with_no_problem_and_the_same_program(name, assignments):
    assignment = assignments[name]
    subs = {lang: parse(assignment, submission(released(name, lang), assignment.reference_answers))
            for lang in ("en", ZH)}
    for lang, sub in subs.items():
        assert sub.language == lang and sub.problems == [], (lang, sub.problems)
    assert subs["en"].answers == subs[ZH].answers == assignment.reference_answers
    programs = [build_program(assignment.template, sub.answers) for sub in subs.values()]
    assert programs[0] == programs[1]  # what runs is the template's: nothing comes from a setup cell


def test_a_setup_cell_accepted_is_exactly_one_languages_own_and_anything_else_is_reported(assignments):
    assignment = assignments["ch01_bottleneck"]
    en, zh = released("ch01_bottleneck", "en"), released("ch01_bottleneck", ZH)
    smuggled = setup_of(en) + "\n" + LANGUAGE_LINES[ZH] + "\nimport numpy; numpy.allclose = lambda *a, **k: True"
    cases = {
        "Chinese setup cell edited": (with_setup(zh, setup_of(zh) + "\nprint('hi')"), ZH),
        "English notebook, Chinese line and extra code": (with_setup(en, smuggled), "en"),
        "Chinese line without its comment": (with_setup(en, setup_of(zh).split("  #")[0]), "en"),
        "Chinese line twice": (with_setup(zh, setup_of(zh) + "\n" + LANGUAGE_LINES[ZH]), ZH),
    }
    for about, (nb, lang) in cases.items():
        sub = parse(assignment, nb)
        assert sub.language == lang, about
        assert sub.problems == [translate("cell {cell!r} is read-only and was edited: the original was used", lang)
                                .format(cell=SETUP_CELL)], (about, sub.problems)
    # An English notebook given exactly the Chinese setup cell is the Chinese notebook: nothing to report.
    sub = parse(assignment, with_setup(en, setup_of(zh)))
    assert sub.language == ZH and sub.problems == []
    # The Chinese notebook with its language line taken out is the English one.
    sub = parse(assignment, with_setup(zh, setup_of(en)))
    assert sub.language == "en" and sub.problems == []


@pytest.mark.parametrize("metadata", [
    {"attnbook": {"language": "klingon"}}, {"attnbook": {"language": "x" * 5_000_000}},
    {"attnbook": {"language": ["zh_CN"]}}, {"attnbook": {"language": {"zh_CN": 1}}}, {"attnbook": "zh_CN"},
    {"attnbook": {"language": None}}, {"attnbook": {"language": "zh-CN\u0000"}}, [], "zh_CN", None, 7,
], ids=lambda m: repr(m)[:40])
def test_a_language_the_notebook_claims_falls_back_safely_whatever_its_metadata(metadata, assignments):
    assignment = assignments["ch01_bottleneck"]
    for lang in ("en", ZH):
        nb = submission(released("ch01_bottleneck", lang), assignment.reference_answers)
        nb["metadata"] = metadata
        sub = parse(assignment, nb)
        assert sub.language == lang and sub.problems == []  # the setup cell says which notebook it is
        nb = with_setup(nb, setup_of(nb) + "\nx = 1")
        sub = parse(assignment, nb)
        assert sub.language == "en" and sub.problems == [EDITED + ": the original was used"]


def test_metadata_decides_when_the_setup_cell_is_no_languages_own(assignments):
    assignment = assignments["ch01_bottleneck"]
    zh = released("ch01_bottleneck", ZH)
    sub = parse(assignment, with_setup(zh, "import os"))
    assert sub.language == ZH and EDITED_ZH in sub.problems[0]
    zh["cells"] = [c for c in zh["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != SETUP_CELL]
    assert parse(assignment, zh).language == ZH
    assert parse(assignment, with_setup(zh, "import os"), "en").language == "en"  # --language wins


def test_problems_before_the_notebook_can_be_read_are_in_the_language_asked_for(assignments):
    assignment = assignments["ch01_bottleneck"]
    data = json.dumps(released("ch01_bottleneck", ZH)).encode()[:-100]
    assert "is not valid JSON" in parse_submission(data, "a.ipynb", assignment.template).problems[0]
    assert "不是有效的 JSON" in parse_submission(data, "a.ipynb", assignment.template, ZH).problems[0]


def test_how_a_child_ended_and_where_it_raised_read_in_chinese():
    with language(ZH):
        assert stopped_reason("it ran past the 1 s limit of a call") == "一次调用超出了 1 秒的时间限制"
        assert stopped_reason("crashed (signal 11, SIGSEGV)") == "崩溃了（信号 11，SIGSEGV）"
        assert stopped_reason("used more than 2048 MiB of memory") == "使用的内存超过了 2048 MiB"
        try:
            exec(compile("\n\nraise ValueError('tau must be positive')", "<cell x>", "exec"))
        except ValueError as exc:
            described = child._describe(exc)
        assert described == "ValueError: tau must be positive（第 3 行）"
        assert child.without_line(described) == "ValueError: tau must be positive"
    assert stopped_reason("it ran past the 1 s limit of a call") == "it ran past the 1 s limit of a call"


def test_values_refused_at_the_wire_are_said_in_the_current_language():
    with language(ZH), pytest.raises(wire.WireError, match="不能返回 set 类型的值"):
        wire.encode({1, 2})
    with language(ZH), pytest.raises(wire.WireError, match="超出浮点数范围的整数"):
        wire.decode(10 ** 400)
    with pytest.raises(wire.WireError, match="values of type set cannot be returned"):
        wire.encode({1, 2})


def test_the_fingerprint_differs_by_language(assignments):
    fingerprints = {lang: grader_fingerprint(assignments["ch01_bottleneck"], LIMITS, "s", lang) for lang in ("en", ZH)}
    assert fingerprints["en"] != fingerprints[ZH]


def test_diagnoses_come_in_the_language_of_the_grading_whatever_the_language_the_assignment_was_built_in():
    """The catalogue's sentences are written when the checks module runs; an assignment built (and cached by
    its source text) while another language was current must not give its diagnoses in that language."""
    from corpus import grade_in_process

    with language(ZH):
        built = Assignment("ch04_three_stages", ROOT / "solutions", ROOT / "autograde" / "checks")
    rebuilt = pickle.loads(pickle.dumps(built))  # what a Dask worker gets: rebuilt from the source texts
    exercise = next(ex for ex in built.exercises if ex.name == "masked_softmax")
    mistake = exercise.mistakes[0]
    assert not re.search(r"[\u4e00-\u9fff]", mistake.message)  # kept as the English template
    for assignment in (built, rebuilt):
        english = grade_in_process(assignment, exercise.name, mistake.source, seed=3)
        with language(ZH):
            chinese = grade_in_process(assignment, exercise.name, mistake.source, seed=3)
            family = t("masks")
        assert english.diagnoses[0] == mistake.message and english.causes[0].english == ""
        assert not any(re.search(r"[\u4e00-\u9fff]", c.label + c.message) for c in english.checks)
        assert chinese.diagnoses[0] == translate(mistake.message, ZH) and chinese.causes[0].english == mistake.message
        assert family == "掩码" and all(re.search(r"[\u4e00-\u9fff]", c.label) for c in chinese.checks)


def _wrong(assignment: Assignment) -> dict[str, str]:
    """The reference with the first catalogued mistake in every other exercise (as make_samples does)."""
    return {**assignment.reference_answers, **{ex.name: ex.mistakes[0].source for ex in assignment.exercises[::2]}}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_chinese_submission_scores_exactly_as_the_same_answers_in_english(name, assignments):
    assignment = assignments[name]
    for kind, answers in (("reference", assignment.reference_answers), ("wrong", _wrong(assignment))):
        results = {}
        for lang in ("en", ZH):
            sub = parse(assignment, submission(released(name, lang), answers))
            results[lang] = grade_safely(assignment, "student", sub, 12345, "d", "f", LIMITS)
        en, zh = results["en"], results[ZH]
        assert (en.language, zh.language, en.status, zh.status) == ("en", ZH, "graded", "graded")
        assert zh.score == en.score and (kind == "wrong") == (en.score < en.max_score), (kind, en.score, zh.score)
        for e, z in zip(en.exercises, zh.exercises, strict=True):
            assert (z.points, [c.passed for c in z.checks], z.mistake_keys) == \
                   (e.points, [c.passed for c in e.checks], e.mistake_keys), (kind, e.name)
            assert [c.key for c in z.causes] == [c.key for c in e.causes]
            assert [c.english for c in z.causes] == [c.message for c in e.causes]  # the report's wording
        if kind == "wrong":
            mistakes = {(ex.name, m.key): m.message for ex in assignment.exercises for m in ex.mistakes}
            named = [(ex.name, c) for ex in zh.exercises for c in ex.causes if c.source == "catalogue"]
            assert named and all(c.message == translate(mistakes[ex, c.key], ZH) != mistakes[ex, c.key]
                                 for ex, c in named)
            page = render(zh)
            assert 'lang="zh-CN"' in page and han_share(page) > 0.6, han_share(page)
            assert 'lang="en"' in render(en) and han_share(render(en)) == 0


def _autograde(submitted: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "attnbook"), "autograde", str(submitted), "--assignment", "ch01_bottleneck",
                           "--out", str(out), "--secret", "s", "--workers", "2", "--call-timeout", "2", *extra],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, assignments) -> dict:
    """A class of English and Chinese notebooks, and hostile ones, graded by the command line, then again with
    `--language en`, `--language zh_CN` and without."""
    name = "ch01_bottleneck"
    assignment = assignments[name]
    en, zh = released(name, "en"), released(name, ZH)
    loops = {**assignment.reference_answers,  # a call that switches its alarm off, a cell that raises
             "rnn_encode": "import signal\n\ndef rnn_encode(*args, **kwargs):\n"
                           "    signal.setitimer(signal.ITIMER_REAL, 0)\n    while True:\n        pass\n",
             "greedy_decode": "x = 1\nraise ValueError('not yet')\n"}
    huge = submission(en, assignment.reference_answers)
    huge["metadata"] = {"attnbook": {"language": "zh_CN" * 1_000_000}}
    notebooks = {
        "en_wrong": submission(en, _wrong(assignment)), "zh_wrong": submission(zh, _wrong(assignment)),
        "zh_right": submission(zh, assignment.reference_answers), "zh_loops": submission(zh, loops),
        "zh_smuggle": with_setup(submission(zh, assignment.reference_answers), setup_of(zh) + "\nimport os"),
        "en_smuggle": with_setup(submission(en, assignment.reference_answers),
                                 setup_of(en) + "\n" + LANGUAGE_LINES[ZH] + "\nimport os"),
        "huge_language": huge, "not_a_dict": {**submission(zh, assignment.reference_answers), "metadata": [1]},
    }
    tmp = tmp_path_factory.mktemp("languages")
    for student, nb in notebooks.items():
        path = tmp / "submitted" / student / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb), encoding="utf-8")
    (tmp / "submitted" / "zh_broken" / name).mkdir(parents=True)
    (tmp / "submitted" / "zh_broken" / name / f"{name}.ipynb").write_text(json.dumps(zh)[:-300])
    runs = {}
    for run, extra in (("own", ()), ("en", ("--language", "en")), ("zh", ("--language", ZH)), ("again", ())):
        proc = _autograde(tmp / "submitted", tmp / "out", *extra)
        results = {s: load_result(result_path(tmp / "out", s, name)) for s in [*notebooks, "zh_broken"]}
        pages = {s: feedback_path(tmp / "out", s, name).read_text(encoding="utf-8") for s in results}
        runs[run] = {"stderr": proc.stderr, "results": results, "pages": pages}
    write_report([tmp / "out"], tmp / "report")
    return {"runs": runs, "out": tmp / "out", "report": tmp / "report", "assignment": assignment}


def _is_chinese(page: str) -> bool:
    return 'lang="zh-CN"' in page and han_share(page) > 0.5


def _is_english(page: str) -> bool:
    return 'lang="en"' in page and han_share(page) == 0


def test_feedback_comes_in_the_language_of_each_notebook(class_run):
    run = class_run["runs"]["own"]
    results, pages = run["results"], run["pages"]
    languages = {s: r.language for s, r in results.items()}
    assert languages == {"en_wrong": "en", "zh_wrong": ZH, "zh_right": ZH, "zh_loops": ZH, "zh_smuggle": ZH,
                         "en_smuggle": "en", "huge_language": "en", "not_a_dict": ZH, "zh_broken": "en"}
    for student, lang in languages.items():
        assert (_is_chinese if lang == ZH else _is_english)(pages[student]), student
    mistake = next(m for ex in class_run["assignment"].exercises for m in ex.mistakes if ex.name == "rnn_encode")
    assert translate(mistake.message, ZH) in unescape(pages["zh_wrong"]) and mistake.message in pages["en_wrong"]
    assert "可能的错误：" in pages["zh_wrong"] and "Likely mistake:" in pages["en_wrong"]
    assert results["zh_wrong"].score == results["en_wrong"].score < 10
    assert all(results[s].score == 10 for s in ("zh_right", "zh_smuggle", "en_smuggle", "huge_language", "not_a_dict"))
    assert results["zh_right"].problems == [] and results["not_a_dict"].problems == []
    assert results["zh_smuggle"].problems == [EDITED_ZH + "：评分时用的是原来的内容"]
    assert results["en_smuggle"].problems == [EDITED + ": the original was used"]
    assert "is not valid JSON" in results["zh_broken"].problems[0]


def test_why_a_run_stopped_and_where_a_cell_raised_read_in_chinese(class_run):
    result = class_run["runs"]["own"]["results"]["zh_loops"]
    page = unescape(class_run["runs"]["own"]["pages"]["zh_loops"])
    assert result.child == "it ran past the 2 s limit of a call"  # stored as the keeper said it (English)
    assert "你的代码被终止了：一次调用超出了 2 秒的时间限制" in page
    assert "ValueError: not yet（第 2 行）" in result.cell_errors["greedy_decode"]
    greedy = next(e for e in result.exercises if e.name == "greedy_decode")
    assert all("'greedy_decode' 未定义" in c.message for c in greedy.checks if not c.passed), greedy.checks[0].message
    rnn = next(e for e in result.exercises if e.name == "rnn_encode")
    assert "程序在调用 rnn_encode 时停止了（一次调用超出了 2 秒的时间限制）" in [c.message for c in rnn.checks]


def test_language_asked_for_overrides_the_notebooks_and_a_rerun_regrades_only_those_it_changes(class_run):
    runs = class_run["runs"]
    own, en, zh, again = (runs[r] for r in ("own", "en", "zh", "again"))
    changed = {s for s, r in own["results"].items() if r.language == ZH}
    assert "changed since 5 stored result(s)" in en["stderr"] and len(changed) == 5
    for student, result in en["results"].items():
        assert result.language == "en" and _is_english(en["pages"][student]), student
        assert result.score == own["results"][student].score  # same bytes: same cases, same score
        if student not in changed:
            assert result.seconds == own["results"][student].seconds  # reused, not graded again
    assert "changed since 9 stored result(s)" in zh["stderr"]
    for student, result in zh["results"].items():
        assert result.language == ZH and _is_chinese(zh["pages"][student]), student
    assert "changed since 4 stored result(s)" in again["stderr"]  # back to each notebook's own language
    assert {s: r.language for s, r in again["results"].items()} == {s: r.language for s, r in own["results"].items()}
    assert [c.message for e in again["results"]["zh_wrong"].exercises for c in e.causes] == \
           [c.message for e in own["results"]["zh_wrong"].exercises for c in e.causes]


def test_the_class_report_stays_english_and_its_feedback_pages_keep_each_results_language(class_run):
    report = class_run["report"]
    index = (report / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in index and not re.search(r"[\u4e00-\u9fff]", index)
    mistake = next(m for ex in class_run["assignment"].exercises for m in ex.mistakes if ex.name == "rnn_encode")
    assert mistake.message in unescape(index)
    assert not re.search(r"[\u4e00-\u9fff]", (report / "mistakes.csv").read_text(encoding="utf-8"))
    results = class_run["runs"]["again"]["results"]
    for student, result in results.items():
        page = feedback_path(report, student, "ch01_bottleneck").read_text(encoding="utf-8")
        assert (_is_chinese if result.language == ZH else _is_english)(page), student

