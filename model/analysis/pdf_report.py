"""``povsim report DIR --pdf``: the report of an output folder as an A4 PDF.

The same contents as the HTML report (:func:`model.analysis.html_report.contents`):
title, provenance, the results and target tables, the charts, extras such as
a back-test, and each scenario's description. Laid out with fpdf2 (the
optional extra ``pdf``), in the bundled Noto Sans CJK SC, which fpdf2
embeds cut down to the characters used, so Chinese reads on any machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path

from model.errors import PovsimError

MARGIN = 15        # mm
BODY, SMALL, HEAD, TITLE = 9, 7.5, 12, 15   # pt


def _fpdf():
    try:
        import fpdf
    except ImportError:
        raise PovsimError("--pdf needs fpdf2: pip install 'povsim[pdf]'") from None
    return fpdf


def pdf_bytes(folder: Path, lang: str = "en", date: dt.date | None = None) -> bytes:
    """The report of an output folder as PDF bytes.

    Raises
    ------
    PovsimError
        As :func:`model.analysis.html_report.contents`, or without fpdf2.
    """
    from noto_cjk_sans_otc import FONT_PATH

    from model.analysis.html_report import cjk_face_number, contents

    fpdf = _fpdf()
    page = contents(folder, lang, date)
    t = page["t"]
    doc = fpdf.FPDF(format="A4", unit="mm")
    doc.set_margins(MARGIN, MARGIN)
    doc.set_auto_page_break(True, MARGIN)
    doc.add_font("noto", fname=str(FONT_PATH), collection_font_number=cjk_face_number(FONT_PATH))
    doc.set_title(page["title"])
    doc.set_creator(page["generated"])
    doc.add_page()
    width = doc.epw

    def text(words: str, size: float = BODY, gap: float = 1.5) -> None:
        doc.set_font("noto", size=size)
        doc.multi_cell(width, size * 0.5, words, new_x="LMARGIN", new_y="NEXT")
        doc.ln(gap)

    def table(head: list[str] | None, rows: list[list[str]]) -> None:
        doc.set_font("noto", size=SMALL)
        plain = fpdf.FontFace(emphasis="", fill_color=(235, 235, 235))
        with doc.table(headings_style=plain, line_height=SMALL * 0.55, text_align="LEFT",
                       width=width, first_row_as_headings=head is not None) as grid:
            for cells in ([head] if head else []) + rows:
                row = grid.row()
                for cell in cells:
                    row.cell(str(cell))
        doc.ln(2)

    text(page["title"], TITLE)
    text(page["lead"])
    for warning in page["warnings"]:
        text(warning)
    text(t["provenance"], HEAD)
    table(None, [[key, value] for key, value in page["provenance"]])
    text(t["results"], HEAD)
    text(t["results_note"], SMALL)
    table(page["key_table"]["head"], page["key_table"]["rows"])
    if page["target_table"]["rows"]:
        text(t["targets"], HEAD)
        text(t["targets_note"], SMALL)
        table(page["target_table"]["head"], page["target_table"]["rows"])
    text(t["charts"], HEAD)
    for chart in page["charts"]:
        doc.image(io.BytesIO(base64.b64decode(chart["png"])), w=width, alt_text=chart["alt"])
        doc.ln(3)
    for extra in page["extras"]:
        text(extra["title"], HEAD)
        if extra["png"]:
            doc.image(io.BytesIO(base64.b64decode(extra["png"])), w=width)
        if extra["text"]:
            text(extra["text"], SMALL)
    text(t["scenarios"], HEAD)
    for s in page["scenarios"]:
        text(s["label"] + (f" ({s['name']})" if s["label"] != s["name"] else ""), BODY + 1)
        for words in (s["description"], s["facts"]):
            if words:
                text(words)
    text(page["generated"], SMALL)
    return bytes(doc.output())


def write(folder: Path, out: Path | None = None, lang: str = "en") -> Path:
    """Write the PDF report (default ``DIR/report.pdf``, ``DIR/report-zh.pdf``
    in Chinese) atomically; return its path."""
    from model.analysis.html_report import write_report

    _fpdf()        # before any work
    return write_report(folder, out, lang, ".pdf", lambda: pdf_bytes(folder, lang))
