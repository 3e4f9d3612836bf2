"""Build the website, student or instructor edition: ship MathJax with it and treat warnings as errors.

The student edition is built in English (`_build/html`) and in Chinese (`_build/html/zh_CN`) from the
same sources: the Chinese build reads a mirror of the book whose exercise pages are the Chinese student
notebooks, translates every other page from `locales/zh_CN/LC_MESSAGES/<page>.po` (Sphinx's gettext), and
shares the English build's execution cache, so no chapter is executed twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..translations import catalogues, terms
from .execute import execute_stale

MATHJAX_VERSION = "3.2.2"
INSTRUCTOR_SOURCES = "_instructor"
CHINESE = catalogues.LANGUAGE
LANGUAGES = ("en", CHINESE)


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


def book_config(root: Path) -> dict:
    """Return `_config.yml`, with the execution cache pinned to the English build's (shared by all builds)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["cache"] = str(root / "_build" / ".jupyter_cache")
    return config


def _write_config(config: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _mirror(root: Path, out: Path, config: dict, notebooks: dict[str, str | Path], captions: dict[str, str]) -> Path:
    """Mirror the book under `out` with other exercise pages (`notebooks[name]`: the notebook's JSON text, or
    a notebook file, copied with its time stamp so that Sphinx reads it again only when it changed), another
    configuration and the table of contents' part captions replaced by `captions`; return the mirror's root."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(root / "book", out / "book", ignore=shutil.ignore_patterns("_extra"))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc.get("parts", []):
        part["caption"] = captions.get(part["caption"], part["caption"])
    _write_text(out / "_toc.yml", yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))
    config["sphinx"]["config"]["html_extra_path"] = [str(root / "book" / "_extra")]
    for name, notebook in notebooks.items():
        target = out / "notebooks" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, Path):
            shutil.copy2(notebook, target)
        else:
            target.write_text(notebook, encoding="utf-8")
    _write_config(config, out / "_config.yml")
    return out


def instructor_sources(root: Path) -> Path:
    """Mirror the book under `_instructor/` with each exercise page replaced by its reference notebook,
    every solution cell folded behind a toggle; return the mirror's root."""
    notebooks = {}
    for source in sorted((root / "solutions").glob("*/*.ipynb")):
        nb = json.loads(source.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell["metadata"].setdefault("tags", []).append("hide-input")
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "instructor-note", "metadata": {}, "source": (
            "```{admonition} Instructor edition\n:class: warning\nReference solutions are folded behind the "
            "toggles below each exercise. Do not share this page with students.\n```")})
        notebooks[source.parent.name] = json.dumps(nb, indent=1)
    config = book_config(root)
    config["title"] += " (instructor edition)"
    config["sphinx"]["config"]["attnbook_language_switch"] = {}  # English only
    return _mirror(root, root / INSTRUCTOR_SOURCES, config, notebooks, {})


def chinese_sources(root: Path) -> Path:
    """Mirror the book under `_build/zh_CN/source` for the Chinese edition: the Chinese student notebooks as
    exercise pages, every other page translated by Sphinx from `locales/`; return the mirror's root. The
    title and the part captions (inserted after Sphinx translates the root page) come from its catalogue."""
    config = book_config(root)
    intro = catalogues.translations(catalogues.course_locales(root) / "book" / "intro.po")
    config["title"] = intro.get(config["title"], config["title"])
    words = sorted({r for term in terms.load(root) for r in term.renderings if " " not in r})
    dictionary = _write_text(root / "_build" / CHINESE / "jieba_terms.txt", "".join(f"{w}\n" for w in words))
    config["sphinx"]["config"].update(
        language=CHINESE, locale_dirs=[str(root / "locales")], html_search_options={"dict": str(dictionary)},
        attnbook_language_switch={"en": ".."}, attnbook_in_translation=catalogues.in_translation(root),
        # glued values are re-rendered from the package's messages: a new translation there re-reads every page
        attnbook_messages=hashlib.sha256(catalogues.package_catalogue(root).read_bytes()).hexdigest())
    notebooks: dict[str, str | Path] = {p.parent.name: p for p in sorted((root / "notebooks" / CHINESE).glob("*/*.ipynb"))}
    return _mirror(root, root / "_build" / CHINESE / "source", config, notebooks, intro)


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _jupyter_book(source: Path, out: Path | None, *options: str) -> int:
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "-W", "-n", "--keep-going", *options]
    if out:
        cmd += ["--path-output", str(out)]
    return subprocess.run(cmd, cwd=source).returncode


def _build_chinese(root: Path, base: Path) -> int:
    """Build the Chinese edition and place it in `<base>/_build/html/zh_CN`."""
    start = time.monotonic()
    work = base / "_build" / CHINESE
    code = _jupyter_book(chinese_sources(root), work)
    if code == 0:
        target = base / "_build" / "html" / CHINESE
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(work / "_build" / "html", target)
        print(f"attnbook: Chinese edition built in {time.monotonic() - start:.0f} s: {target}", file=sys.stderr)
    return code


def build(root: Path, edition: str = "student", out: Path | None = None, language: str | None = None) -> int:
    """Build one edition of the book into `out` (default: `_build/html`, instructor `_instructor/_build/html`):
    the student edition in English and Chinese (or only `language`), the instructor edition in English."""
    ensure_mathjax(root)
    if edition == "instructor":
        if language not in (None, "en"):
            raise SystemExit("attnbook: the instructor edition is built in English only")
        return _jupyter_book(instructor_sources(root), out)
    # Run stale chapters on every core first; both editions then read their outputs from the cache.
    execute_stale(sorted((root / "book").glob("*.md")), (out or root) / "_build" / ".jupyter_cache")
    for lang in [language] if language else LANGUAGES:
        code = _jupyter_book(root, out) if lang == "en" else _build_chinese(root, out or root)
        if code:
            return code
    return 0


def extract_messages(root: Path) -> Path:
    """Run Sphinx's gettext builder over the English book (execution cache shared, stale chapters run
    first on every core); return the folder of the templates it wrote, one `.pot` per page."""
    execute_stale(sorted((root / "book").glob("*.md")), root / "_build" / ".jupyter_cache")
    work = root / "_build" / "gettext"
    config = _write_config(book_config(root), work / "_config.yml")
    code = _jupyter_book(root, work, "--config", str(config), "--builder", "custom", "--custom-builder", "gettext")
    if code:
        raise SystemExit(f"attnbook: extracting the book's messages failed (jupyter-book exit code {code})")
    return work / "_build" / "gettext"
