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


TIMED = PAGE.replace("kernelspec:", "{front}kernelspec:").replace(
    "print({value} * 2)", "import time  # {name}\nstart = time.time()\ntime.sleep(1)\nprint(start, time.time())")


def test_a_page_that_must_run_alone_runs_after_the_others(tmp_path):
    pages = [tmp_path / f"{name}.md" for name in ("alone", "first", "second")]
    for page in pages:
        front = "attnbook:\n  execute_alone: true\n" if page.stem == "alone" else ""
        page.write_text(TIMED.format(front=front, name=page.stem), encoding="utf-8")
    assert execute_stale(pages, tmp_path / "cache", workers=2) == 0
    cache = get_cache(str(tmp_path / "cache"))
    spans = {}
    for record in cache.list_cache_records():
        cell = cache.get_cache_bundle(record.pk).nb.cells[0]
        spans[cell.source.split("# ")[1].split()[0]] = [float(x) for x in cell.outputs[0]["text"].split()]
    assert spans["first"][0] < spans["second"][1] and spans["second"][0] < spans["first"][1]  # side by side
    assert spans["alone"][0] >= max(spans["first"][1], spans["second"][1])


def test_a_failing_page_is_not_cached(tmp_path):
    page = tmp_path / "bad.md"
    page.write_text(PAGE.format(value="1 / 0 +"), encoding="utf-8")
    assert execute_stale([page], tmp_path / "cache") == 1
    assert stale_chapters(get_cache(str(tmp_path / "cache")), [page]) == [page]
