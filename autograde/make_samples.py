"""Write the sample submissions under autograde/samples/ that the tests grade.

Run `python autograde/make_samples.py` after changing an assignment. For each assignment it writes
students `correct` (reference answers), `blank` (the released stubs), `partly_wrong` (the first known
mistake of every other exercise) and `broken` (not valid JSON).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from attnbook.grading.notebook import read_template  # noqa: E402
from attnbook.grading.spec import load_checks  # noqa: E402


def submission(released: dict, answers: dict[str, str]) -> dict:
    """Return a copy of the released notebook with the given answer cells' sources replaced."""
    nb = copy.deepcopy(released)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return nb


def write_samples(assignment: str, dest: Path) -> None:
    """Write the four sample submissions of one assignment under `dest`."""
    released = json.loads((ROOT / "notebooks" / assignment / f"{assignment}.ipynb").read_text())
    reference = {c.grade_id: c.source for c in read_template(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
                 if c.is_answer}
    exercises = load_checks(ROOT / "autograde" / "checks", assignment)
    wrong = {ex.name: ex.mistakes[0].source for ex in exercises[::2] if ex.mistakes}
    notebooks = {
        "correct": submission(released, reference),
        "blank": released,
        "partly_wrong": submission(released, {**reference, **wrong}),
    }
    for student, nb in notebooks.items():
        path = dest / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1) + "\n")
    broken = dest / "broken" / assignment / f"{assignment}.ipynb"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(json.dumps(released, indent=1)[:-200] + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        write_samples(name, ROOT / "autograde" / "samples" / name)
        print(f"wrote samples for {name}")
