"""What grading in Chinese costs: the parent's scoring and diagnosis of the same answers in English and in
Chinese, and whole runs of the same batch as English and as Chinese notebooks.

    .venv/bin/python benchmarks/bench_languages.py [--seeds 2] [--batch 20] [--assignment ch04_three_stages]

Scoring: every catalogued mistake and every realistic answer of tests/grading/corpus/ scored in this process
(reference outcomes, comparison, diagnosis; a Chinese result also words its causes in English for the class
report), CPU time of this process, in both languages, interleaved. Runs: `grade_folder` on a batch of the
sample submissions (correct, partly wrong, blank), written into English and into Chinese notebooks, wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "grading"), str(ROOT / "autograde")]

from attnbook.grading.checks import Assignment  # noqa: E402
from attnbook.grading.runner import grade_folder  # noqa: E402
from attnbook.grading.sandbox import Limits  # noqa: E402
from attnbook.i18n import language  # noqa: E402
from corpus import chapter, grade_in_process  # noqa: E402
from make_samples import submission  # noqa: E402

LANGS = ("en", "zh_CN")


def scoring_seconds(seeds: int) -> dict[str, float]:
    """Return the CPU seconds of scoring every mistake and corpus answer of every assignment, per language
    (after one untimed pass in each language, which fills the caches; languages alternate in order)."""
    answers = []
    for name in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
        corpus = chapter(name)
        answers += [(assignment, ex.name, m.source) for ex in assignment.exercises for m in ex.mistakes]
        answers += [(assignment, ex, a.source) for pool in (corpus.CORRECT, corpus.WRONG)
                    for ex, group in pool.items() for a in group]
    total = dict.fromkeys(LANGS, 0.0)
    for seed in range(seeds + 1):
        for i, (assignment, exercise, source) in enumerate(answers):
            for lang in LANGS if i % 2 else LANGS[::-1]:
                start = time.process_time()
                with language(lang), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    grade_in_process(assignment, exercise, source, seed)
                total[lang] += (time.process_time() - start) if seed else 0.0
    return total


def run_seconds(name: str, batch: int) -> dict[str, float]:
    """Return the wall seconds of grading one batch as English and as Chinese notebooks (fresh output)."""
    assignment = Assignment(name, ROOT / "solutions", ROOT / "autograde" / "checks")
    samples = ROOT / "autograde" / "samples" / name
    answers = []
    for kind in ("correct", "partly_wrong", "blank"):
        nb = json.loads((samples / kind / name / f"{name}.ipynb").read_text())
        answers.append({c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
                        if c.get("metadata", {}).get("nbgrader", {}).get("solution")})
    seconds = {}
    for lang in LANGS + LANGS:  # twice each, interleaved; the second of each counts (warm caches)
        folder = ROOT / "notebooks" / (name if lang == "en" else f"{lang}/{name}")
        released = json.loads((folder / f"{name}.ipynb").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(batch):
                path = Path(tmp) / "submitted" / f"s{i:03d}" / name / f"{name}.ipynb"
                path.parent.mkdir(parents=True)
                path.write_text(json.dumps(submission(released, answers[i % len(answers)])))
            start = time.monotonic()
            results = grade_folder(assignment, Path(tmp) / "submitted", Path(tmp) / "out", "bench", Limits())
            seconds[lang] = time.monotonic() - start
            assert all(r.language == lang and r.status == "graded" for r in results)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--assignment", default="ch04_three_stages")
    args = parser.parse_args()
    scoring = scoring_seconds(args.seeds)
    print(f"scoring, corpus and catalogue, {args.seeds} seeds: " + ", ".join(f"{lang} {s:.1f} s CPU"
          for lang, s in scoring.items()) + f" (Chinese {scoring['zh_CN'] / scoring['en']:.2f}x)")
    runs = run_seconds(args.assignment, args.batch)
    print(f"grade_folder, {args.batch} submissions of {args.assignment}: " + ", ".join(f"{lang} {s:.1f} s"
          for lang, s in runs.items()) + f" (Chinese {runs['zh_CN'] / runs['en']:.2f}x)")


if __name__ == "__main__":
    main()
