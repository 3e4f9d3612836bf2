"""The Chinese edition's translation machinery: catalogues, extraction, term base, translated notebooks.

English sources are the only content; everything Chinese comes from gettext catalogues:

    locales/zh_CN/LC_MESSAGES/book/<page>.po          one per website page (Sphinx's gettext builder)
    locales/zh_CN/LC_MESSAGES/notebooks/<name>.po     the markdown of each student notebook
    src/attnbook/locales/zh_CN/LC_MESSAGES/attnbook.po what the package prints: `t("...")` templates
                                                      and the `what`/`hint` strings of visible tests

`attnbook translations` (update.py) re-extracts all three and merges them into the catalogues.
"""
