"""Measure how often the feedback names the real cause: the catalogue's own mistakes, and the corpus of
realistic answers in tests/grading/corpus/, on several per-student seeds.

    .venv/bin/python benchmarks/diagnosis.py [--seeds 5]

A catalogued mistake counts as named when its own key is among the causes and no other cause is named
(besides those it declares it implies); a realistic wrong answer counts as named when at least one cause is
named, and every named cause is checked against the causes the corpus says the answer really has. The last
column grades the realistic wrong answers with the catalogue switched off: how often the generic analyses
alone name a relation (what a mistake nobody catalogued would get).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))

from attnbook.grading.checks import Assignment  # noqa: E402
from corpus import accepted, chapter, grade_in_process  # noqa: E402


def measure(seeds: int) -> dict[str, list[int]]:
    """Return per assignment [mistakes named, mistakes, answers named, answers, wrong diagnoses, correct failing,
    answers named by the analyses alone]."""
    counts = {}
    for name in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
        corpus, row = chapter(name), [0] * 7
        for seed in range(seeds):
            for ex in assignment.exercises:
                for m in ex.mistakes:
                    res = grade_in_process(assignment, ex.name, m.source, seed)
                    keys = {c.key for c in res.causes}
                    row[0] += m.key in keys and keys <= {m.key, *m.implies}
                    row[1] += 1
                for answer in corpus.WRONG[ex.name]:
                    res = grade_in_process(assignment, ex.name, answer.source, seed)
                    row[2] += bool(res.causes)
                    row[3] += 1
                    row[4] += sum(not accepted(c.key, answer.causes) for c in res.causes)
                    row[6] += bool(grade_in_process(assignment, ex.name, answer.source, seed, catalogue=False).causes)
                for answer in corpus.CORRECT[ex.name]:
                    res = grade_in_process(assignment, ex.name, answer.source, seed)
                    row[5] += res.points < res.max_points
        counts[name] = row
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="per-student seeds to grade each answer with")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = measure(args.seeds)
    print("| assignment | catalogued mistakes named | realistic wrong answers named | wrong diagnoses | "
          "correct answers below full marks | realistic wrong answers, analyses alone |")
    print("|---|---|---|---|---|---|")
    total = [0] * 7
    for name, row in counts.items():
        total = [a + b for a, b in zip(total, row)]
        print(f"| {name} | {row[0]} / {row[1]} | {row[2]} / {row[3]} | {row[4]} | {row[5]} | {row[6]} / {row[3]} |")
    print(f"| **all** | **{total[0]} / {total[1]} ({100 * total[0] / total[1]:.0f} %)** | "
          f"**{total[2]} / {total[3]} ({100 * total[2] / total[3]:.0f} %)** | **{total[4]}** | **{total[5]}** | "
          f"**{total[6]} / {total[3]} ({100 * total[6] / total[3]:.0f} %)** |")
    print(f"({args.seeds} seeds; every answer is graded once per seed)")


if __name__ == "__main__":
    main()
