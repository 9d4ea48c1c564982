"""The sample corpus the README quickstart indexes: every format, every field, read cleanly."""

from __future__ import annotations

from pathlib import Path

from corpus import Document, list_sources, read_corpus

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample"


def test_sample_corpus():
    assert [p.name for p in list_sources([SAMPLE])] == [
        "乡村振兴推进会议讲话.txt",
        "冰雪经济工作报告.md",
        "政府工作报告摘编.csv",
        "科技成果转化推进会讲话.txt",
        "营商环境.jsonl",
    ]
    items = list(read_corpus([SAMPLE]))
    docs = [d for d in items if isinstance(d, Document)]
    assert len(docs) == len(items) == 7
    for d in docs:
        assert d.title and d.speaker and d.date and d.year and d.region and d.doc_type, d.source
        assert 200 <= len(d.text) <= 1500, (d.source, len(d.text))
    by_source = {d.source: d for d in docs}
    village = by_source["乡村振兴推进会议讲话.txt"]
    assert (village.speaker, village.date, village.region) == ("周建国", "2025-03-12", "云溪县")
    tech = by_source["科技成果转化推进会讲话.txt"]
    for measure in ("概念验证中心", "中试平台", "成果转化基金", "技术经理人"):
        assert measure in tech.text
    snow = by_source["冰雪经济工作报告.md"]
    assert snow.title == "关于加快发展冰雪经济的工作报告" and "## 一、基本情况" in snow.text
    assert by_source["政府工作报告摘编.csv#青山市2025年政府工作报告（摘编）"].date == "2025-01-20"
    text = "\n".join(d.text for d in docs)
    for topic in ("科技成果转化", "乡村振兴", "冰雪经济", "营商环境"):
        assert topic in text
