"""Sphinx extension for an offline, accessible book in two languages.

- Drops sphinx-thebe's scripts, which Jupyter Book always loads: thebe runs code on a remote Binder kernel
  (impossible offline), and Jupyter Book 1.x injects its inline configuration twice per page, which makes
  browsers log "Identifier 'THEBE_JS_URL' has already been declared".
- Repairs two accessibility faults of the themes' HTML (found by axe-core): the sidebar's expand toggles are
  `<summary>` elements with no accessible name, and docutils marks the bibliography `role="list"` without
  list items.
- Puts a language switch in every page's header that leads to the same page in the other edition
  (`attnbook_language_switch`: {language: path from this edition's root to that edition's root}), and
  declares the page's language as a valid BCP 47 tag: Sphinx writes `lang="zh_CN"` (sphinx issue 10214).
- In a translated edition, says so on the pages still being translated (`attnbook_in_translation`).
- Lets translated messages paste glued results: Sphinx parses a translated paragraph as a new document
  without its notebook, where MyST-NB's `{glue:text}`/`{glue}` roles find no glue data ("No key ... found");
  there, the roles below paste from the page's own glue data (the same executed cells) instead. Glued
  text that `attnbook.i18n.t` produced in English is re-rendered in the edition's language.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from myst_nb.ext.glue.domain import NbGlueDomain
from myst_nb.ext.glue.roles import PasteRoleAny, PasteTextRole
from sphinx.transforms.post_transforms import SphinxPostTransform

from ..i18n import retranslate, translate
from ..translations.catalogues import page_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
LANGUAGE_NAMES = {"en": ("English", "en", "Read this page in English"),
                  "zh_CN": ("中文", "zh-CN", "阅读本页的中文版")}  # each in its own language
SECTION_TOGGLE = '<summary><span class="toctree-toggle" role="presentation">'
HTML_REPAIRS = (
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
)


def bcp47(language: str) -> str:
    """Return a Sphinx language code as an HTML language tag (`zh_CN` -> `zh-CN`)."""
    return language.replace("_", "-")


def _language(app) -> str:
    return app.config.language if app.config.language in LANGUAGE_NAMES else "en"


def _configure(app, config) -> None:
    config.templates_path.append(str(TEMPLATES))
    config.html_static_path.append(str(STATIC))
    options = config.html_theme_options
    options["article_header_end"] = ["article-header-buttons.html", "language-switch.html"]
    options["search_bar_text"] = translate("Search this book...", _language(app))


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files", [])
    context["script_files"] = [
        js for js in scripts
        if "thebe" not in str(getattr(js, "filename", js) or "") and "THEBE" not in str(getattr(js, "attributes", {}).get("body", ""))
    ]
    context["css_files"] = [css for css in context.get("css_files", []) if "thebe" not in str(getattr(css, "filename", css))]


def _languages(app, pagename, templatename, context, doctree) -> None:
    if context.get("language"):
        context["language"] = bcp47(context["language"])
    up = "../" * pagename.count("/")
    links = []
    for lang, edition_root in app.config.attnbook_language_switch.items():
        label, tag, title = LANGUAGE_NAMES[lang]
        href = f"{up}{edition_root}/{pagename}.html"
        links.append({"href": href, "label": label, "lang": tag, "title": title})
        context["metatags"] = context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{tag}" href="{href}" />'
    context["attnbook_language_links"] = links
    if doctree is not None and page_of(pagename) in app.config.attnbook_in_translation and "body" in context:
        note = translate("This page is still being translated: it is shown in English for now.", _language(app))
        context["body"] = f'<div class="admonition note translation-pending"><p>{note}</p></div>\n' + context["body"]


def _repair_html(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    toggle = SECTION_TOGGLE.replace("<summary>", f'<summary aria-label="{translate("Show or hide this section", _language(app))}">')
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        repaired = text.replace(SECTION_TOGGLE, toggle)
        for old, new in HTML_REPAIRS:
            repaired = repaired.replace(old, new)
        if repaired != text:
            page.write_text(repaired, encoding="utf-8")


def _own_page(role) -> str | None:
    """Return `/<source path>` of the page when `role` runs in a translated message, else None."""
    if "nb_renderer" in role.document or "::" in role.text:
        return None
    env = role.document.settings.env
    return "/" + str(env.doc2path(env.docname, False))


class GluedTextInLanguage(SphinxPostTransform):
    """Re-render glued text that `i18n.t` produced while the chapter ran in English in the edition's
    language (e.g. "83 % ± 4 % (s.e., 3 seeds)" -> "83 % ± 4 %（标准误，3 个种子）"); runs after MyST-NB has
    resolved the glue references of translated paragraphs."""

    default_priority = 1000

    def run(self, **kwargs) -> None:
        lang = self.config.language
        if lang not in LANGUAGE_NAMES or lang == "en":
            return
        for node in list(self.document.findall(nodes.inline)):
            if "pasted-text" in node["classes"]:
                for text in list(node.findall(nodes.Text)):
                    text.parent.replace(text, nodes.Text(retranslate(str(text), lang)))


class TranslatedPasteAny(PasteRoleAny):
    def run(self):
        if page := _own_page(self):
            self.text = f"{page}::{self.text}"
        return super().run()


class TranslatedPasteText(PasteTextRole):
    def run(self):
        if page := _own_page(self):
            key, _, spec = self.text.partition(":")
            self.text = f"{page}::{key}:{spec or 's'}"
        return super().run()


class GlueDomain(NbGlueDomain):
    roles = {**NbGlueDomain.roles, "": TranslatedPasteAny(), "any": TranslatedPasteAny(), "text": TranslatedPasteText()}


def setup(app) -> dict:
    """Register the configuration values and the page-context and build-finished hooks."""
    app.add_domain(GlueDomain, override=True)
    app.add_post_transform(GluedTextInLanguage)
    app.add_config_value("attnbook_language_switch", {}, "html", dict)
    app.add_config_value("attnbook_in_translation", [], "html", list)
    app.add_config_value("attnbook_messages", "", "env", str)
    app.connect("config-inited", _configure)
    app.add_css_file("attnbook.css")
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("html-page-context", _languages)
    app.connect("build-finished", _repair_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

