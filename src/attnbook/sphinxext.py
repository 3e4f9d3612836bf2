"""Sphinx extension for an offline book: drop sphinx-thebe's scripts, which Jupyter Book always loads.

Thebe runs code on a remote Binder kernel (impossible offline), and Jupyter Book 1.x injects its inline
configuration twice per page, which makes browsers log "Identifier 'THEBE_JS_URL' has already been declared".
"""

from __future__ import annotations


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files", [])
    context["script_files"] = [
        js for js in scripts
        if "thebe" not in str(getattr(js, "filename", js) or "") and "THEBE" not in str(getattr(js, "attributes", {}).get("body", ""))
    ]
    context["css_files"] = [css for css in context.get("css_files", []) if "thebe" not in str(getattr(css, "filename", css))]


def setup(app) -> dict:
    """Register the page-context hook."""
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
