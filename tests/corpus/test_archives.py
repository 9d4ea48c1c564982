"""Archives shaped like the ones users bring: ministry CMS pages, news-site records, provincial
speech pages (fixtures in ``tests/corpus/archives``, written for the tests). Every document keeps
its date, speaker, type and link, and loses its page furniture."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from corpus import clean_text, read_corpus
from corpus.coverage import MetadataCoverage
from corpus.document import Document
from corpus.metadata import date_like, infer_doc_type, parse_date
from corpus.sitewide import strip_site_furniture
from corpus.speakers import Speaker, infer_speaker, speaker_from_title

ARCHIVES = Path(__file__).parent / "archives"

#: What no passage may contain: site footers, menus, desk marks, captions, datelines.
FURNITURE = re.compile(
    r"版权所有|ICP备|公网安备|网站标识码|邮编|主办：|首页|当前位置|打印本页|分享到|【字体|"
    r"（完）|【纠错】|责任编辑|记者\s*\S+\s*摄|新华社\S{0,8}电|IPv6|便民热线"
)


def _docs(folder: str) -> dict[str, Document]:
    items = list(read_corpus([ARCHIVES / folder]))
    assert all(isinstance(d, Document) for d in items), items
    return {d.title: d for d in items if isinstance(d, Document)}


@pytest.fixture(scope="module")
def pages() -> list[Document]:
    """Every fixture document, site furniture removed as a build removes it."""
    docs = [d for d in read_corpus([ARCHIVES]) if isinstance(d, Document)]
    strip_site_furniture(docs)
    return docs


def test_ministry_pages_keep_date_speaker_role_type_and_link() -> None:
    docs = _docs("ministry-press")
    conf = docs["2024年4月3日外交部发言人林思远主持例行记者会"]
    assert conf.date == "2024-04-03" and conf.year == 2024
    assert conf.speaker == "林思远" and conf.extra["speaker_role"] == "外交部发言人"
    assert conf.doc_type == "记者会" and conf.region == "全国"
    assert (
        conf.url == "https://www.mfa.example.gov.cn/web/fyrbt/lxjzh/202404/t20240403_10000001.shtml"
    )
    assert conf.provenance["date"] == "field:PubDate" and conf.provenance["url"] == "field:Url"
    assert docs["2024年4月10日外交部发言人陈佳宁主持例行记者会"].speaker == "陈佳宁"
    answer = docs["外交部发言人就某国举行大选答记者问"]
    assert answer.doc_type == "答记者问" and answer.date == "2024-04-12"
    assert answer.speaker is None  # the title names a role, not a person: no guess


def test_a_short_page_loses_its_menus() -> None:
    """On a short article trafilatura's default falls back to the whole page; menus stay out."""
    answer = _docs("ministry-press")["外交部发言人就某国举行大选答记者问"]
    assert answer.text.split("\n") == [
        "问：某国日前顺利举行大选，中方对此有何评论？",
        "答：中方注意到某国大选顺利举行，尊重该国人民的选择。中方愿同该国新一届政府共同努力，"
        "推动双边关系持续健康稳定发展，更好造福两国人民。",
    ]


def test_news_records_dates_from_any_field_and_format() -> None:
    docs = _docs("news-crawl")
    assert docs["国家主席周海平发表二〇二六年新年贺词"].date == "2025-12-31"  # publication
    assert docs["省长李华在全省优化营商环境大会上的讲话"].date == "2025-03-12"  # epoch ms
    assert docs["赵立新同志在市委全会上的讲话"].date == "2025-11-20"  # pubtime, Chinese
    assert docs["陈建国在第三届数字经济合作论坛开幕式上的致辞"].date == "2025-09-05"  # ISO
    assert all(d.url and d.url.startswith("http://www.news.example.cn/") for d in docs.values())


def test_news_records_speakers_roles_and_types() -> None:
    docs = _docs("news-crawl")
    expect = {
        "国家主席周海平发表二〇二六年新年贺词": ("周海平", "贺词", "国家主席"),
        "周海平：在全国政协新年茶话会上的讲话": ("周海平", "讲话", None),
        "省长李华在全省优化营商环境大会上的讲话": ("李华", "讲话", "省长"),
        "赵立新同志在市委全会上的讲话": ("赵立新", "讲话", None),
        "陈建国在第三届数字经济合作论坛开幕式上的致辞": ("陈建国", "致辞", None),
        "全省经济工作会议在青山召开": (None, "新闻报道", None),
    }
    found = {t: (d.speaker, d.doc_type, d.extra.get("speaker_role")) for t, d in docs.items()}
    assert found == expect


def test_news_records_paragraphs_follow_the_indentation() -> None:
    docs = _docs("news-crawl")
    greeting = docs["国家主席周海平发表二〇二六年新年贺词"].text.split("\n")
    # dateline paragraph, caption, 4 paragraphs: the caption goes, the dateline leaves its lead
    assert len(greeting) == 5
    assert greeting[0].startswith("新年前夕，国家主席周海平") and greeting[-1].endswith(
        "奋勇前进！"
    )
    business = docs["省长李华在全省优化营商环境大会上的讲话"].text.split("\n")  # \u2003 marks
    assert business[:3] == [
        "同志们：",
        "今天召开全省优化营商环境大会，主要任务是总结经验、分析形势，部署推进全省营商环境建设。",
        "一、充分认识优化营商环境的重大意义",
    ]


def test_datelines_become_metadata() -> None:
    docs = _docs("news-crawl")
    forum = docs["陈建国在第三届数字经济合作论坛开幕式上的致辞"]
    assert forum.extra["dateline"] == "新华社青山9月5日电（记者 王小明 李丽）"
    assert forum.extra["dateline_place"] == "青山"
    assert forum.text.startswith("尊敬的各位来宾")


def test_provincial_pages_links_dates_and_bylines() -> None:
    docs = _docs("provincial-speeches")
    tech = docs["王明远在全省科技创新大会上的讲话"]
    assert tech.date == "2025-03-18" and tech.speaker == "王明远"
    assert tech.url == "https://www.dongling.example.gov.cn/zwgk/ldjh/202503/t20250318_101.html"
    rural = docs["在全省乡村振兴工作会议上的讲话"]
    assert rural.date == "2025-02-20" and rural.url.endswith("t20250220_102.html")  # DC, canonical
    assert (rural.speaker, rural.extra["speaker_role"]) == ("王明远", "省长")
    safety = docs["李晓峰同志在全省安全生产工作电视电话会议上的讲话"]
    assert safety.date == "2025-06-18" and safety.speaker == "李晓峰"
    plain = docs["在全省优化营商环境大会上的讲话"]  # title, date line, then the name
    assert (plain.date, plain.speaker) == ("2025-03-12", "王明远")


def test_no_passage_holds_page_furniture(pages: list[Document]) -> None:
    assert len(pages) == 14
    leaks = [(d.title, m.group(0)) for d in pages for m in FURNITURE.finditer(d.text)]
    assert leaks == []


def test_a_line_repeated_on_every_page_of_a_site_is_furniture() -> None:
    docs = [d for d in read_corpus([ARCHIVES]) if isinstance(d, Document)]
    removed = strip_site_furniture(docs)
    assert removed == {"folder:provincial-speeches": ["本网站支持IPv6访问 政务服务便民热线：12345"]}
    plain = next(d for d in docs if d.source.endswith(".txt"))  # not a page: never grouped
    assert "IPv6" not in plain.text


def test_real_reports_share_no_furniture(demo_docs: list[Document]) -> None:
    """72 national reports from one site: their repeated greetings, headings and formulas stay."""
    copies = [dataclasses.replace(d) for d in demo_docs]
    assert strip_site_furniture(copies) == {}
    assert [d.text for d in copies] == [d.text for d in demo_docs]


@pytest.mark.parametrize(
    ("title", "speaker"),
    [
        ("习近平：在全国政协新年茶话会上的讲话", Speaker("习近平")),
        ("李强在第十四届全国人民代表大会第三次会议上的讲话", Speaker("李强")),
        ("国家主席习近平发表二〇二六年新年贺词", Speaker("习近平", "国家主席")),
        ("2024年4月3日外交部发言人汪文斌主持例行记者会", Speaker("汪文斌", "外交部发言人")),
        ("省长王某某在全省经济工作会议上的讲话", Speaker("王某某", "省长")),
        ("赵立新同志在市委全会上的讲话", Speaker("赵立新")),
        ("商务部新闻发言人何亚东就有关问题答记者问", Speaker("何亚东", "商务部新闻发言人")),
        (
            "中共中央政治局常委、国务院总理李强在夏季达沃斯论坛开幕式上的致辞",
            Speaker("李强", "国务院总理"),
        ),
        ("艾尔肯·吐尼亚孜在自治区人民代表大会上的讲话", Speaker("艾尔肯·吐尼亚孜")),
        # news reports about someone, bodies, roles without names: no speaker
        ("李强主持召开国务院常务会议", None),
        ("习近平在中央经济工作会议上发表重要讲话", None),
        ("全省经济工作会议在青山召开", None),
        ("外交部发言人就某国举行大选答记者问", None),
        ("国务院在全国会议上的讲话", None),
        ("全省在全省大会上的讲话", None),
        ("习近平：要加快建设农业强国", None),
        ("在全市科技成果转化工作推进会上的讲话", None),
    ],
)
def test_speaker_from_title(title: str, speaker: Speaker | None) -> None:
    assert speaker_from_title(title) == speaker


def test_bylines_never_take_a_word_for_a_name() -> None:
    assert infer_speaker(["首页", "发言人表态", "外交部发言人就某国大选答记者问"]) is None
    assert infer_speaker(["中华人民共和国主席令第三号公布"]) is None
    assert infer_speaker(["省委副书记、省长 王明远"]) == Speaker("王明远", "省长")
    assert infer_speaker(["上海市市长 龚 正"]) == Speaker("龚正", "上海市市长")
    assert infer_speaker(["在…会议上的讲话", "（2025年3月12日）", "王明远"]) == Speaker("王明远")


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("2025-12-31 19:35:10", "2025-12-31"),
        ("2025-12-31T19:35:10+08:00", "2025-12-31"),
        ("2025年12月31日", "2025-12-31"),
        ("二〇二五年十二月三十一日", "2025-12-31"),
        (1767180910, "2025-12-31"),  # epoch seconds (19:35 in Beijing)
        (1767180910000, "2025-12-31"),  # milliseconds
        ("1767123000", "2025-12-31"),  # 03:30 on the 31st in Beijing, still the 30th in UTC
        ("20251231", "2025-12-31"),
        ("2025/7/16 22:26:33", "2025-07-16"),
        ("上午", None),
    ],
)
def test_parse_date(value: object, date: str | None) -> None:
    assert parse_date(value) == date


def test_date_like_needs_a_time_name_for_bare_numbers() -> None:
    assert date_like("2025-12-31 19:35:10") and date_like("二〇二五年十二月三十一日")
    assert date_like(1767180910, "updated_at") and not date_like(1767180910, "id")
    assert not date_like("2025年工作要点") and not date_like("123")


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("2024年4月3日外交部发言人汪文斌主持例行记者会", "记者会"),
        ("国务院新闻办公室举行新闻发布会", "记者会"),
        ("在国务院新闻办新闻发布会上的讲话", "讲话"),
        ("外交部发言人就某国大选答记者问", "答记者问"),
        ("国家主席习近平发表二〇二六年新年贺词", "贺词"),
        ("在2025年新年招待会上的致辞", "致辞"),
        ("关于2019年政府工作报告的决议", "决议"),
        ("2026年上海市政府工作报告", "政府工作报告"),
        ("最高人民法院工作报告", "工作报告"),
        ("中华人民共和国网络安全法", "法律法规"),
    ],
)
def test_doc_types(title: str, kind: str) -> None:
    assert infer_doc_type(title) == kind


def test_doc_type_from_column_or_dateline() -> None:
    assert infer_doc_type("一则消息", column="例行记者会") == "记者会"
    assert infer_doc_type("全省经济工作会议在青山召开", news=True) == "新闻报道"
    assert infer_doc_type("全省经济工作会议在青山召开") is None


def test_named_fields_win_and_unused_dates_are_named(tmp_path: Path) -> None:
    records = [
        {"标题": "在全市工作会议上的讲话", "正文": "同志们：今天的会议很重要，要抓好落实。",
         "发文时间": "2024-05-06", "编辑": "李四", "updated": 1714900000},
        {"标题": "在全市经济会议上的讲话", "正文": "同志们：经济工作要稳中求进，狠抓落实。",
         "发文时间": "2024-06-07", "编辑": "李四", "updated": 1714900000},
    ]  # fmt: skip
    path = tmp_path / "speeches.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    plain = [d for d in read_corpus([path]) if isinstance(d, Document)]
    assert [d.date for d in plain] == [None, None]
    coverage = MetadataCoverage.of(plain)
    assert coverage.line() == "metadata: date 0 of 2 · speaker 0 · type 2 · region 0 · url 0"
    notes = "\n".join(coverage.notes())
    assert (
        "'发文时间' looks like a date in 2 documents" in notes and "--field date=发文时间" in notes
    )
    assert "'updated' looks like a date" in notes and "编辑" not in notes.split("fields kept")[0]

    named = {"date": "发文时间", "speaker": "作者"}
    dated = [d for d in read_corpus([path], fields=named) if isinstance(d, Document)]
    assert [d.date for d in dated] == ["2024-05-06", "2024-06-07"]
    assert dated[0].provenance["date"] == "field:发文时间"
    coverage = MetadataCoverage.of(dated, named)
    assert coverage.found["date"] == 2
    assert coverage.notes()[0] == "--field speaker=作者: no document has a field named '作者'"


def test_news_rules_take_nothing_but_desk_marks_from_the_demo(
    national_records: dict[str, dict], provincial_rows: dict[str, dict], scraped_raw: str
) -> None:
    """The reports and the scraped speech have no datelines or site footers; the desk marks
    among them are two provincial pages' editor lines."""
    raws = [r["content"] for r in national_records.values()]
    raws += [r["full_text"] for r in provincial_rows.values()] + [scraped_raw]
    news_rules = {"strip_datelines", "strip_news_furniture", "strip_site_footer"}
    taken = [(rule, s) for raw in raws for rule, s in clean_text(raw).removed if rule in news_rules]
    assert sorted(taken) == [
        ("strip_news_furniture", "编辑：何继红"),
        ("strip_news_furniture", "责任编辑： 李莎莎"),
    ]
