"""Chunking on real government reports, a scraped speech and a law.

The texts come from the shared corpus beside the checkout and are read with the
stdlib (the corpus readers are separate work), with only the light preparation
a reader does: CSV ``full_text`` and Markdown as they are, the national JSONL
re-joined into one line per paragraph without its licence footer.
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path

import pytest

from corpus.document import Document, make_doc_id
from indexer.chunk import (
    HEADING_MAX_CHARS,
    SECTION_TITLE_CHARS,
    ChunkConfig,
    chunk_document,
    heading_level,
)
from indexer.passage import Passage, make_passage_id
from indexer.settings import Settings

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SPEECH = "scraped-speech/000_8759e18efef570e4.txt"
CRIMINAL_LAW = "laws/刑法/刑法.md"
CONSTITUTION_AMENDMENT = "laws/宪法/宪法修正案（2018年）.md"
CIRCULAR_ECONOMY = "laws/DLC/山东地方法规/地方性法规/山东/山东省循环经济条例(2016-07-22).md"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")

csv.field_size_limit(1 << 30)


# ---------------------------------------------------------------- loading real documents


@cache
def provincial(province: str) -> Document:
    path = CORPUS / "provincial-2026" / f"2026_{province}_政府工作报告.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        row = next(csv.DictReader(f))
    source = f"provincial-2026/{path.name}"
    return Document(doc_id=make_doc_id(source), text=row["full_text"], title=row["title"])


@cache
def national_reports() -> tuple[Document, ...]:
    """National reports, one line per paragraph: wiki links broke sentences over lines."""
    source = "national-reports/government_work_reports.jsonl"
    docs = []
    with (CORPUS / source).open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            content = record["content"].split("本作品是中华人民共和国的")[0]
            paragraphs = (p.replace("\n", "").strip() for p in re.split(r"\n\s*\n", content))
            docs.append(
                Document(
                    doc_id=make_doc_id(source, record["title"]),
                    text="\n".join(p for p in paragraphs if p),
                    title=record["title"],
                )
            )
    return tuple(docs)


def national(title_prefix: str) -> Document:
    return next(d for d in national_reports() if d.title.startswith(title_prefix))


@cache
def speech() -> Document:
    text = (CORPUS / SPEECH).read_text(encoding="utf-8")
    return Document(
        doc_id=make_doc_id(SPEECH), text=text, title="在全市高端装备产学研合作推进会议上的讲话"
    )


@cache
def law(relative: str) -> Document:
    text = (CORPUS / relative).read_text(encoding="utf-8")
    title = text.splitlines()[0].lstrip("# ").strip()
    return Document(doc_id=make_doc_id(relative), text=text, title=title)


@cache
def demo_corpus() -> tuple[Document, ...]:
    """The 104 demo documents: national JSONL, 31 provincial CSVs, the scraped speech."""
    provinces = sorted(
        p.name.removeprefix("2026_").removesuffix("_政府工作报告.csv")
        for p in (CORPUS / "provincial-2026").glob("2026_*_政府工作报告.csv")
    )
    return (*national_reports(), *(provincial(p) for p in provinces), speech())


@cache
def chunks(doc_id: str) -> tuple[Passage, ...]:
    doc = next(d for d in (*demo_corpus(), law(CRIMINAL_LAW)) if d.doc_id == doc_id)
    return tuple(chunk_document(doc))


def passage_with(doc: Document, snippet: str) -> Passage:
    found = [p for p in chunks(doc.doc_id) if snippet in p.text]
    assert len(found) == 1, f"{snippet!r} in {len(found)} passages of {doc.title}"
    return found[0]


def document(ref: str) -> Document:
    """``provincial:<省>``, ``national:<title prefix>``, the speech or a law file."""
    kind, _, name = ref.partition(":")
    if kind == "provincial":
        return provincial(name)
    if kind == "national":
        return national(name)
    return speech() if ref == SPEECH else law(ref)


def source_line(doc: Document, prefix: str) -> str:
    """A line of the document itself, so tests use real headings, not made-up ones."""
    return next(line.strip() for line in doc.text.splitlines() if line.strip().startswith(prefix))


# ---------------------------------------------------------------- heading detection


@pytest.mark.parametrize(
    ("ref", "prefix", "level"),
    [
        (CRIMINAL_LAW, "## 第一编 总则", 2),
        (CRIMINAL_LAW, "### 第一章 刑法的任务", 3),
        (CRIMINAL_LAW, "#### 第一节 犯罪和刑事责任", 4),
        (CONSTITUTION_AMENDMENT, "第七节 监察委员会", 9),
        (CIRCULAR_ECONOMY, "第五章法律责任", 8),
        (SPEECH, "三、聚焦重点任务", 10),
        (SPEECH, "(二)强化需求对接与成果转化", 11),
        ("provincial:湖北省", "一、“十四五”时期和2025年工作回顾", 10),
        # a heading line that ends with 。
        ("provincial:湖北省", "（一）坚持供需两端协同发力", 11),
        # inline: heading sentence, then the body on the same line
        ("provincial:浙江省", "（一）强化创新驱动发展，创新浙江建设成效明显。提升", 11),
        ("provincial:浙江省", "1.医疗卫生方面。", 12),
        ("national:1983年", "（１）通过编制规划", 13),
    ],
)
def test_heading_levels_of_real_lines(ref: str, prefix: str, level: int) -> None:
    assert heading_level(source_line(document(ref), prefix)) == level


@pytest.mark.parametrize(
    ("ref", "prefix"),
    [
        (CRIMINAL_LAW, "第十三条 "),  # an article is body, not a heading
        (CRIMINAL_LAW, "（一）管制；"),  # a list item
        (CONSTITUTION_AMENDMENT, "第七节相应改为第八节"),  # prose
        (SPEECH, "一是合作规模持续扩大"),  # 一是/二是 enumerations stay body
        ("provincial:湖北省", "——经济实力实现整体跃升"),
        ("provincial:湖北省", "各位代表："),
    ],
)
def test_lines_that_are_not_headings(ref: str, prefix: str) -> None:
    assert heading_level(source_line(document(ref), prefix)) is None


# ---------------------------------------------------------------- section paths


def test_provincial_report_sections() -> None:
    hubei = provincial("湖北省")
    assert passage_with(hubei, "大力提振消费。顺应新时期").section == (
        "三、2026年的重点工作 > （一）坚持供需两端协同发力，努力推动经济稳定均衡可持续增长"
    )
    assert passage_with(hubei, "“十四五”时期是湖北发展史上").section == (
        "一、“十四五”时期和2025年工作回顾"
    )
    # a heading resets the deeper levels: 四、 does not sit under 三、 > （九）
    assert passage_with(hubei, "（一）旗帜鲜明讲政治。").section == (
        "四、努力建设让人民满意的法治型服务型政府 > （一）旗帜鲜明讲政治"
    )
    # long headings are cut in the path
    long_path = passage_with(hubei, "着力重塑现代科技金融体系。").section
    assert long_path.endswith(
        " > （二）大力推进科技创新、产业创新和金融创新深度融合发展，加快构建体现湖北优势的…"
    )
    assert len(long_path.split(" > ")[-1]) == SECTION_TITLE_CHARS


@pytest.mark.parametrize(
    ("province", "heading", "entry"),
    [
        ("江西省", "《政府工作报告》有关内容名词注释", "12.“1+M+N”服务体系"),
        ("四川省", "名词解释", "1.“两重”"),
        ("海南省", "注释", "［1］一降三减"),
    ],
)
def test_back_matter_is_a_part_of_its_own(province: str, heading: str, entry: str) -> None:
    """A glossary after the report does not sit under the report's last heading."""
    doc = provincial(province)
    assert heading_level(source_line(doc, heading)) == 7
    glossary = passage_with(doc, entry)
    assert glossary.section == heading
    assert heading not in glossary.text
    passages = chunks(doc.doc_id)
    first = next(p.ordinal for p in passages if p.section == heading)
    assert all(p.section == heading for p in passages[first:]), "the glossary runs to the end"
    assert passages[first - 1].section.startswith(("三、", "四、")), "the report keeps its own"


def test_inline_heading_keeps_its_sentence_and_names_the_section() -> None:
    zhejiang = provincial("浙江省")
    line = source_line(zhejiang, "（一）强化创新驱动发展")
    first = passage_with(
        zhejiang, "（一）强化创新驱动发展，创新浙江建设成效明显。提升科技创新质效。"
    )
    assert (
        first.section
        == "一、2025年主要工作和“十四五”发展成就 > （一）强化创新驱动发展，创新浙江建设成效明显"
    )
    assert line.startswith(first.text)  # the heading sentence stays in the text, split later
    # （一）…（十） are one paragraph each: what follows the last belongs to 一、 again
    assert passage_with(zhejiang, "过去一年，民族宗教、外事侨务").section == (
        "一、2025年主要工作和“十四五”发展成就"
    )


def test_spec_example_inline_heading() -> None:
    """The spec's example: a 三、 heading, then an inline （二） heading with its body."""
    heading = source_line(speech(), "三、聚焦重点任务")
    doc = Document(doc_id="spec", text=f"{heading}\n（二）强化需求对接与成果转化。围绕……，建立……。")
    (passage,) = chunk_document(doc)
    assert passage.section == f"{heading} > （二）强化需求对接与成果转化"
    assert passage.text == "（二）强化需求对接与成果转化。围绕……，建立……。"


def test_scraped_speech_outline_does_not_become_structure() -> None:
    doc = speech()
    # the page's outline (目录/提纲) lists 三、…（二）强化需求对接与成果转化…, but the page is
    # cut before that section: the outline stays searchable as body text of no section
    outline = passage_with(doc, "(二)强化需求对接与成果转化,破解产业技术瓶颈")
    assert outline.section == ""
    # and its last entries do not label the introduction
    assert passage_with(doc, "今天,我们在这里召开全市高端装备产学研合作推进会议").section == ""
    # the passage about 成果转化 that the page does show sits in its real section
    transfer = passage_with(doc, "四是成果转化步伐加快")
    assert (
        transfer.section == "二、客观分析我市高端装备产学研合作的现状与问题 > (一)取得的阶段性成效"
    )
    assert transfer.text.startswith("四是成果转化步伐加快。")  # 一是…四是 are body, not headings


def test_national_report_sections() -> None:
    report = national("2019年")
    assert passage_with(report, "全年减轻企业税收和社保缴费负担近2万亿元").section == (
        "三、2019年政府工作任务 > （一）继续创新和完善宏观调控，确保经济运行在合理区间"
    )
    assert (
        passage_with(report, "细颗粒物（PM2.5）浓度继续下降，生态文明").section
        == "一、2018年工作回顾"
    )


def test_inverted_and_nested_numbering_in_old_reports() -> None:
    # 1981 puts 一、二、… under （二）: the document's own order wins over the usual one
    sections_1981 = {p.section for p in chunks(national("1981年").doc_id)}
    assert "（二）今后经济建设的方针 > 一、依靠政策和科学，加快农业的发展" in sections_1981
    assert "（三）我国经济发展的前景" in sections_1981
    # 1955 lists 一、二、三、四 inside （三）: items, not a new top level
    report = national("1955年")
    assert passage_with(report, "一、开垦宜于耕种的荒地。").section == (
        "三、第一個五年計劃的若幹問題 > （三）关于农业的增产问题"
    )
    assert "四、为完成和超额完成第一个五年计划而奋斗" in {p.section for p in chunks(report.doc_id)}


def test_law_articles_and_chapters() -> None:
    doc = law(CRIMINAL_LAW)
    passages = chunks(doc.doc_id)
    article = passage_with(doc, "第十三条 一切危害国家主权")
    assert article.text.startswith("第十三条 ")
    assert article.section == "第一编 总则 > 第二章 犯罪 > 第一节 犯罪和刑事责任"
    # an article's items stay with it
    assert "（一）管制；" in passage_with(doc, "第三十三条 主刑的种类如下：").text
    # the document's "# title" is not a section
    assert not any(p.section.startswith(doc.title) for p in passages)
    # every article starts a line of some passage, so its number is in that passage
    lines = {line for p in passages for line in p.text.split("\n")}
    articles = [
        s.strip()
        for s in doc.text.splitlines()
        if re.match(r"第[一二三四五六七八九十百零]+条(之[一二三四五六七八九十]+)? ", s)
    ]
    assert len(articles) > 450
    assert all(a in lines for a in articles if len(a) <= ChunkConfig().max_chars)


# ---------------------------------------------------------------- invariants over the corpus


def body_is_preserved(doc: Document, passages: list[Passage] | tuple[Passage, ...]) -> None:
    """Passages in order hold every non-heading line of the document, whole and nothing else."""
    joined = "".join(p.text.replace("\n", "") for p in passages)
    pos = 0
    for raw in doc.text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if joined.startswith(line, pos):
            pos += len(line)
        else:
            assert heading_level(line) is not None, f"{doc.title}: lost {line[:40]!r}"
    assert pos == len(joined), f"{doc.title}: passages hold text that is not in the document"


def test_demo_corpus_invariants() -> None:
    config = ChunkConfig()
    docs = demo_corpus()
    assert len(docs) == 104
    for doc in docs:
        passages = chunks(doc.doc_id)
        assert passages, doc.title
        body_is_preserved(doc, passages)
        assert [p.ordinal for p in passages] == list(range(len(passages)))
        assert {p.doc_id for p in passages} == {doc.doc_id}
        assert len({p.passage_id for p in passages}) == len(passages)
        titles = {t for p in passages for t in p.section.split(" > ") if t}
        for i, p in enumerate(passages):
            assert 0 < len(p.text) <= config.max_chars, (doc.title, p.ordinal)
            # no passage is a bare heading (a heading line alone, its title in a path)
            stem = p.text.rstrip("。！？：")
            cut = (
                stem if len(stem) <= SECTION_TITLE_CHARS else stem[: SECTION_TITLE_CHARS - 1] + "…"
            )
            bare = "\n" not in p.text and len(p.text) <= HEADING_MAX_CHARS and cut in titles
            assert not bare, (doc.title, p.text)
            # a short passage is short only when joining a neighbour of its section was impossible
            if len(p.text) < config.min_chars:
                for q in passages[max(i - 1, 0) : i] + passages[i + 1 : i + 2]:
                    if q.section == p.section:
                        assert len(q.text) + 1 + len(p.text) > config.max_chars, (doc.title, p.text)


def test_law_text_is_preserved() -> None:
    doc = law(CRIMINAL_LAW)
    body_is_preserved(doc, chunks(doc.doc_id))


def test_long_paragraph_splits_at_sentence_ends() -> None:
    zhejiang = provincial("浙江省")
    line = source_line(zhejiang, "（四）聚焦共同富裕先行示范")
    assert len(line) > 1000
    config = ChunkConfig()
    pieces = [p.text for p in chunks(zhejiang.doc_id) if p.text in line]
    assert "".join(pieces) == line
    assert len(pieces) >= 3
    for piece in pieces[:-1]:
        assert re.search(r"[。！？；][”’）]*$", piece), piece[-10:]
        assert config.min_chars <= len(piece) <= config.max_chars


def test_sentence_too_long_splits_at_commas_then_hard() -> None:
    config = ChunkConfig()
    commas = "加快建设现代化产业体系，" * 60
    pieces = [p.text for p in chunk_document(Document(doc_id="c", text=commas), config)]
    assert "".join(pieces) == commas
    assert all(piece.endswith("，") and len(piece) <= config.max_chars for piece in pieces)
    solid = "甲" * 1000
    pieces = [p.text for p in chunk_document(Document(doc_id="h", text=solid), config)]
    assert "".join(pieces) == solid
    assert [len(piece) for piece in pieces] == [320, 320, 360]


# ---------------------------------------------------------------- ids


def test_ids_are_stable_and_change_only_with_their_text() -> None:
    hubei = provincial("湖北省")
    before = chunk_document(hubei)
    assert [p.passage_id for p in before] == [p.passage_id for p in chunk_document(hubei)]
    old = source_line(hubei, "扩大有效投资。")
    new = old.replace("扩大有效投资。", "扩大有效投资！", 1)
    edited = Document(doc_id=hubei.doc_id, text=hubei.text.replace(old, new), title=hubei.title)
    after = chunk_document(edited)
    assert len(after) == len(before)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a.passage_id != b.passage_id]
    assert len(changed) == 1
    assert new in changed[0][1].text


def test_identical_paragraphs_get_distinct_ids() -> None:
    paragraph = source_line(provincial("湖北省"), "就业和税收两大核心关切总体向好")
    doc = Document(doc_id="twice", text=f"{paragraph}\n{paragraph}")
    first, second = chunk_document(doc)
    assert first.text == second.text == paragraph
    assert first.passage_id == make_passage_id("twice", paragraph, 0)
    assert second.passage_id == make_passage_id("twice", paragraph, 1)


# ---------------------------------------------------------------- configuration


def test_config_from_settings_and_validation() -> None:
    settings = Settings(chunk_target_chars=200, chunk_max_chars=300, chunk_min_chars=20)
    assert ChunkConfig.from_settings(settings) == ChunkConfig(200, 300, 20)
    with pytest.raises(ValueError, match="target_chars"):
        ChunkConfig(target_chars=500, max_chars=480)


def test_smaller_sizes_are_honoured() -> None:
    config = ChunkConfig(target_chars=120, max_chars=200, min_chars=20)
    doc = provincial("浙江省")
    passages = chunk_document(doc, config)
    assert max(len(p.text) for p in passages) <= 200
    body_is_preserved(doc, passages)


def test_empty_document_has_no_passages() -> None:
    assert chunk_document(Document(doc_id="empty", text="\n \n")) == []
