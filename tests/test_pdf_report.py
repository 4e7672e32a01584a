"""``povsim report DIR --pdf``: the HTML report's contents as an A4 PDF, in
English and in Chinese with the bundled font embedded."""

import datetime as dt
import sys
import warnings

import pytest
from test_html_report import folder  # noqa: F401  (the fixture: a compare folder)

from model.analysis import html_report, pdf_report
from model.errors import PovsimError

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("fpdf")

DATE = dt.date(2026, 1, 2)


def _read(data: bytes, tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    reader = pypdf.PdfReader(path)
    text = "".join(page.extract_text() for page in reader.pages)
    # pypdf puts a space or a NUL between the glyphs of fpdf2's text: compare without them
    return reader, "".join(text.replace("\x00", "").split())


def _words(text: str) -> str:
    return "".join(str(text).split())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pdf_holds_the_reports_tables_and_charts(folder, tmp_path, lang, monkeypatch):
    made = []       # the page the PDF is made of, kept to check the PDF against (drawing
    real = html_report.contents     # its charts once more would only repeat the work)

    def contents(*args):
        made.append((args, real(*args)))
        return made[-1][1]
    monkeypatch.setattr(html_report, "contents", contents)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a missing glyph warns: an error here
        data = pdf_report.pdf_bytes(folder, lang, DATE)
    ((args, page),) = made
    assert args == (folder, lang, DATE)
    assert data.startswith(b"%PDF-")
    reader, text = _read(data, tmp_path)
    assert sum(len(p.images) for p in reader.pages) == len(page["charts"]) == 4
    assert _words(page["title"]) in text and _words(page["generated"]) in text
    tables = page["key_table"]["head"] + [c for r in page["key_table"]["rows"] for c in r]
    tables += [c for r in page["target_table"]["rows"] for c in r]
    for cell in tables:
        assert _words(cell) in text, cell
    for key, value in page["provenance"]:
        assert _words(key) in text and _words(value) in text
    if lang == "zh":
        for fragment in ("来源与设定", "万人", "情景与假设"):
            assert fragment in text
        fonts = {str(f["/BaseFont"]) for p in reader.pages
                 for f in p["/Resources"].get("/Font", {}).values()}
        assert any("NotoSansCJK" in name for name in fonts), fonts


def test_cli_writes_the_pdf_and_checks_its_name(folder, tmp_path, capsys):
    from model import cli

    assert cli.main(["report", str(folder), "--pdf", "--out", str(tmp_path / "r.pdf")]) == 0
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
    assert cli.main(["report", str(folder), "--pdf", "--out", str(tmp_path / "r.html")]) == 2
    assert ".pdf" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_without_fpdf2_the_error_says_which_extra(folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fpdf", None)
    with pytest.raises(PovsimError, match=r"povsim\[pdf\]"):
        pdf_report.write(folder, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()
