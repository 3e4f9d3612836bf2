"""Shared fixtures: the course root, its assignments, and graded batches reused across tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "autograde"))
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def course_copy(dest: Path, name: str, parts: tuple[str, ...] = ("solutions",)) -> Path:
    """Lay out a throw-away course under `dest` with one assignment: its folders `parts` (solutions/, and
    notebooks/ where a test needs the release) and its hidden checks, which a test may then edit."""
    for part in parts:
        shutil.copytree(ROOT / part / name, dest / part / name)
    (dest / "autograde" / "checks").mkdir(parents=True)
    shutil.copy(ROOT / "autograde" / "checks" / f"{name}.py", dest / "autograde" / "checks")
    return dest


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def _build(edition: str) -> None:
    import subprocess

    proc = subprocess.run([str(Path(sys.executable).parent / "attnbook"), "build", "--course", str(ROOT),
                           "--edition", edition], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"{edition} book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="session")
def built_site() -> Path:
    """Build the student book (incrementally: Jupyter Book's cache re-executes only what changed)."""
    _build("student")
    return ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def instructor_site(built_site) -> Path:
    """Build the instructor edition (after the student one, whose executions it reuses)."""
    _build("instructor")
    return ROOT / "_instructor" / "_build" / "html"
