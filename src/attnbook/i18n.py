"""Messages that students read (grader feedback, visible-test hints), in the language of their notebook.

Every such message is written in English as a template and passed through `t`, which translates it into
the current language and fills in its named fields:

    t("the result has shape {got}, expected {expected}", got=a.shape, expected=b.shape)

Translations come from the package's own gettext catalogue, `attnbook/locales/<lang>/LC_MESSAGES/attnbook.po`
(shipped inside the package, so an installed package translates; `attnbook translations` extracts every
template into it). The current language is set per thread/task with `language("zh_CN")`, or for the whole
process with `use_language("zh_CN")` (the setup cell of a Chinese exercise notebook does that); the
default is English.
"""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LANGUAGES = ("en", "zh_CN")
CATALOGUES = Path(__file__).resolve().parent / "locales"
DOMAIN = "attnbook"
_process_default = "en"
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("attnbook_language", default=None)


def _checked(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def current() -> str:
    """Return the language messages are produced in now ("en" or "zh_CN")."""
    return _current.get() or _process_default


def catalogue_path(lang: str) -> Path:
    """Return the path of the package's catalogue for `lang`."""
    return CATALOGUES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_translations(path: Path) -> dict[str, str]:
    """Return {English: translation} for the finished (non-empty, non-fuzzy) entries of a catalogue file."""
    if not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalogue = read_po(f)
    return {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}


@functools.cache
def _messages(lang: str) -> dict[str, str]:
    return read_translations(catalogue_path(lang))


def translate(template: str, lang: str | None = None) -> str:
    """Return `template` in `lang` (default: the current language); English where no translation exists."""
    lang = _checked(lang or current())
    return template if lang == "en" else _messages(lang).get(template, template)


def t(template: str, /, **fields: object) -> str:
    """Return the message `template`, translated into the current language, with its fields filled in."""
    text = translate(template)
    return text.format(**fields) if fields else text


def use_language(lang: str) -> None:
    """Produce messages in `lang` from now on, in this whole process (outside any `language` block)."""
    global _process_default
    _process_default = _checked(lang)


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Produce messages in `lang` inside the `with` block."""
    token = _current.set(_checked(lang))
    try:
        yield
    finally:
        _current.reset(token)
