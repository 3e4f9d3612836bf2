"""Build the website, student or instructor edition: ship MathJax with it and treat warnings as errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .execute import execute_stale

MATHJAX_VERSION = "3.2.2"
INSTRUCTOR_SOURCES = "_instructor"


def npm_package(root: Path, spec: str) -> Path:
    """Install an npm package (e.g. `mathjax@3.2.2`) under `root/.cache/npm` once; return its folder."""
    name = spec.rsplit("@", 1)[0] if spec.count("@") > spec.startswith("@") else spec
    prefix = root / ".cache" / "npm"
    package = prefix / "node_modules" / name
    if not (package / "package.json").is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), spec],
                       check=True)
    return package


def ensure_mathjax(root: Path) -> Path:
    """Copy MathJax 3's `es5` bundle to `book/_extra/mathjax`, served by the site itself (no CDN)."""
    target = root / "book" / "_extra" / "mathjax"
    if not (target / "tex-chtml.js").is_file():
        tmp = target.with_name(".mathjax.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(npm_package(root, f"mathjax@{MATHJAX_VERSION}") / "es5", tmp)
        tmp.replace(target)
    return target


def instructor_sources(root: Path) -> Path:
    """Mirror the book under `_instructor/` with each exercise page replaced by its reference notebook,
    every solution cell folded behind a toggle; return the mirror's root."""
    out = root / INSTRUCTOR_SOURCES
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(root / "book", out / "book")
    shutil.copy(root / "_toc.yml", out / "_toc.yml")
    for source in sorted((root / "solutions").glob("*/*.ipynb")):
        nb = json.loads(source.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell["metadata"].setdefault("tags", []).append("hide-input")
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "instructor-note", "metadata": {}, "source": (
            "```{admonition} Instructor edition\n:class: warning\nReference solutions are folded behind the "
            "toggles below each exercise. Do not share this page with students.\n```")})
        target = out / "notebooks" / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config["title"] += " (instructor edition)"
    config["execute"]["cache"] = str(root / "_build" / ".jupyter_cache")  # reuse the student build's executions
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def build(root: Path, edition: str = "student", out: Path | None = None) -> int:
    """Build one edition of the book into `out` (default: `_build/html`, instructor `_instructor/_build/html`)."""
    ensure_mathjax(root)
    source = instructor_sources(root) if edition == "instructor" else root
    if edition == "student":  # run stale chapters on every core first; the build then reads the cache
        execute_stale(sorted((root / "book").glob("*.md")), (out or root) / "_build" / ".jupyter_cache")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "-W", "-n", "--keep-going"]
    if out:
        cmd += ["--path-output", str(out)]
    return subprocess.run(cmd, cwd=root).returncode
