"""The package's messages: every `t("...")`/`translate("...")` template in the package, the hidden checks and the
chapters' code cells (glued results), and every literal `what`/`hint` string that a visible test cell passes
to `attnbook.testing`."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Iterator

import nbformat
from babel.messages.catalog import Catalog
from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

from .. import testing

TEMPLATE_FUNCTIONS = {"t", "translate"}
TESTING_TEXTS = ("what", "hint")  # the parameters of attnbook.testing's checks that students read


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value else None


def templates(source: str) -> Iterator[tuple[str, int]]:
    """Yield (template, line) for every call `t("literal", ...)` or `translate("literal", ...)` in Python code
    (nothing for code that is not plain Python, such as a notebook cell with IPython magics)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node) in TEMPLATE_FUNCTIONS and node.args:
            if text := _literal(node.args[0]):
                yield text, node.lineno


def visible_test_texts(source: str) -> Iterator[tuple[str, int]]:
    """Yield (text, line) for the literal `what` and `hint` arguments of `attnbook.testing` checks."""
    for node in ast.walk(ast.parse(source)):
        name = isinstance(node, ast.Call) and _called_name(node)
        check = getattr(testing, name, None) if name and not name.startswith("_") else None
        if not inspect.isfunction(check) or check.__module__ != testing.__name__:
            continue
        params = [p.name for p in inspect.signature(check).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        given = dict(zip(params, node.args)) | {k.arg: k.value for k in node.keywords if k.arg}
        for param in TESTING_TEXTS:
            if text := _literal(given.get(param)):
                yield text, node.lineno


def template(root: Path, assignments: list[str]) -> Catalog:
    """Return the catalogue template of the package's messages, with their source locations."""
    catalogue = Catalog(project="attnbook")
    sources = sorted((root / "src" / "attnbook").rglob("*.py")) + sorted((root / "autograde" / "checks").glob("*.py"))
    for path in sources:
        for text, line in templates(path.read_text(encoding="utf-8")):
            catalogue.add(text, locations=[(path.relative_to(root).as_posix(), line)])
    for path in sorted((root / "book").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if is_myst_markdown_notebook(text):
            for index, cell in enumerate(read_myst_markdown_notebook(text).cells):
                for message, _ in templates(cell.source) if cell.cell_type == "code" else ():
                    catalogue.add(message, locations=[(path.relative_to(root).as_posix(), index)])
    for name in assignments:
        path = root / "notebooks" / name / f"{name}.ipynb"
        location = path.relative_to(root).as_posix()
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                for text, _ in visible_test_texts(cell.source):
                    catalogue.add(text, locations=[(location, index)])
    return catalogue
