"""Gettext catalogues: where they live, merging a fresh template into them, and what is left to translate."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from sphinx_intl.catalog import dump_po, load_po, update_with_fuzzy

from .. import i18n

LANGUAGE = "zh_CN"
LINE_WIDTH = 76  # sphinx-intl's default, so that its command line and ours write the same files
PACKAGE_PAGE = "attnbook"  # the package's own messages (testing hints, site strings, grader feedback)

MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\$).+?(?<![\\$])\$", re.S)
ROLE = re.compile(r"\{([\w:.-]+)\}(`+)(.+?)\2", re.S)
CODE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)|https?://\S+")
FIELD = re.compile(r"\{(\w*)(?:[!:][^{}]*)?\}")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
WORD = re.compile(r"[A-Za-z]{2,}")
EDGE_PUNCTUATION = "\"'.,;:!?()[]*_"


def course_locales(root: Path) -> Path:
    """Return the folder of the book's catalogues for the translated language."""
    return root / "locales" / LANGUAGE / "LC_MESSAGES"


def package_catalogue(root: Path) -> Path:
    """Return the package's own catalogue in the course's sources (shipped inside the installed package)."""
    return root / "src" / "attnbook" / i18n.catalogue_path(LANGUAGE).relative_to(i18n.CATALOGUES.parent)


def all_catalogues(root: Path) -> list[Path]:
    """Return every catalogue of the translated language: the book's pages and notebooks, then the package's."""
    return sorted(course_locales(root).rglob("*.po")) + [package_catalogue(root)]


def read(path: Path) -> Catalog:
    """Return the catalogue (or template) at `path`."""
    return load_po(str(path))


translations = i18n.read_translations


def _role_target(match: re.Match) -> str:
    content = match.group(3)
    explicit = re.search(r"<([^<>]+)>\s*$", content)
    return f"{{{match.group(1)}}}{explicit.group(1) if explicit else content}"


def markup(text: str) -> tuple[Counter, str]:
    """Split a message into what a translation must keep (math, roles with their targets, inline code,
    links, format fields) and the remaining prose."""
    kept: Counter = Counter()
    for pattern, key in ((MATH, lambda m: m.group(0)), (ROLE, _role_target), (CODE, lambda m: m.group(0)),
                         (LINK, lambda m: m.group(0).lstrip("]"))):
        kept.update(key(m) for m in pattern.finditer(text))
        text = pattern.sub(" ", text)
    kept.update(f"{{{m.group(1)}}}" for m in FIELD.finditer(text))
    return kept, FIELD.sub(" ", text)


def is_display_math(msgid: str) -> bool:
    """Whether a message is a display equation (Sphinx extracts its LaTeX with a leading newline). Display
    equations are never translated: Sphinx wraps a translated one in reST's `::` block syntax, which MyST
    cannot read (the page would show `\\[::\\]`), and math stays untouched in the Chinese edition anyway."""
    return msgid.startswith("\n")


def has_words(text: str) -> bool:
    """Whether a message holds prose to translate (not only math, code, references, names or numbers)."""
    _, prose = markup(text)
    return any(WORD.fullmatch(token.strip(EDGE_PUNCTUATION)) for token in re.split(r"[\s\-–—/]+", prose))


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """Return what a translation changed of the markup it must keep, and the numbers it dropped."""
    want, prose_en = markup(msgid)
    got, prose_zh = markup(msgstr)
    problems = [f"missing {item!r}" for item in sorted((want - got).elements())]
    problems += [f"added {item!r}" for item in sorted((got - want).elements())]
    numbers = Counter(NUMBER.findall(prose_en)) - Counter(NUMBER.findall(prose_zh))
    problems += [f"dropped the number {n}" for n in sorted(numbers.elements())]
    return problems


def merge(template: Catalog, path: Path) -> bool:
    """Merge a fresh template into the catalogue at `path` (created if missing): new messages come in
    untranslated, changed ones fuzzy with the old translation, vanished ones are dropped; messages with
    no prose, and display equations, are translated as themselves. Write only if something changed; return whether it did."""
    if path.is_file():
        catalogue = read(path)
        before = _content(catalogue)
        update_with_fuzzy(catalogue, template)
    else:
        catalogue, before = template, None
        catalogue.locale = LANGUAGE
    for message in catalogue:
        needs_none = message.id and (is_display_math(message.id) or not has_words(message.id))
        if needs_none and (not message.string or message.fuzzy or is_display_math(message.id)):
            message.string = message.id
            message.flags.discard("fuzzy")
    if _content(catalogue) == before:
        return False
    dump_po(str(path), catalogue, width=LINE_WIDTH, ignore_obsolete=True)
    return True


def _content(catalogue: Catalog) -> list:
    return [(m.id, m.string, m.fuzzy, sorted((path, line or 0) for path, line in m.locations)) for m in catalogue if m.id]


def sync_folder(templates: Path, catalogues: Path) -> list[str]:
    """Merge every `templates/**/*.pot` into `catalogues/**/*.po` and delete catalogues whose template is
    gone; return the paths written or deleted."""
    changed = []
    wanted = set()
    for pot in sorted(templates.rglob("*.pot")):
        po = catalogues / pot.relative_to(templates).with_suffix(".po")
        wanted.add(po)
        if merge(read(pot), po):
            changed.append(str(po))
    for po in sorted(catalogues.rglob("*.po")):
        if po not in wanted:
            po.unlink()
            changed.append(f"{po} (deleted)")
    return changed


def page_of(location: str) -> str:
    """Return the page a source location belongs to: `book/<page>`, `notebooks/<name>` or the package."""
    path = re.sub(r"^(\.\./)+", "", location.split(":")[0])
    parts = Path(path).with_suffix("").parts
    return "/".join(parts[:2]) if parts[0] in ("book", "notebooks") and len(parts) > 1 else PACKAGE_PAGE


@dataclass
class PageStatus:
    """The entries of one page: its catalogue's, and the package messages that page uses."""

    page: str
    total: int = 0
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.untranslated and not self.fuzzy


def page_status(root: Path) -> dict[str, PageStatus]:
    """Return, for every page, how many entries it has and which are untranslated or fuzzy. A package
    message counts for every page that uses it (a visible-test hint for its notebook's page)."""
    pages: dict[str, PageStatus] = {}
    folder = course_locales(root)
    for path in all_catalogues(root):
        in_package = path == package_catalogue(root)
        for m in read(path):
            if not m.id:
                continue
            owners = ({page_of(filename) for filename, _ in m.locations} if in_package
                      else {page_of(str(path.relative_to(folder)))})
            for page in owners:
                status = pages.setdefault(page, PageStatus(page))
                status.total += 1
                if not m.string:
                    status.untranslated.append(m.id)
                elif m.fuzzy:
                    status.fuzzy.append(m.id)
    return pages


def in_translation(root: Path) -> list[str]:
    """Return the pages listed in `locales/zh_CN/in_translation.txt`: still being translated, so the
    checks report them instead of failing on them. The list must be empty when the edition is done."""
    path = root / "locales" / LANGUAGE / "in_translation.txt"
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]
