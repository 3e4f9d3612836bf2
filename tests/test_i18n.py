"""Messages students read, in their notebook's language: the package's catalogue, as installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from attnbook import i18n, testing
from attnbook.translations import catalogues
from conftest import ROOT


def test_templates_are_translated_and_filled_in():
    template = "{what} has shape {got}, expected {expected}"
    assert i18n.translate(template, "en") == template
    with i18n.language("zh_CN"):
        assert i18n.t(template, what="H", got=(2, 3), expected=(3, 2)) == "H 的形状是 (2, 3)，应为 (3, 2)"
        assert i18n.t("a message nobody translated {x}", x=1) == "a message nobody translated 1"
    assert i18n.current() == "en"


def test_glued_english_is_rendered_again_in_chinese_from_the_template_that_made_it():
    zh = "zh_CN"
    assert i18n.retranslate("83 % ± 4 % (s.e., 3 seeds)", zh) == "83 % ± 4 %（标准误，3 个种子）"
    assert i18n.retranslate("1.27 ± 0.04 (s.e., 3 seeds; from 1.19 to 1.32)", zh) == \
        "1.27 ± 0.04（标准误，3 个种子；范围 1.19 至 1.32）"  # the longer template wins over "{low} to {high}"
    assert i18n.retranslate("252 and 433", zh) == "252 和 433" and i18n.retranslate("yes", zh) == "是"
    assert i18n.retranslate("4.2 ms", zh) == "4.2 ms"  # no template made it: joiners like "{message} {hint}" do not count
    assert i18n.retranslate("83 % ± 4 % (s.e., 3 seeds)", "en") == "83 % ± 4 % (s.e., 3 seeds)"


def test_use_language_sets_the_whole_process_and_language_blocks_override_it():
    try:
        i18n.use_language("zh_CN")
        assert i18n.current() == "zh_CN"
        with i18n.language("en"):
            assert i18n.current() == "en"
        assert i18n.current() == "zh_CN"
    finally:
        i18n.use_language("en")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        i18n.use_language("fr")


def test_visible_test_hints_come_in_chinese():
    with i18n.language("zh_CN"), pytest.raises(AssertionError) as failure:
        testing.check_close(np.array([0.1, 0.5]), np.array([0.1, 0.6]), "H[0] (the first state h_1)",
                            "With h_0 = 0 it is tanh(x_1 W_xh + b_h).")
    message = str(failure.value)
    assert message == "H[0]（第一个状态 h_1） 在索引 (1,) 处有误：得到 0.5，应为 0.6。由于 h_0 = 0，它等于 tanh(x_1 W_xh + b_h)。", message
    with pytest.raises(AssertionError, match=r"^H has shape \(2,\), expected \(3,\)$"):
        testing.check_shape(np.zeros(2), (3,), "H")


def test_the_package_reads_the_course_catalogue():
    assert i18n.catalogue_path("zh_CN") == catalogues.package_catalogue(ROOT)


def test_an_installed_package_carries_its_catalogue_and_site_templates(tmp_path):
    project = tmp_path / "project"  # a copy: setuptools writes build/ into the folder it builds
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(tmp_path), str(project)], check=True)
    names = zipfile.ZipFile(next(tmp_path.glob("attnbook-*.whl"))).namelist()
    assert "attnbook/locales/zh_CN/LC_MESSAGES/attnbook.po" in names
    assert {"attnbook/site/templates/language-switch.html", "attnbook/site/static/attnbook.css"} <= set(names)


def test_messages_assembled_from_pieces_read_naturally_in_both_languages():
    errors = ["ValueError", "TypeError"]
    assert i18n.sentences("H is wrong.", "", " Did you add the bias? ") == "H is wrong. Did you add the bias?"
    assert (i18n.alternatives(errors), i18n.enumeration(errors), i18n.listing(["“a, b”", "“c”"]), i18n.listing([])) \
        == ("ValueError or TypeError", "ValueError, TypeError", "“a, b”; “c”", "")
    with pytest.raises(AssertionError) as english:
        testing.check_close([2.0, 4.0], [1.0, 2.0], "H", "Did you add the bias?")
    assert str(english.value) == ("H is wrong at index (0,): got 2, expected 1. Your values are 2 times the expected "
                                  "ones. Did you add the bias?")
    with i18n.language("zh_CN"):
        assert i18n.sentences("H 有误。", "hint") == "H 有误。hint" and i18n.sentences("a:", "b") == "a: b"
        assert (i18n.alternatives(errors), i18n.enumeration(errors), i18n.listing(["“a”", "“c”"])) == \
            ("ValueError 或 TypeError", "ValueError、TypeError", "“a”；“c”")
        with pytest.raises(AssertionError) as chinese:
            testing.check_close([2.0, 4.0], [1.0, 2.0], "H")
    assert "。 " not in str(chinese.value) and "。你的值是期望值的 2 倍。" in str(chinese.value), str(chinese.value)
