"""Sphinx extension for an offline, accessible book.

- Drops sphinx-thebe's scripts, which Jupyter Book always loads: thebe runs code on a remote Binder kernel
  (impossible offline), and Jupyter Book 1.x injects its inline configuration twice per page, which makes
  browsers log "Identifier 'THEBE_JS_URL' has already been declared".
- Repairs two accessibility faults of the themes' HTML (found by axe-core): the sidebar's expand toggles are
  `<summary>` elements with no accessible name, and docutils marks the bibliography `role="list"` without
  list items.
"""

from __future__ import annotations

from pathlib import Path

HTML_REPAIRS = (
    ('<summary><span class="toctree-toggle" role="presentation">',
     '<summary aria-label="Show or hide this section"><span class="toctree-toggle" role="presentation">'),
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
)


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files", [])
    context["script_files"] = [
        js for js in scripts
        if "thebe" not in str(getattr(js, "filename", js) or "") and "THEBE" not in str(getattr(js, "attributes", {}).get("body", ""))
    ]
    context["css_files"] = [css for css in context.get("css_files", []) if "thebe" not in str(getattr(css, "filename", css))]


def _repair_html(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        repaired = text
        for old, new in HTML_REPAIRS:
            repaired = repaired.replace(old, new)
        if repaired != text:
            page.write_text(repaired, encoding="utf-8")


def setup(app) -> dict:
    """Register the page-context and build-finished hooks."""
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("build-finished", _repair_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
