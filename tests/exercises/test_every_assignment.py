"""Every assignment: the release is current, the reference scores full marks, every known mistake loses
points and is diagnosed with its own cause and no other, stubs score zero, the notebooks state the
weights the grader uses, and the notebooks behave in a real Jupyter kernel."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from attnbook.grading.checks import Assignment
from attnbook.grading.feedback import points
from attnbook.grading.runner import grade_folder
from attnbook.grading.sandbox import Limits
from attnbook.grading.spec import FAMILIES, family_title
from conftest import ASSIGNMENTS, ROOT
from make_samples import submission

STUB_BODIES = {"raises": "raise ValueError('not done yet')", "empty list": "return []", "empty dict": "return {}",
               "None": "return None"}


def stub(name: str, body: str) -> str:
    """Return an answer cell defining `name` (a function, or a module class) that only does `body`."""
    if name[0].isupper():
        return (f"class {name}(nn.Module):\n    def __init__(self, *args, **kwargs):\n        super().__init__()\n\n"
                f"    def load_from_torch(self, *args, **kwargs):\n        {body}\n\n"
                f"    def forward(self, *args, **kwargs):\n        {body}\n")
    return f"def {name}(*args, **kwargs):\n    {body}\n"

_graded: dict[str, dict] = {}


def graded(name: str, tmp_root: Path) -> tuple[Assignment, dict]:
    """Grade the reference, the blank release and one submission per known mistake (once per session)."""
    if name not in _graded:
        assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
        released = json.loads((ROOT / "notebooks" / name / f"{name}.ipynb").read_text())
        subs = {"reference": submission(released, assignment.reference_answers), "blank": released}
        for ex in assignment.exercises:
            for m in ex.mistakes:
                subs[f"{ex.name}--{m.key}"] = submission(released, {**assignment.reference_answers, ex.name: m.source})
        for kind, body in STUB_BODIES.items():
            subs[f"stub-{kind.replace(' ', '-')}"] = submission(released, {ex.name: stub(ex.name, body)
                                                                          for ex in assignment.exercises})
        folder = tmp_root / name / "submitted"
        for student, nb in subs.items():
            path = folder / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(nb))
        results = grade_folder(assignment, folder, tmp_root / name / "out", "test-secret", Limits())
        _graded[name] = (assignment, {r.student: r for r in results})
    return _graded[name]


@pytest.fixture(scope="module")
def grading_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("graded")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_matches_a_fresh_nbgrader_generate(name, tmp_path):
    (tmp_path / "autograde").mkdir()
    shutil.copy(ROOT / "autograde" / "nbgrader_config.py", tmp_path / "autograde")
    shutil.copytree(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", name, "--force",
                    "--log-level=WARN", f"--db=sqlite:///{tmp_path}/gb.db"], cwd=tmp_path / "autograde", check=True)
    fresh = json.loads((tmp_path / "notebooks" / name / f"{name}.ipynb").read_text())
    committed = json.loads((ROOT / "notebooks" / name / f"{name}.ipynb").read_text())
    assert fresh == committed, f"notebooks/{name} is stale: run `attnbook release {name}`"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_scores_full_marks(name, grading_tmp):
    assignment, results = graded(name, grading_tmp)
    ref = results["reference"]
    failures = [(e.name, c.label, c.message) for e in ref.exercises for c in e.checks if not c.passed]
    assert not failures and ref.score == assignment.max_score, failures


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_blank_release_scores_zero(name, grading_tmp):
    _, results = graded(name, grading_tmp)
    assert results["blank"].score == 0


@pytest.mark.parametrize("name", ASSIGNMENTS)
@pytest.mark.parametrize("kind", STUB_BODIES)
def test_stubs_that_raise_or_return_nothing_score_zero(name, kind, grading_tmp):
    _, results = graded(name, grading_tmp)
    res = results[f"stub-{kind.replace(' ', '-')}"]
    assert res.score == 0, [(e.name, e.points, [c.label for c in e.checks if c.passed]) for e in res.exercises]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_known_mistake_loses_points_and_is_diagnosed_with_its_own_cause_only(name, grading_tmp):
    assignment, results = graded(name, grading_tmp)
    for ex in assignment.exercises:
        assert len(ex.mistakes) >= 4, f"{ex.name}: the catalogue needs at least four known-wrong variants"
        for m in ex.mistakes:
            res = results[f"{ex.name}--{m.key}"]
            got = next(e for e in res.exercises if e.name == ex.name)
            assert got.points < got.max_points, f"{ex.name}: mistake {m.key!r} still scores full marks"
            assert m.key in got.mistake_keys, f"{ex.name}: mistake {m.key!r} is not diagnosed (got {got.mistake_keys})"
            named = {c.key for c in got.causes}
            assert named <= {m.key, *m.implies}, f"{ex.name}: mistake {m.key!r} is also diagnosed as {named}"
            unexplained = [c.label for c in got.checks if not c.passed and c.label not in got.explained]
            assert not unexplained, f"{ex.name}: {m.key!r} leaves failed checks unexplained: {unexplained}"
            others = [e for e in res.exercises if e.name != ex.name]
            assert all(e.points == e.max_points for e in others), f"{m.key!r} cost points on other exercises"


def _instructions(name: str) -> dict[str, str]:
    """Return, per answer cell, the markdown cell just before it in the solutions notebook."""
    cells = json.loads((ROOT / "solutions" / name / f"{name}.ipynb").read_text())["cells"]
    found, markdown = {}, ""
    for cell in cells:
        if cell["cell_type"] == "markdown":
            markdown = "".join(cell["source"])
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            found[grade_id] = markdown
    return found


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_each_exercise_states_the_weights_of_its_families_in_its_instructions(name):
    assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    instructions = _instructions(name)
    for ex in assignment.exercises:
        total = assignment.points[ex.name]
        line = re.search(r"\*\*Points \(([\d.]+)\):\*\*(.*?)(?:\n\n|$)", instructions[ex.name], re.S)
        assert line, f"{ex.name}: the instructions need a line '**Points ({points(total)}):** ...'"
        assert line.group(1) == points(total), f"{ex.name}: states {line.group(1)} points, the test cell gives {total}"
        text = " ".join(line.group(2).split())
        for family in FAMILIES:
            stated = f"{points(total * ex.weights[family])} for {family_title(family)}" if family in ex.weights else None
            if stated:
                assert stated in text, f"{ex.name}: the Points line should say '{stated}': {text}"
            else:
                assert f"for {family_title(family)}" not in text, f"{ex.name}: states points for {family}: {text}"
        cases = assignment.cases(0)[ex.name]
        assert {c.family for c in cases} == set(ex.weights), f"{ex.name}: weights for families without checks"


def _execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_passes_its_visible_tests_in_a_kernel(name):
    nb = _execute(ROOT / "solutions" / name / f"{name}.ipynb")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_stubs_raise_not_implemented_in_a_kernel(name):
    nb = _execute(ROOT / "notebooks" / name / f"{name}.ipynb")
    tests = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert tests, "the notebook has no visible test cells"
    for cell in tests:
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        assert errors == ["NotImplementedError"], f"{cell.metadata.nbgrader.grade_id}: {errors}"
