"""read_corpus / list_sources on the real shared corpus and on broken copies of it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from corpus import Document, ReadFailure, list_sources, make_doc_id, read_corpus

from .conftest import LAWS, NATIONAL, NATIONAL_JSONL, PROVINCIAL, SCRAPED, SCRAPED_TXT

NPC_RE_TITLE = "第十四届全国人民代表大会第三次会议关于政府工作报告的决议"


def _docs(items: list[Document | ReadFailure]) -> list[Document]:
    return [d for d in items if isinstance(d, Document)]


def _failures(items: list[Document | ReadFailure]) -> list[ReadFailure]:
    return [d for d in items if isinstance(d, ReadFailure)]


def _only_doc(paths: list[Path]) -> Document:
    items = list(read_corpus(paths))
    assert len(items) == 1 and isinstance(items[0], Document), items
    return items[0]


# ----------------------------------------------------------------- demo corpus


def test_demo_corpus_reads_completely(demo_read, demo_docs):
    assert _failures(demo_read) == []
    assert len(demo_docs) == 72 + 31 + 1
    assert all(d.title and d.text and d.year for d in demo_docs)
    assert len({d.doc_id for d in demo_docs}) == len(demo_docs)


def test_national_reports_metadata(demo_docs, national_records):
    national = {
        d.title: d for d in demo_docs if d.source.startswith("government_work_reports.jsonl#")
    }
    assert set(national) == set(national_records)
    for title, rec in national_records.items():
        doc = national[title]
        assert doc.source == f"government_work_reports.jsonl#{title}"
        assert doc.doc_id == make_doc_id("government_work_reports.jsonl", title)
        assert doc.url == rec["url"]
        assert doc.region == "全国"
        if rec["year"] is not None:
            assert doc.year == int(rec["year"]), title
            assert doc.doc_type == "政府工作报告"
        else:  # NPC resolution: year from the term and session in the title
            assert doc.doc_type == "决议"
            assert doc.year is not None
    assert national[NPC_RE_TITLE].year == 2025
    assert national["第二届全国人民代表大会第三次会议关于政府工作报告的决议"].year == 1962
    # the resolutions that state their adoption date agree with the derived year
    adopted = national["第十四届全国人民代表大会第一次会议关于政府工作报告的决议"]
    assert adopted.year == 2023 and adopted.date == "2023-03-13"
    # a report with a byline gets its speaker and delivery date; others only a year
    r2024 = national["2024年中华人民共和国国务院政府工作报告"]
    assert (r2024.speaker, r2024.date) == ("李强", "2024-03-05")
    r1957 = national["1957年中华人民共和国国务院政府工作报告"]
    assert (r1957.speaker, r1957.date) == ("周恩来", "1957-06-26")
    r2019 = national["2019年中华人民共和国国务院政府工作报告"]
    assert (r2019.speaker, r2019.date) == (None, "2019")


def test_provincial_reports_metadata(demo_docs, provincial_rows):
    provincial = {d.region: d for d in demo_docs if d.source.startswith("2026_")}
    assert set(provincial) == set(provincial_rows)
    for province, row in provincial_rows.items():
        doc = provincial[province]
        assert doc.title == row["title"]
        assert doc.date == row["publish_date"]
        assert doc.year == 2026
        assert doc.url == row["source_url"]
        assert doc.doc_type == "政府工作报告"
        assert doc.speaker, province  # every page has a "省长 X" style byline
        assert doc.source == f"2026_{province}_政府工作报告.csv#{row['title']}"
        assert doc.extra["speech_date"].startswith("2026-")
    assert provincial["上海市"].speaker == "龚正"  # "上海市市长 龚 正"
    assert provincial["湖南省"].speaker == "毛伟明"  # bare name under the byline
    assert provincial["新疆维吾尔自治区"].speaker == "艾尔肯·吐尼亚孜"
    assert provincial["上海市"].extra["source_org"] == "解放日报"
    # the page title line duplicates Document.title and is not repeated in the text
    assert provincial["上海市"].text.startswith("——2026年2月3日在上海市第十六届人民代表大会")


def test_scraped_speech_metadata(demo_docs):
    doc = next(d for d in demo_docs if d.source == SCRAPED_TXT.name)
    assert doc.title == "在全市高端装备产学研合作推进会议上的讲话"
    assert (doc.date, doc.year, doc.doc_type) == ("2025-07-16", 2025, "讲话")
    assert doc.speaker is None and doc.region is None  # the page names neither
    assert doc.text.startswith("同志们:")


def test_ids_stable_across_reads_and_independent_of_content(tmp_path, demo_docs):
    again = _docs(list(read_corpus([NATIONAL, PROVINCIAL, SCRAPED])))
    assert [d.doc_id for d in again] == [d.doc_id for d in demo_docs]
    assert [d.content_hash for d in again] == [d.content_hash for d in demo_docs]
    folder = tmp_path / "speeches"
    folder.mkdir()
    copy = folder / "讲话.txt"
    shutil.copy(SCRAPED_TXT, copy)
    first = _only_doc([folder])
    copy.write_text(
        SCRAPED_TXT.read_text(encoding="utf-8") + "\n补充一段新的内容。\n", encoding="utf-8"
    )
    edited = _only_doc([folder])
    assert edited.doc_id == first.doc_id == make_doc_id("讲话.txt")
    assert edited.content_hash != first.content_hash
    # a file argument is named by its file name, a folder argument by the path inside it
    assert _only_doc([copy]).doc_id == first.doc_id
    (folder / "sub").mkdir()
    copy.rename(folder / "sub" / "讲话.txt")
    moved = _only_doc([folder])
    assert moved.source == "sub/讲话.txt" and moved.doc_id != first.doc_id


# ------------------------------------------------------------------- listing


def test_list_sources_skips_notes_hidden_and_sidecars(tmp_path, shared_corpus):
    assert list_sources([NATIONAL]) == [NATIONAL_JSONL]  # SOURCE.txt is a note
    assert len(list_sources([PROVINCIAL])) == 31
    (tmp_path / "a.txt").write_text("各位代表：\n正文。", encoding="utf-8")
    (tmp_path / "a.txt.meta.json").write_text("{}", encoding="utf-8")
    (tmp_path / "ReadMe.MD").write_text("# notes", encoding="utf-8")
    (tmp_path / "source.TXT").write_text("from somewhere", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("x", encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c.csv").write_text("title,text\nt,正文\n", encoding="utf-8")
    assert list_sources([tmp_path]) == [tmp_path / "a.txt", tmp_path / "b" / "c.csv"]
    assert [d.source for d in read_corpus([tmp_path])] == ["a.txt", "b/c.csv#t"]


# ------------------------------------------------------------------ encodings


def test_gbk_copy_reads_identically(tmp_path):
    utf8_dir, gbk_dir = tmp_path / "utf8", tmp_path / "gbk"
    utf8_dir.mkdir()
    gbk_dir.mkdir()
    text = SCRAPED_TXT.read_text(encoding="utf-8")
    (utf8_dir / "speech.txt").write_text(text, encoding="utf-8")
    (gbk_dir / "speech.txt").write_bytes(text.encode("gbk"))
    a, b = _only_doc([utf8_dir]), _only_doc([gbk_dir])
    assert a == b
    # a GBK CSV (the brief's Excel-export case) reads like the UTF-8-with-BOM original
    src = PROVINCIAL / "2026_上海市_政府工作报告.csv"
    gbk_csv = gbk_dir / src.name
    gbk_csv.write_bytes(src.read_text(encoding="utf-8-sig").encode("gbk"))
    assert _only_doc([gbk_csv]) == _only_doc([src])


def test_big5_copy_reads_identically(tmp_path, national_records):
    """BIG5 bytes are also valid GBK bytes: detection must pick BIG5, not GBK gibberish."""
    raw = national_records["1954年中华人民共和国国务院政府工作报告"]["content"]
    paragraphs = []
    for p in raw.split("\n\n"):
        try:
            p.encode("big5")
        except UnicodeEncodeError:
            continue
        paragraphs.append(p)
    text = "\n\n".join(paragraphs[:12])
    assert len(text) > 800 and "國" in text
    (tmp_path / "u").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "u" / "1954.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "1954.txt").write_bytes(text.encode("big5"))
    a, b = _only_doc([tmp_path / "u"]), _only_doc([tmp_path / "b"])
    assert a == b
    assert "我們第一届全國人民代表大會" in b.text or "我國" in b.text


def test_utf8_bom_and_crlf(tmp_path):
    text = SCRAPED_TXT.read_text(encoding="utf-8")
    (tmp_path / "u").mkdir()
    (tmp_path / "w").mkdir()
    (tmp_path / "u" / "s.txt").write_text(text, encoding="utf-8")
    (tmp_path / "w" / "s.txt").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert _only_doc([tmp_path / "u"]) == _only_doc([tmp_path / "w"])


# -------------------------------------------------------------------- failures


def test_bad_files_and_records_reported_rest_read(tmp_path):
    lines = NATIONAL_JSONL.read_text(encoding="utf-8").splitlines()
    (tmp_path / "reports.jsonl").write_text(
        "\n".join([lines[0], lines[1][:200], lines[2], '{"title": "无正文", "year": 2020}']) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "binary.txt").write_bytes(bytes(range(128, 256)) * 20)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "table.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "toolbar_only.txt").write_text(
        "下载\n打印\n全屏\n收藏\n【字号：\n加大\n还原\n减小\n】\n", encoding="utf-8"
    )
    shutil.copy(SCRAPED_TXT, tmp_path / "speech.txt")
    items = list(read_corpus([tmp_path, tmp_path / "missing"]))
    failures = {f.source: f.reason for f in _failures(items)}
    assert failures == {
        "binary.txt": "not valid UTF-8/GBK/BIG5",
        "empty.txt": "empty file",
        "reports.jsonl#2": failures["reports.jsonl#2"],
        "reports.jsonl#无正文": "record has no text",
        "table.xls": "unsupported file type .xls",
        "toolbar_only.txt": "empty after cleaning",
        str(tmp_path / "missing"): "no such file or folder",
    }
    assert failures["reports.jsonl#2"].startswith("JSON error on line 2: Unterminated string")
    docs = _docs(items)
    assert [d.source for d in docs] == [
        "reports.jsonl#2025年中华人民共和国国务院政府工作报告",
        "reports.jsonl#2024年中华人民共和国国务院政府工作报告",
        "speech.txt",
    ]


def test_broken_docx_and_pdf_are_failures(tmp_path):
    (tmp_path / "a.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4\n garbage")
    failures = _failures(list(read_corpus([tmp_path])))
    assert [f.source for f in failures] == ["a.docx", "b.pdf"]
    assert failures[0].reason.startswith("not a valid .docx file")
    assert "PDF" in failures[1].reason


def test_duplicate_source_in_two_folders(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(SCRAPED_TXT, tmp_path / name / "x.txt")
    items = list(read_corpus([tmp_path / "a", tmp_path / "b"]))
    assert isinstance(items[0], Document)
    assert isinstance(items[1], ReadFailure) and "duplicate source" in items[1].reason


# ------------------------------------------------------- metadata overrides


FRONT_MATTER = """---
title: 在全市产学研合作推进会议上的讲话
speaker: 张三
date: 2025年7月10日
region: 示例市
occasion: 全市产学研合作推进会议
---
"""


def test_front_matter_overrides_parsed_metadata(tmp_path):
    path = tmp_path / "speech.txt"
    path.write_text(FRONT_MATTER + SCRAPED_TXT.read_text(encoding="utf-8"), encoding="utf-8")
    doc = _only_doc([path])
    assert doc.title == "在全市产学研合作推进会议上的讲话"
    assert (doc.speaker, doc.date, doc.year, doc.region) == ("张三", "2025-07-10", 2025, "示例市")
    assert doc.extra == {"occasion": "全市产学研合作推进会议"}
    assert "speaker:" not in doc.text and doc.text.startswith(
        "在全市高端装备产学研合作推进会议上的讲话"
    )


def test_sidecar_overrides_front_matter(tmp_path):
    path = tmp_path / "speech.txt"
    path.write_text(FRONT_MATTER + SCRAPED_TXT.read_text(encoding="utf-8"), encoding="utf-8")
    sidecar = {
        "标题": "产学研合作讲话（定稿）",
        "讲话人": "李四",
        "年份": "2025",
        "备注": "内部资料",
    }
    (tmp_path / "speech.meta.json").write_text(
        json.dumps(sidecar, ensure_ascii=False), encoding="utf-8"
    )
    doc = _only_doc([path])
    assert (doc.title, doc.speaker, doc.region) == ("产学研合作讲话（定稿）", "李四", "示例市")
    assert doc.extra == {"occasion": "全市产学研合作推进会议", "备注": "内部资料"}


def test_sidecar_of_multi_record_file_only_fills_gaps(tmp_path):
    lines = NATIONAL_JSONL.read_text(encoding="utf-8").splitlines()[:2]
    (tmp_path / "r.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "r.jsonl.meta.json").write_text(
        json.dumps(
            {"region": "中国", "title": "不该覆盖", "collection": "维基文库"}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    docs = _docs(list(read_corpus([tmp_path])))
    assert [d.title for d in docs] == ["2025年中华人民共和国国务院政府工作报告", NPC_RE_TITLE]
    assert all(d.region == "中国" and d.extra["collection"] == "维基文库" for d in docs)


def test_broken_sidecar_reported_document_still_read(tmp_path):
    shutil.copy(SCRAPED_TXT, tmp_path / "s.txt")
    (tmp_path / "s.meta.json").write_text('{"speaker": ', encoding="utf-8")
    items = list(read_corpus([tmp_path]))
    assert isinstance(items[0], ReadFailure) and items[0].source == "s.meta.json"
    assert items[0].reason.startswith("sidecar ignored: JSON error on line 1")
    assert isinstance(items[1], Document) and items[1].speaker is None


def test_csv_field_mapping_and_unknown_fields(tmp_path):
    (tmp_path / "t.csv").write_text(
        "标题,正文,日期,省份,讲话人,类型,链接,栏目\n"
        '示例讲话,"同志们：\n今天召开会议。",2024/3/5,浙江省,王五,讲话,http://example.org/1,要闻\n'
        '示例讲话,"第二篇正文。",2024-03-06,,,,,\n',
        encoding="utf-8",
    )
    a, b = _docs(list(read_corpus([tmp_path])))
    assert (a.source, b.source) == ("t.csv#1", "t.csv#2")  # repeated title -> row numbers
    assert (a.date, a.year, a.region, a.speaker, a.doc_type) == (
        "2024-03-05",
        2024,
        "浙江省",
        "王五",
        "讲话",
    )
    assert a.url == "http://example.org/1" and a.extra == {"栏目": "要闻"}
    assert a.text == "同志们：\n今天召开会议。"


def test_jsonl_year_as_string_or_int_and_from_title(tmp_path):
    records = [
        {"title": "甲", "text": "正文一。", "year": 2019},
        {"title": "乙", "text": "正文二。", "year": "2020"},
        {"title": "2018年某市政府工作报告", "body": "正文三。"},
        {"title": "丁", "content": "正文四。", "publish_date": "2021年5月"},
    ]
    (tmp_path / "y.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    docs = _docs(list(read_corpus([tmp_path])))
    assert [(d.year, d.date) for d in docs] == [
        (2019, "2019"),
        (2020, "2020"),
        (2018, "2018"),
        (2021, "2021-05"),
    ]
    assert docs[2].doc_type == "政府工作报告"


# ------------------------------------------------------------------------ laws


def test_law_markdown(shared_corpus):
    law = LAWS / "刑法" / "刑法修正案（十二）(2023-12-29).md"
    doc = _only_doc([law])
    assert doc.title == "中华人民共和国刑法修正案（十二）"
    assert (doc.date, doc.year, doc.doc_type, doc.region) == (
        "2023-12-29",
        2023,
        "法律法规",
        "全国",
    )
    assert "INFO END" not in doc.text and "<!--" not in doc.text
    assert doc.text.startswith("2023年12月29日 第十四届全国人民代表大会常务委员会第七次会议通过")
    # no date in the file name: the latest promulgation date is the version
    constitution = _only_doc([LAWS / "宪法" / "宪法.md"])
    assert constitution.date == "2018-03-11"
    assert "## 序言" in constitution.text.split("\n")  # Markdown headings kept for the chunker
    stub = list(read_corpus([LAWS / "刑法" / "_index.md"]))
    assert stub == [ReadFailure("_index.md", "empty file")]


@pytest.mark.parametrize("folder", [NATIONAL, PROVINCIAL, SCRAPED])
def test_demo_folders_read_fast(folder, shared_corpus):
    started = time.perf_counter()
    items = list(read_corpus([folder]))
    assert items and time.perf_counter() - started < 10


def test_links_pipes_and_loops_are_reported_not_silently_skipped(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(SCRAPED_TXT, root / "speech.txt")
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "linked-folder").symlink_to(elsewhere)
    os.mkfifo(root / "pipe.txt")
    items = list(read_corpus([root]))
    assert len(_docs(items)) == 1
    reasons = {f.source: f.reason for f in _failures(items)}
    assert set(reasons) == {"dangling.txt", "loop.txt", "linked-folder", "pipe.txt"}
    assert "broken link" in reasons["dangling.txt"] and "broken link" in reasons["loop.txt"]
    assert "not followed" in reasons["linked-folder"]
    assert "pipe" in reasons["pipe.txt"]
    assert list_sources([root]) == [root / "speech.txt"], "only readable files count as progress"


def test_a_link_to_a_file_outside_the_corpus_is_not_read(tmp_path):
    """Whatever is indexed is public through /search: a link must not carry a file out."""
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    shutil.copy(SCRAPED_TXT, root / "speech.txt")
    secret = tmp_path / "secret.txt"
    secret.write_text(
        "各位代表：这是一份不应公开的文件，内容绝不能出现在检索结果里。", encoding="utf-8"
    )
    (root / "leak.txt").symlink_to(secret)
    (root / "sub" / "same.txt").symlink_to(root / "speech.txt")  # inside: read
    items = list(read_corpus([root]))
    assert {d.source for d in _docs(items)} == {"speech.txt", "sub/same.txt"}
    (failure,) = _failures(items)
    assert failure.source == "leak.txt" and "outside the corpus folder" in failure.reason
    assert all("不应公开" not in d.text for d in _docs(items))


def test_csv_without_a_text_column_is_one_failure(tmp_path):
    path = tmp_path / "reports.csv"
    path.write_text("title,year\n报告一,2020\n报告二,2021\n报告三,2022\n", encoding="utf-8")
    [failure] = list(read_corpus([path]))
    assert isinstance(failure, ReadFailure) and failure.source == "reports.csv"
    assert "no text column" in failure.reason and "full_text" in failure.reason
