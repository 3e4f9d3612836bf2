"""Build the website: ship MathJax with it and run Jupyter Book with warnings as errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

MATHJAX_VERSION = "3.2.2"


def ensure_mathjax(root: Path) -> Path:
    """Install MathJax 3 from the npm registry once and copy its `es5` bundle under `book/_extra/mathjax`."""
    target = root / "book" / "_extra" / "mathjax"
    if (target / "tex-chtml.js").is_file():
        return target
    prefix = root / ".cache" / "npm"
    package = prefix / "node_modules" / "mathjax"
    if not (package / "es5" / "tex-chtml.js").is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                        f"mathjax@{MATHJAX_VERSION}"], check=True)
    tmp = target.with_name(".mathjax.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(package / "es5", tmp)
    tmp.replace(target)
    return target


def build(root: Path, out: Path | None = None) -> int:
    """Build the book under `out` (default `root/_build`); return Jupyter Book's exit code."""
    ensure_mathjax(root)
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "-W", "-n", "--keep-going"]
    if out:
        cmd += ["--path-output", str(out)]
    return subprocess.run(cmd, cwd=root, env=env).returncode
