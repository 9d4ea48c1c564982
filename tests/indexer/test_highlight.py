"""Highlighting query terms in real passages, and HTML-safe marking."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from indexer.highlight import highlight_spans, mark
from indexer.keyword import tokenize

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")


def _national(year: str) -> list[str]:
    with open(CORPUS / "national-reports" / "government_work_reports.jsonl", encoding="utf-8") as f:
        record = next(r for r in map(json.loads, f) if r["year"] == year)
    return [line for line in record["content"].splitlines() if line.strip()]


def _provincial(province: str) -> list[str]:
    path = CORPUS / "provincial-2026" / f"2026_{province}_政府工作报告.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        return next(csv.DictReader(f))["full_text"].splitlines()


def _passage(lines: list[str], needle: str) -> str:
    return next(line for line in lines if needle in line)


def test_simplified_term_highlights_traditional_text() -> None:
    text = _passage(_national("1954"), "社會主義工業化")
    spans = highlight_spans(text, ["社会主义工业化"])
    assert spans
    assert {text[s:e] for s, e in spans} == {"社會主義工業化"}
    assert len(spans) == text.count("社會主義工業化")


def test_half_width_term_highlights_full_width_digits() -> None:
    text = _passage(_national("1956"), "１９５５年国家决算")
    spans = highlight_spans(text, ["1955"])
    assert {text[s:e] for s, e in spans} == {"１９５５"}
    assert len(spans) == text.count("１９５５")


def test_number_not_highlighted_inside_longer_number() -> None:
    text = _passage(_provincial("黑龙江省"), "冰雪经济总产出增长13.2%")
    assert "13.2" in [text[s:e] for s, e in highlight_spans(text, ["13.2"])]
    assert "13" not in [text[s:e] for s, e in highlight_spans(text, ["13"])]
    inside = text.index("13.2")
    assert all(not s < inside + 4 <= e for s, e in highlight_spans(text, ["2"]))


def test_overlapping_terms_merge_into_longest_reading() -> None:
    text = _passage(_provincial("江西省"), "科技成果转化")
    start = text.index("科技成果转化")
    expected = (start, start + len("科技成果转化"))
    assert expected in highlight_spans(text, ["科技成果", "成果转化"])
    assert expected in highlight_spans(text, ["成果", "科技", "转化"])
    spans = highlight_spans(text, ["成果", "转化", "科技成果转化"])
    assert expected in spans
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(spans))


def test_query_terms_highlight_their_passage() -> None:
    text = _passage(_national("1955"), "第一个五年计划的基本任务")
    spans = highlight_spans(text, tokenize("第一个五年计划 基本任务", query=True))
    covered = "".join(text[s:e] for s, e in spans)
    assert "第一个五年计划" in covered and "基本任务" in covered


def test_expanded_characters_keep_offsets() -> None:
    text = _passage(_provincial("江苏省"), "Ⅱ类")
    spans = highlight_spans(text, ["水质"])
    assert spans and {text[s:e] for s, e in spans} == {"水质"}


def test_no_terms_no_spans() -> None:
    assert highlight_spans("各位代表：", []) == []
    assert highlight_spans("各位代表：", ["", "  "]) == []
    assert highlight_spans("", ["代表"]) == []


def test_mark_escapes_html_in_passages() -> None:
    text = _passage(_provincial("内蒙古自治区"), "R&D经费")
    marked = mark(text, highlight_spans(text, ["经费"]))
    assert "R&amp;D<mark>经费</mark>" in marked
    assert "&D" not in marked.replace("&amp;D", "")

    with open(CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt", encoding="utf-8") as f:
        line = next(f).strip()  # 您的位置:新文秘网>>会议致辞/...
    marked = mark(line, highlight_spans(line, ["会议"]), open='<b class="hit">', close="</b>")
    assert ">>" not in marked.replace('<b class="hit">', "").replace("</b>", "")
    assert "&gt;&gt;" in marked and '<b class="hit">会议</b>' in marked


def test_mark_merges_and_validates_spans() -> None:
    assert mark("a<b>c", [(1, 3), (2, 4)]) == "a<mark>&lt;b&gt;</mark>c"
    assert mark("abc", []) == "abc"
    with pytest.raises(ValueError):
        mark("abc", [(2, 5)])
