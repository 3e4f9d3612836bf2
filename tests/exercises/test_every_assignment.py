"""Every assignment: the release is current, the reference scores full marks, every known mistake loses
points and is diagnosed, and the notebooks behave in a real Jupyter kernel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from attnbook.grading.checks import Assignment
from attnbook.grading.runner import grade_folder
from attnbook.grading.sandbox import Limits
from conftest import ASSIGNMENTS, ROOT
from make_samples import submission

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
def test_every_known_mistake_loses_points_and_is_diagnosed(name, grading_tmp):
    assignment, results = graded(name, grading_tmp)
    for ex in assignment.exercises:
        assert len(ex.mistakes) >= 4, f"{ex.name}: the catalogue needs at least four known-wrong variants"
        for m in ex.mistakes:
            res = results[f"{ex.name}--{m.key}"]
            got = next(e for e in res.exercises if e.name == ex.name)
            assert got.points < got.max_points, f"{ex.name}: mistake {m.key!r} still scores full marks"
            assert m.key in got.mistake_keys, f"{ex.name}: mistake {m.key!r} is not diagnosed (got {got.mistake_keys})"
            others = [e for e in res.exercises if e.name != ex.name]
            assert all(e.points == e.max_points for e in others), f"{m.key!r} cost points on other exercises"


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
