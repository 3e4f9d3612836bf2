"""Red-team attacks on the grader that the other grading tests do not cover. Each test asserts the safe
behaviour: it fails where the grader has a hole."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from attnbook.grading import compare, wire
from attnbook.grading.checks import Assignment
from attnbook.grading.feedback import render
from attnbook.grading.notebook import Submission
from attnbook.grading.runner import grade_safely
from attnbook.grading.sandbox import Limits
from conftest import ROOT, course_copy

NAME = "ch01_bottleneck"
LIMITS = Limits(wall_seconds=30, cpu_seconds=30, call_seconds=5)
M61 = 2**61 - 1  # hash(k * M61) == 0 for every int k: every such key lands in the same hash slot


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return course_copy(tmp_path_factory.mktemp("course"), NAME)


@pytest.fixture(scope="module")
def assignment(course):
    return Assignment(NAME, course / "solutions", course / "autograde" / "checks")


def _grade(assignment, answers: dict[str, str], student: str = "mallory", language: str = "en"):
    full = dict(assignment.reference_answers)
    full.update(answers)
    sub = Submission(answers=full, language=language)
    digest = hashlib.sha256(json.dumps([student, full], sort_keys=True).encode()).hexdigest()
    return grade_safely(assignment, student, sub, 12345, digest, "fp", LIMITS)


def _points(result, exercise: str) -> float:
    return next(e.points for e in result.exercises if e.name == exercise)


# ----------------------------------------------------------------------------- hash-collision DoS in the parent

def test_wire_refuses_or_quickly_decodes_a_dict_whose_int_keys_all_collide():
    """Ints within the float range are admitted as dict keys, and hash(k * (2**61 - 1)) == 0 for every k: a
    dict of 49,000 such keys (inside MAX_VALUES) costs the parent O(n^2) to build, and the comparison
    builds several sets of its keys again (tens of seconds of GIL-holding work per returned value)."""
    value = {"__dict__": [[k * M61, 0.0] for k in range(1, 49_000)]}
    start = time.monotonic()
    try:
        decoded = wire.decode(value)
    except wire.WireError:
        decoded = None
    decode_seconds = time.monotonic() - start
    assert decode_seconds < 1.0, f"decoding one returned value took {decode_seconds:.1f} s"
    if decoded is not None:
        start = time.monotonic()
        compare.difference({1: 0.5, 2: 1.0}, decoded, 1e-6, 1e-5, reveal=False)
        assert time.monotonic() - start < 1.0


def test_a_child_that_sends_colliding_dict_keys_cannot_stall_the_parents_scoring(assignment):
    """End to end: the student's function writes its own record for the call it is in (fd 3 is the result
    pipe), a dict of colliding int keys; the keeper passes it on as the expected record."""
    attack = '''
import os, sys

_sent = []

def accuracy_by_length(predictions, targets):
    frame = sys._getframe(1)
    while frame is not None and "record" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None and not _sent:
        _sent.append(1)
        body = ", ".join("[%d, 0.0]" % (k * (2**61 - 1)) for k in range(1, 30000))
        os.write(3, ('{"call": %d, "value": {"__dict__": [%s]}}\\n' % (frame.f_locals["i"], body)).encode())
    return {}
'''
    honest_wrong = "def accuracy_by_length(predictions, targets):\n    return {}\n"
    base = _grade(assignment, {"accuracy_by_length": honest_wrong}, "honest")
    hit = _grade(assignment, {"accuracy_by_length": attack}, "mallory")
    assert hit.status == "graded"
    assert _points(hit, "accuracy_by_length") == 0
    assert hit.timing["scoring"] < base.timing["scoring"] + 3.0, (
        f"scoring took {hit.timing['scoring']:.1f} s against {base.timing['scoring']:.1f} s for an honest wrong answer")


# ----------------------------------------------------------------------------- HTML injection into the feedback page

HOSTILE = {
    "rnn_encode": '''
Evil = type("<script>alert('cls')</script>", (Exception,), {})
def rnn_encode(X, W_xh, W_hh, b_h, h0=None):
    raise Evil("<img src=x onerror=alert('msg')>")
''',
    "greedy_decode": '''
def greedy_decode(step, c, bos, eos, max_len):
    return "<script>alert('str')</script>"
raise RuntimeError("</li><script>alert('cell')</script>")
''',
    "accuracy_by_length": '''
def accuracy_by_length(predictions, targets):
    return {"</span><script>alert('key')</script>": 1.0, "<b onmouseover=alert(1)>": float("nan")}
''',
}


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_no_student_string_reaches_the_feedback_page_as_markup(assignment, language):
    result = _grade(assignment, HOSTILE, "<script>alert('name')</script>", language)
    assert result.status == "graded"
    page = render(result)
    lowered = page.lower()
    for tag in ("<script", "<img", "<b "):
        assert tag not in lowered, f"{tag} reached the {language} page unescaped"
    assert result.score == 0


# ----------------------------------------------------------------------------- reading the reference from the sandbox

def test_the_reference_solutions_and_hidden_checks_cannot_be_read_from_the_sandbox(assignment, course):
    """The answer cell looks for the solutions notebook (and the hidden checks) where a course keeps them and
    runs the reference's answer cells when it finds them; elsewise it defines nothing useful."""
    places = [str(p) for p in (ROOT / "solutions" / NAME / f"{NAME}.ipynb",
                               course / "solutions" / NAME / f"{NAME}.ipynb",
                               ROOT / "autograde" / "checks" / f"{NAME}.py")]
    steal = f'''
import json as _json
_found = []
for _p in {places!r}:
    try:
        with open(_p) as _fh:
            _found.append(_fh.read())
    except OSError:
        pass
def rnn_encode(X, W_xh, W_hh, b_h, h0=None):
    for _text in _found:
        try:
            _nb = _json.loads(_text)
        except ValueError:
            continue
        _ns = {{}}
        for _cell in _nb["cells"]:
            if _cell["cell_type"] == "code":
                try:
                    exec("".join(_cell["source"]), _ns)
                except BaseException:
                    pass
        if "rnn_encode" in _ns:
            return _ns["rnn_encode"](X, W_xh, W_hh, b_h, h0)
    raise NotImplementedError("found nothing")
'''
    result = _grade(assignment, {"rnn_encode": steal})
    assert _points(result, "rnn_encode") == 0, "the sandbox could read the reference solution"


# ----------------------------------------------------------------------------- one student's files over another's

def test_a_short_id_shaped_like_a_cut_long_id_gets_a_folder_of_its_own():
    """A long id is stored under `id[:60]~digest`: a student whose id is exactly that string must not share the
    long-named classmate's result and feedback folder (one would overwrite the other's page)."""
    from attnbook.grading.feedback import feedback_path
    from attnbook.grading.runner import result_path, student_folder

    victim = "v" * 200
    mimic = student_folder(victim)
    assert mimic != victim and len(mimic.encode()) <= 150
    assert student_folder(mimic) != student_folder(victim)
    assert result_path(Path("out"), mimic, NAME) != result_path(Path("out"), victim, NAME)
    assert feedback_path(Path("out"), mimic, NAME) != feedback_path(Path("out"), victim, NAME)


def test_float_dict_keys_that_share_a_hash_are_refused_or_cheap():
    """Floats x * 2**61 hash like x: a handful of colliding float keys per hash value, many hash values."""
    keys = [float(m) * 2.0 ** (61 * j) for m in range(1, 3000) for j in range(16)]
    value = {"__dict__": [[k, 0.0] for k in keys[:49_000]]}
    start = time.monotonic()
    try:
        wire.decode(value)
    except wire.WireError:
        pass
    assert time.monotonic() - start < 1.0


def test_forged_records_with_non_text_errors_and_types_are_graded_as_failures(assignment):
    """The child writes its own records: an error that is a list, a type that is a dict or names an ending
    the grader gives (Timeout), a value with extra keys. None of it may crash scoring or earn points."""
    forged = '''
import json, os, sys

def accuracy_by_length(predictions, targets):
    frame = sys._getframe(1)
    while frame is not None and "record" not in frame.f_locals:
        frame = frame.f_back
    i = frame.f_locals["i"]
    kinds = [{"error": ["<x>"], "type": {"a": 1}}, {"error": "late", "type": "Timeout"},
             {"error": None, "type": "ValueError"}, {"value": {"__dict__": [[1, 1.0]]}, "extra": 1},
             {"refused": 7}]
    record = {"call": i, **kinds[i % len(kinds)]}
    os.write(3, (json.dumps(record) + "\\n").encode())
    raise SystemExit(0)
'''
    result = _grade(assignment, {"accuracy_by_length": forged})
    assert result.status == "graded", result.problems
    assert _points(result, "accuracy_by_length") == 0
    assert _points(result, "rnn_encode") == assignment.points["rnn_encode"]


# ----------------------------------------------------------------------------- the numpy-only fork server

def test_a_child_of_the_numpy_only_server_that_imports_torch_itself_is_graded_like_any_other(monkeypatch):
    """ch04 starts its fork server without torch: an answer that imports torch pays for the import in its own
    child, returns tensors, and is graded exactly as the reference, beside a classmate graded at once."""
    from concurrent.futures import ThreadPoolExecutor

    from attnbook.grading import sandbox
    from attnbook.grading.checks import uses_torch

    name = "ch04_three_stages"
    assert not uses_torch(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    ch04 = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    box = sandbox.Sandbox(torch=False)
    monkeypatch.setattr(sandbox, "shared", lambda weak_ok=False: box)
    torchy = '''
import torch

def dot_scores(Q, K):
    Q, K = torch.as_tensor(np.asarray(Q, dtype=float)), torch.as_tensor(np.asarray(K, dtype=float))
    return Q @ K.transpose(-1, -2)
'''
    try:
        with ThreadPoolExecutor(2) as pool:
            hit, classmate = pool.map(lambda answers: _grade(ch04, answers, str(len(answers))),
                                      [{"dot_scores": torchy}, {}])
    finally:
        box.close()
    assert classmate.score == ch04.max_score
    assert hit.status == "graded" and hit.child == "ok", (hit.child, hit.cell_errors)
    assert hit.score == ch04.max_score, [c.message for e in hit.exercises for c in e.checks if not c.passed][:3]
