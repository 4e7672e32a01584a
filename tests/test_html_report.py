"""povsim report: one self-contained HTML file, in English or Chinese."""

from __future__ import annotations

import base64
import datetime as dt
import html.parser
import warnings

import pytest
from test_compare import small_run

from model import results
from model.analysis import compare, html_report, report
from model.errors import PovsimError


class _Page(html.parser.HTMLParser):
    """Tags, image sources and links of a page; fails on unbalanced tags."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.links, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("link", "script") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    assert page.stack == []
    return page


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    cmp = compare.compare([small_run(name="cheap"), small_run(name="dear", cost_per_exit=2000)])
    results.write_netcdf(cmp, out / "compare.nc")
    (out / "summary.md").write_text(report.markdown(cmp), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def english(folder):
    return html_report.html(folder, "en", dt.date(2026, 1, 2))


def test_one_self_contained_file(english):
    page = _parse(english)
    assert not page.links                          # nothing fetched from beside or afar
    assert len(page.images) == 4                   # the four charts (a poor county exists)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    words = " ".join(page.text)
    for fragment in ("povsim report: cheap, dear", "Provenance", "2 (0-1)", "scale",
                     "2026-01-02", "declared defaults (no fit)", "Targets", "[10-90 %]",
                     'name = "cheap"', "Only 2 seed(s)", "# povsim compare"):
        assert fragment in words, fragment


def test_template_escapes_text(english):
    assert "<script" not in english
    assert "&lt;" in english or "&#34;" in english or "&quot;" in english   # autoescape is on
    assert 'name = &#34;cheap&#34;' in english


def test_cjk_font_subset_embedded_for_chinese_characters(english):
    """Even the English page holds Chinese (精准扶贫): the font comes with it."""
    assert "@font-face" in english and "data:font/otf;base64," in english
    assert html_report.cjk_font_face("plain text") == ""


def test_chinese_report_without_missing_glyphs(folder):
    """The whole page and its charts in Chinese; matplotlib's missing-glyph
    warning is an error here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = html_report.html(folder, "zh", dt.date(2026, 1, 2))
    page = _parse(text)
    words = " ".join(page.text)
    for fragment in ("povsim 报告", "来源与设定", "随机种子", "万人", "目标", "图表", "情景与假设"):
        assert fragment in words, fragment
    assert 'lang="zh-CN"' in text and len(page.images) == 4


def test_not_an_output_folder(tmp_path):
    with pytest.raises(PovsimError, match="no compare.nc or results.nc"):
        html_report.html(tmp_path)
    with pytest.raises(PovsimError, match="not a folder"):
        html_report.html(tmp_path / "missing")


def test_cli_writes_the_file(folder, tmp_path):
    from model import cli

    assert cli.main(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 0
    assert "povsim report: cheap, dear" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2
