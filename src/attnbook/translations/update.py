"""`attnbook translations`: after an English edit, bring every catalogue and Chinese notebook up to date."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from babel.messages.pofile import write_po

from .. import i18n
from ..site.build import extract_messages
from . import catalogues, messages, notebooks, terms


def _write_template(catalogue, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalogue, width=catalogues.LINE_WIDTH)


def templates(root: Path, assignments: list[str], out: Path) -> tuple[Path, Path]:
    """Write fresh templates under `out`: the book's (`book/<page>.pot`, via Sphinx's gettext builder, and
    `notebooks/<name>.pot`) and the package's (`attnbook.pot`); return their two folders."""
    book, package = out / "book", out / "package"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(extract_messages(root) / "book", book / "book")
    # The exercise pages are not translated by Sphinx (MyST-NB cannot re-parse a translated .ipynb string,
    # its issue 587): the Chinese edition shows the Chinese student notebooks, made from these templates.
    for name in assignments:
        location = f"notebooks/{name}/{name}.ipynb"
        _write_template(notebooks.template(notebooks.released(root, name), location), book / "notebooks" / f"{name}.pot")
    _write_template(messages.template(root, assignments), package / f"{i18n.DOMAIN}.pot")
    return book, package


def write_notebooks(root: Path, assignments: list[str]) -> list[Path]:
    """Write the Chinese student notebook of every assignment from its English release and catalogue."""
    folder = catalogues.course_locales(root) / "notebooks"
    return [notebooks.write_translated(root, name, catalogues.translations(folder / f"{name}.po"), catalogues.LANGUAGE)
            for name in assignments]


def update(root: Path, assignments: list[str]) -> list[str]:
    """Re-extract every message, merge it into the catalogues and rewrite the Chinese notebooks; return
    the catalogues that changed."""
    with tempfile.TemporaryDirectory() as tmp:
        book, package = templates(root, assignments, Path(tmp) / "templates")
        changed = catalogues.sync_folder(book, catalogues.course_locales(root))
        changed += catalogues.sync_folder(package, catalogues.package_catalogue(root).parent)
    write_notebooks(root, assignments)
    return changed


def problems(root: Path) -> list[str]:
    """Return every finished entry that changed math, code, references, numbers or format fields, or that
    renders an English term without the term base's Chinese."""
    term_base = terms.load(root)
    found = []
    for path in catalogues.all_catalogues(root):
        for msgid, msgstr in catalogues.translations(path).items():
            if catalogues.is_display_math(msgid):
                found += [f"{path.name}: {msgid[:60]!r}: a display equation must stay as it is"] if msgstr != msgid else []
                continue
            found += [f"{path.name}: {msgid[:60]!r}: {p}" for p in catalogues.markup_problems(msgid, msgstr)]
            found += [f"{path.name}: {msgid[:60]!r}: uses {term.english[0]!r} without {term.chinese!r}"
                      for term in terms.missing_terms(msgid, msgstr, term_base)]
    return found


def report(root: Path) -> list[str]:
    """Return one line per page (entries, untranslated, fuzzy), then every problem of finished entries."""
    listed = set(catalogues.in_translation(root))
    lines = []
    for page, status in sorted(catalogues.page_status(root).items()):
        state = "in translation" if page in listed else "done" if status.finished else "NOT DONE"
        lines.append(f"{page:38} {status.total:4} entries, {len(status.untranslated):4} untranslated, "
                     f"{len(status.fuzzy):3} fuzzy  [{state}]")
    return lines + problems(root)
