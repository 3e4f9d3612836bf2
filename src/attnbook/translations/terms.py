"""The term base (`locales/zh_CN/terms.tsv`): one Chinese term for each English one, in every chapter."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .catalogues import CODE, EDGE_PUNCTUATION, LANGUAGE, MATH, markup

CODE_LIKE = re.compile(r"[_\[\](){}=<>@]|\.\w")  # weights[0], dot_scores(Q, causal_mask(3).dtype: code, not prose


@dataclass(frozen=True)
class Term:
    """One line of the term base."""

    english: tuple[str, ...]  # the English forms (plurals are matched without listing them)
    chinese: str
    also: tuple[str, ...]  # other accepted renderings
    source: str  # "note": the Chinese source note's term; "course": chosen where the note has none
    checked: bool

    @property
    def renderings(self) -> tuple[str, ...]:
        return (self.chinese, *self.also)


def path(root: Path) -> Path:
    """Return the term base's path."""
    return root / "locales" / LANGUAGE / "terms.tsv"


def load(root: Path) -> list[Term]:
    """Return the term base, longest English terms first."""
    lines = [line for line in path(root).read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    terms = [Term(tuple(row["english"].split("|")), row["chinese"], tuple(filter(None, row["also"].split("|"))),
                  row["source"], row["check"] == "yes")
             for row in csv.DictReader(lines, delimiter="\t")]
    return sorted(terms, key=lambda term: -max(len(e) for e in term.english))


def _pattern(english: str) -> str:
    words = re.split(r"[\s\-–]+", english)
    last = words[-1]
    plural = "(?:y|ies)" if re.search(r"[^aeiou]y$", last) else "(?:s|es)?"
    last = re.escape(last[:-1]) + plural if plural == "(?:y|ies)" else re.escape(last) + plural
    return r"[\s\-–]+".join([*map(re.escape, words[:-1]), last])


def _matcher(term: Term) -> re.Pattern:
    forms = "|".join(_pattern(e) for e in term.english)
    return re.compile(rf"(?<![A-Za-z])(?:{forms})(?![A-Za-z])", re.I)


def missing_terms(msgid: str, msgstr: str, terms: list[Term]) -> list[Term]:
    """Return the checked terms that the English message uses and its translation does not render with
    the term base's Chinese (each span of the English is claimed by the longest checked term covering it)."""
    _, english = markup(msgid)
    english = " ".join(word for word in english.split() if not CODE_LIKE.search(word.strip(EDGE_PUNCTUATION)))
    chinese = CODE.sub(" ", MATH.sub(" ", msgstr)).lower()
    claimed: list[tuple[int, int]] = []
    missing = []
    for term in filter(lambda term: term.checked, terms):
        for match in _matcher(term).finditer(english):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in claimed):
                continue
            claimed.append(span)
            if not any(r.lower() in chinese for r in term.renderings) and term not in missing:
                missing.append(term)
    return missing


def glossary_terms(root: Path) -> list[tuple[list[str], list[str]]]:
    """Return (English terms, Chinese terms) of every entry of `book/glossary.md`."""
    text = (root / "book" / "glossary.md").read_text(encoding="utf-8")
    body = text[text.index("```{glossary}"):].split("\n", 1)[1].split("\n```", 1)[0]
    entries = []
    for line in body.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        english, _, chinese = line.partition(" (")
        chinese_terms = [re.sub(r"\s+[A-Za-z-]+$", "", c.replace("`", "").strip())
                         for c in chinese.rstrip(")").split(", ") if c.strip()]
        entries.append(([e.strip() for e in english.split(",")], chinese_terms))
    return entries
