"""HTML, Word and PDF inputs, built in the test from a real speech text."""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import pytest

from corpus import Document, read_corpus

from .conftest import SCRAPED_TXT


def _only_doc(path: Path) -> Document:
    items = list(read_corpus([path]))
    assert len(items) == 1 and isinstance(items[0], Document), items
    return items[0]


@pytest.fixture(scope="module")
def speech_paragraphs(shared_corpus: Path) -> list[str]:
    """Body paragraphs of the scraped speech (a real text), without its site furniture."""
    from corpus import clean_text

    lines = clean_text(SCRAPED_TXT.read_text(encoding="utf-8")).text.split("\n")
    return lines[2:14]  # after title and greeting, before the paywall cut


def test_html_page(tmp_path, speech_paragraphs):
    body = "\n".join(
        f"<h2>{html_lib.escape(p)}</h2>"
        if p.startswith(("一、", "二、"))
        else f"<p>{html_lib.escape(p)}</p>"
        for p in speech_paragraphs
    )
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>在全市高端装备产学研合作推进会议上的讲话_某市人民政府门户网站</title></head>
<body><div class="nav">您的位置：<a href="/">首页</a> &gt; <a href="/ldjh">领导讲话</a></div>
<div class="tools">下载 打印 全屏 收藏 【字号：加大 还原 减小】</div>
<article><h1>在全市高端装备产学研合作推进会议上的讲话</h1>
<p>同志们:</p>
{body}
</article>
<div class="share">分享到：微信 微博</div><div class="related">相关报道：<a href="/1">某新闻</a></div>
</body></html>"""
    path = tmp_path / "speech.html"
    path.write_text(page, encoding="utf-8")
    doc = _only_doc(path)
    assert doc.title == "在全市高端装备产学研合作推进会议上的讲话"
    lines = doc.text.split("\n")
    assert lines[0] == "同志们:"
    assert "## 一、深刻认识高端装备产学研合作的重大战略意义" in lines  # heading kept as a heading
    assert speech_paragraphs[2] in lines  # a real paragraph, whole, on its own line
    assert "下载" not in doc.text and "分享到" not in doc.text


def test_docx_headings_become_heading_lines(tmp_path, speech_paragraphs):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("在全市高端装备产学研合作推进会议上的讲话", level=0)  # Title style
    document.add_paragraph("同志们:")
    for p in speech_paragraphs:
        if p.startswith(("一、", "二、")):
            document.add_heading(p, level=1)
        elif p.startswith("(一)"):
            document.add_heading(p, level=2)
        else:
            document.add_paragraph(p)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "目标"
    table.cell(1, 0).text, table.cell(1, 1).text = "合作项目", "100项"
    path = tmp_path / "speech.docx"
    document.save(str(path))
    doc = _only_doc(path)
    assert doc.title == "在全市高端装备产学研合作推进会议上的讲话"
    lines = doc.text.split("\n")
    assert lines[0] == "同志们:"
    assert "# 一、深刻认识高端装备产学研合作的重大战略意义" in lines
    assert "## (一)推动产业高质量发展的核心引擎" in lines
    assert speech_paragraphs[2] in lines
    assert "| 合作项目 | 100项 |" in lines
    assert doc.doc_type == "讲话"


def test_pdf_text_layer_reflowed(tmp_path, speech_paragraphs):
    pytest.importorskip("reportlab")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path / "speech.pdf"
    c = canvas.Canvas(str(path))
    c.setTitle("在全市高端装备产学研合作推进会议上的讲话")
    c.setFont("STSong-Light", 11)
    y = 800
    for p in speech_paragraphs[:4]:
        for i in range(0, len(p), 40):  # the PDF wraps every 40 characters
            c.drawString(40, y, p[i : i + 40])
            y -= 16
            if y < 60:
                c.showPage()
                c.setFont("STSong-Light", 11)
                y = 800
    c.save()
    doc = _only_doc(path)
    assert doc.title == "在全市高端装备产学研合作推进会议上的讲话"
    lines = doc.text.split("\n")
    for p in speech_paragraphs[:4]:
        assert p in lines  # each wrapped paragraph is whole again


def test_scanned_pdf_without_text_is_a_failure(tmp_path):
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(50, 50, 200, 200)
    c.save()
    (failure,) = list(read_corpus([path]))
    assert failure.reason == "PDF has no text layer (scanned image?)"
