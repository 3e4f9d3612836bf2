"""Messages that students read (grader feedback, visible-test hints), in the language of their notebook.

Every such message is written in English as a template and passed through `t`, which translates it into
the current language and fills in its named fields:

    t("the result has shape {got}, expected {expected}", got=a.shape, expected=b.shape)

The current language is set per thread/task with `language("zh_CN")`; the default is English.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

LANGUAGES = ("en", "zh_CN")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("attnbook_language", default="en")


def current() -> str:
    """Return the language messages are produced in now ("en" or "zh_CN")."""
    return _current.get()


def translate(template: str, lang: str | None = None) -> str:
    """Return `template` in `lang` (default: the current language); English where no translation exists."""
    return template


def t(template: str, /, **fields: object) -> str:
    """Return the message `template`, translated into the current language, with its fields filled in."""
    text = translate(template)
    return text.format(**fields) if fields else text


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Produce messages in `lang` inside the `with` block."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)
