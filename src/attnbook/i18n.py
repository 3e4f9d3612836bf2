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
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

LANGUAGES = ("en", "zh_CN")
SETUP_CELL = "setup"  # grade_id of a student notebook's read-only first code cell
LANGUAGE_LINES = {"zh_CN": 'from attnbook.i18n import use_language\nuse_language("zh_CN")  # 测试提示使用中文'}
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


def load_catalogues() -> None:
    """Read every language's catalogue now (a process that forks children reads them once for all)."""
    for lang in LANGUAGES:
        _messages(lang)


def setup_source(english: str, lang: str) -> str:
    """Return the read-only setup cell of a student notebook in `lang`, made from the English one: the same
    code, plus (in another language) the line that switches the visible tests' hints to it."""
    return english if _checked(lang) == "en" else english.rstrip("\n") + "\n" + LANGUAGE_LINES[lang]


def translate(template: str, lang: str | None = None) -> str:
    """Return `template` in `lang` (default: the current language); English where no translation exists."""
    lang = _checked(lang or current())
    return template if lang == "en" else _messages(lang).get(template, template)


_FIELD = re.compile(r"\{(\w+)(?:[!:][^{}]*)?\}")


@functools.cache
def _patterns(lang: str) -> list[tuple[re.Pattern, str]]:
    """Return (regex matching what an English template produces, translated template) for every finished
    template with fields and some words of its own, most literal text first (the most specific wins)."""
    patterns = []
    for english, translated in _messages(lang).items():
        parts = _FIELD.split(english)  # literal, field name, literal, field name, ...
        names = parts[1::2]
        if not names or len(set(names)) != len(names) or not re.search("[A-Za-z]", "".join(parts[::2])):
            continue  # no fields, a repeated field, or a mere joiner such as "{message} {hint}"
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        patterns.append((len("".join(parts[::2])), re.compile(regex + r"\Z", re.S), translated))
    return [(regex, translated) for _, regex, translated in sorted(patterns, key=lambda p: -p[0])]


def retranslate(text: str, lang: str | None = None) -> str:
    """Return English `text` that `t` produced (in a chapter executed in English, say) as `t` would have
    produced it in `lang`, with the same field values; `text` itself when no template produced it."""
    lang = _checked(lang or current())
    if lang == "en":
        return text
    if text in _messages(lang):
        return _messages(lang)[text]
    for regex, translated in _patterns(lang):
        if match := regex.match(text):
            values = {name: retranslate(value, lang) for name, value in match.groupdict().items()}
            return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), translated)
    return text


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


# ------------------------------------------------------------------ messages assembled from pieces

_CLOSING_PUNCTUATION = "。！？；：，、）》」』”…"  # full-width: no space after it


def sentences(*parts: str) -> str:
    """Join sentences (empty ones dropped): with a space, except after full-width punctuation
    ("…应为 1。你的值是…")."""
    text = ""
    for part in (p.strip() for p in parts if p and p.strip()):
        text += part if not text or text[-1] in _CLOSING_PUNCTUATION else " " + part
    return text


def _joined(items: Iterable[object], pair: Callable[[str, str], str]) -> str:
    parts = [str(item) for item in items]
    return functools.reduce(pair, parts) if parts else ""


def alternatives(items: Iterable[object]) -> str:
    """Return "a or b or c" in the current language."""
    return _joined(items, lambda first, second: t("{first} or {second}", first=first, second=second))


def enumeration(items: Iterable[object]) -> str:
    """Return "a, b, c" in the current language."""
    return _joined(items, lambda first, second: t("{first}, {second}", first=first, second=second))


def listing(items: Iterable[object]) -> str:
    """Return "a; b; c" (for items that may hold commas) in the current language."""
    return _joined(items, lambda first, second: t("{first}; {second}", first=first, second=second))
