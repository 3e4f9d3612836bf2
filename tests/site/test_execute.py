"""Chapters are executed before the Sphinx build, in parallel, into the cache that Jupyter Book reads."""

from __future__ import annotations

from jupyter_cache import get_cache

from attnbook.site.execute import execute_stale, stale_chapters

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

```{{code-cell}} ipython3
print({value} * 2)
```
"""


def test_stale_pages_are_executed_once_into_the_cache_and_edits_make_them_stale(tmp_path):
    pages = []
    for i in range(2):
        page = tmp_path / f"page{i}.md"
        page.write_text(PAGE.format(value=i + 20), encoding="utf-8")
        pages.append(page)
    (tmp_path / "plain.md").write_text("# not a notebook\n", encoding="utf-8")
    cache_path = tmp_path / "cache"
    assert execute_stale(pages + [tmp_path / "plain.md"], cache_path, workers=2) == 0
    cache = get_cache(str(cache_path))
    assert stale_chapters(cache, pages) == []
    outputs = [cache.get_cache_bundle(r.pk).nb.cells[0].outputs[0]["text"] for r in cache.list_cache_records()]
    assert sorted(outputs) == ["40\n", "42\n"]
    pages[1].write_text(PAGE.format(value=99), encoding="utf-8")
    assert stale_chapters(cache, pages) == [pages[1]]


def test_a_failing_page_is_not_cached(tmp_path):
    page = tmp_path / "bad.md"
    page.write_text(PAGE.format(value="1 / 0 +"), encoding="utf-8")
    assert execute_stale([page], tmp_path / "cache") == 1
    assert stale_chapters(get_cache(str(tmp_path / "cache")), [page]) == [page]
