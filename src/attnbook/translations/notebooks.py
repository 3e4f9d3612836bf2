"""Student notebooks in another language: the English release with its markdown translated from a catalogue.

The translated notebook keeps every code cell of the English release byte for byte (same `grade_id`s, same
answer stubs, same visible tests, same nbgrader checksums), with one exception: its read-only `setup` cell
ends with `i18n.LANGUAGE_LINES[lang]`, which makes the visible tests' hints come in that language. The
notebook's metadata says its language (`metadata.attnbook.language`).

Markdown is translated unit by unit, as Sphinx does for the website: each heading and each paragraph
(list items included) is one message; math blocks and code are never messages.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from nbgrader.utils import compute_checksum

from ..i18n import LANGUAGE_LINES, SETUP_CELL, setup_source  # noqa: F401  (LANGUAGE_LINES: part of this interface)

_MARKDOWN = MarkdownIt("commonmark").use(dollarmath_plugin).enable("table")


def normal(text: str) -> str:
    """Collapse runs of whitespace, as gettext messages do."""
    return re.sub(r"\s+", " ", text).strip()


def markdown_units(source: str) -> list[tuple[int, int, str, str]]:
    """Return (first line, end line, prefix of the first line, message) for every heading and paragraph."""
    tokens = _MARKDOWN.parse(source)
    lines = source.split("\n")
    units = []
    for opening, inline in zip(tokens, tokens[1:]):
        if inline.type != "inline":
            continue
        if opening.type not in ("paragraph_open", "heading_open"):
            raise ValueError(f"notebook markdown with tables (or other {opening.type.removesuffix('_open')} "
                             f"elements) cannot be translated yet: use paragraphs or lists ({inline.content[:40]!r})")
        start, end = inline.map
        first = inline.content.split("\n")[0]
        units.append((start, end, lines[start][:lines[start].index(first)], normal(inline.content)))
    return units


def translate_markdown(source: str, translations: dict[str, str]) -> str:
    """Return the markdown with every unit that has a translation replaced by it, on one line."""
    lines = source.split("\n")
    for start, end, prefix, message in reversed(markdown_units(source)):
        if message in translations:
            lines[start:end] = [prefix + translations[message]]
    return "\n".join(lines)


def released(root: Path, name: str) -> nbformat.NotebookNode:
    """Return the English student notebook of an assignment, as `attnbook release` wrote it."""
    return nbformat.read(root / "notebooks" / name / f"{name}.ipynb", as_version=4)


def template(nb: nbformat.NotebookNode, location: str) -> Catalog:
    """Return the catalogue template of a student notebook: its title and its markdown units."""
    catalogue = Catalog(project="Attention, explained")
    if nb.metadata.get("title"):
        catalogue.add(nb.metadata.title, locations=[(location, 0)])
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for *_, message in markdown_units(cell.source):
                catalogue.add(message, locations=[(location, index)])
    return catalogue


def translated(nb: nbformat.NotebookNode, translations: dict[str, str], lang: str) -> nbformat.NotebookNode:
    """Return the student notebook in `lang`: markdown and title translated, hints switched in setup."""
    nb = copy.deepcopy(nb)
    nb.metadata["attnbook"] = {"language": lang}
    nb.metadata["title"] = translations.get(nb.metadata.get("title"), nb.metadata.get("title"))
    setups = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == SETUP_CELL]
    if len(setups) != 1:
        raise ValueError(f"a student notebook needs one code cell with grade_id {SETUP_CELL!r}, not {len(setups)}")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, translations)
    setup = setups[0]
    setup.source = setup_source(setup.source, lang)
    setup.metadata.nbgrader.checksum = compute_checksum(setup)
    return nb


def write_translated(root: Path, name: str, translations: dict[str, str], lang: str) -> Path:
    """Write `notebooks/<lang>/<name>/<name>.ipynb` from the English release; return its path."""
    target = root / "notebooks" / lang / name / f"{name}.ipynb"
    text = nbformat.writes(translated(released(root, name), translations, lang)) + "\n"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target
