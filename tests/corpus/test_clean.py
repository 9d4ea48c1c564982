"""Each cleaning rule on the real text that needed it: the noise goes, the speech stays."""

from __future__ import annotations

import re

import pytest

from corpus import RULES, clean_text
from corpus.clean import join_broken_lines, tidy_whitespace

R2025 = "2025年中华人民共和国国务院政府工作报告"
RES2025 = "第十四届全国人民代表大会第三次会议关于政府工作报告的决议"


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _rules_named(result, rule: str) -> list[str]:
    return [snippet for name, snippet in result.removed if name == rule]


# --------------------------------------------------------------- national reports


def test_wikisource_footer_removed_and_last_paragraph_kept(national_records):
    raw = national_records[R2025]["content"]
    result = clean_text(raw)
    assert "Public domain" in raw and "本作品是中华人民共和国的" in raw
    assert "本作品" not in result.text and "Public domain" not in result.text
    assert "维基文库" not in result.text
    assert result.text.endswith("为以中国式现代化全面推进强国建设、民族复兴伟业不懈奋斗！")
    assert any("公有领域" in s for s in _rules_named(result, "strip_wikisource_footer"))


def test_wikisource_footer_gone_from_every_record(national_records):
    for title, rec in national_records.items():
        text = clean_text(rec["content"]).text
        for noise in ("Public domain", "公有领域", "本模板所指的决定"):
            assert noise not in text, (title, noise)


def test_wiki_link_breaks_rejoined(national_records):
    """ "所作的\\n政府工作报告\\n。" was a wiki link; it is one sentence again."""
    raw = national_records[RES2025]["content"]
    assert "所作的\n政府工作报告\n。" in raw
    text = clean_text(raw).text
    assert "听取和审议了国务院总理李强所作的政府工作报告。会议充分肯定国务院过去一年的工作" in text
    assert len(_lines(text)) == 2  # its two paragraphs, nothing else


def test_wiki_link_breaks_in_traditional_1954_report(national_records):
    rec = national_records["1954年中华人民共和国国务院政府工作报告"]
    text = clean_text(rec["content"]).text
    # traditional characters are kept as they are
    assert "在聽了劉少奇同志關於憲法草案的報告並進行了三天的討論以後" in text
    assert "通過了我們國家的根本法——中華人民共和國憲法，接着" in text


def test_headings_and_sentence_ends_stay_separate_lines(national_records):
    text = clean_text(national_records[R2025]["content"]).text
    lines = _lines(text)
    assert lines[0] == "各位代表："
    assert "一、2024年工作回顾" in lines
    assert "二、2025年经济社会发展总体要求和政策取向" in lines
    # a bold lead sentence ending in 。 keeps its own line in the 2011 report
    lines_2011 = _lines(
        clean_text(national_records["2011年中华人民共和国国务院政府工作报告"]["content"]).text
    )
    assert "一是必须坚持科学发展。" in lines_2011


def test_zero_width_line_inside_a_word(national_records):
    """2017: "改\\n\\u200b\\n革" — the zero-width line must not split 改革 into two paragraphs."""
    raw = national_records["2017年中华人民共和国国务院政府工作报告"]["content"]
    assert "改\n\u200b\n革" in raw
    result = clean_text(raw)
    assert "\u200b" not in result.text
    assert "要全面深化各领域改革，加" in result.text
    assert _rules_named(result, "strip_zero_width") == ["33 zero-width character(s)"]


def test_ideographic_space_indentation(national_records):
    raw = national_records["第二届全国人民代表大会第三次会议关于政府工作报告的决议"]["content"]
    assert "\n\u3000\u3000会议决定批准周恩来总理所作的政府工作报告。" in raw
    lines = _lines(clean_text(raw).text)
    assert "会议决定批准周恩来总理所作的政府工作报告。" in lines
    assert not any(line != line.strip() or "\u3000" in line for line in lines)


def test_fullwidth_digits_folded_punctuation_kept(national_records):
    raw = national_records["2002年中华人民共和国国务院政府工作报告"]["content"]
    assert "比上年增长７．３％。" in raw
    text = clean_text(raw).text
    assert "国内生产总值达到95933亿元，比上年增长7.3%。" in text
    assert not re.search("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", text)
    assert "，" in text and "；" in text and "“" in text  # Chinese punctuation untouched


def test_spaced_out_digits_closed_up(national_records):
    raw = national_records["1998年中华人民共和国国务院政府工作报告"]["content"]
    assert "1 9 9 3 年3 月" in raw
    assert "本届政府从1993年3月就职，到现在已经五年了" in clean_text(raw).text


# --------------------------------------------------------------- provincial pages


def test_toolbar_removed(provincial_rows):
    raw = provincial_rows["上海市"]["full_text"]
    assert raw.startswith("下载\n打印\n全屏\n收藏\n【字号：\n加大\n还原\n减小\n】")
    result = clean_text(raw)
    lines = _lines(result.text)
    assert lines[:4] == [
        "2026年上海市政府工作报告",
        "——2026年2月3日在上海市第十六届人民代表大会第四次会议上",
        "上海市市长 龚 正",
        "各位代表：",
    ]
    assert "下载\n打印\n全屏\n收藏" in _rules_named(result, "strip_web_toolbar")
    # a font-size picker with single-character buttons (大/中/小) goes too
    yunnan = clean_text(provincial_rows["云南省"]["full_text"]).text
    assert "【字体" not in yunnan and not {"大", "中", "小", "】"} & set(_lines(yunnan))


def test_breadcrumb_removed(provincial_rows, scraped_raw):
    yunnan = clean_text(provincial_rows["云南省"]["full_text"])
    assert _rules_named(yunnan, "strip_breadcrumb") == ["您的位置:\n首页\n>\n云南要闻\n云南要闻"]
    assert _lines(yunnan.text)[0] == "2026年政府工作报告"
    ningxia = clean_text(provincial_rows["宁夏回族自治区"]["full_text"]).text
    assert "当前位置" not in ningxia and "宁夏要闻" not in ningxia
    assert _lines(ningxia)[0] == "2026年宁夏回族自治区政府工作报告"
    # 陕西: crumb without a label ("首页\n>\n政府信息公开\n>…")
    shaanxi = clean_text(provincial_rows["陕西省"]["full_text"]).text
    assert "政府信息公开" not in shaanxi and "首页" not in _lines(shaanxi)
    scraped = clean_text(scraped_raw).text
    assert "新文秘网" not in scraped and "您的位置" not in scraped


def test_source_and_time_lines_become_metadata(provincial_rows, scraped_raw):
    shanghai = clean_text(provincial_rows["上海市"]["full_text"])
    assert shanghai.metadata == {"source_org": "解放日报", "date": "2026-02-09"}
    assert not any(re.match(r"(来源|时间)[:：]", line) for line in _lines(shanghai.text))
    # label and value on two lines, bare timestamp line
    sichuan = clean_text(provincial_rows["四川省"]["full_text"])
    assert sichuan.metadata == {"date": "2026-02-10", "source_org": "四川日报"}
    assert "四川日报" not in _lines(sichuan.text)[:5]
    ningxia = clean_text(provincial_rows["宁夏回族自治区"]["full_text"])
    assert ningxia.metadata == {"date": "2026-02-09", "source_org": "宁夏日报客户端"}
    assert "阅读量" not in ningxia.text
    scraped = clean_text(scraped_raw)
    assert scraped.metadata == {"date": "2025-07-16"}
    assert "发表时间" not in scraped.text


def test_photo_captions_removed_bylines_kept(provincial_rows):
    beijing = _lines(clean_text(provincial_rows["北京市"]["full_text"]).text)
    assert "殷勇同志作政府工作报告。本报记者 戴冰摄" not in beijing
    assert beijing[2:4] == ["北京市市长 殷勇", "各位代表："]
    tianjin = _lines(clean_text(provincial_rows["天津市"]["full_text"]).text)
    assert "张工作政府工作报告。" not in tianjin and "天津市市长 张工" in tianjin
    gansu = clean_text(provincial_rows["甘肃省"]["full_text"])
    assert "盛学卿" not in gansu.text and "甘肃省省长 任振鹤" in _lines(gansu.text)
    assert _rules_named(gansu, "strip_photo_captions") == [
        "任振鹤作政府工作报告。新甘肃·甘肃日报记者 盛学卿"
    ]
    guizhou = _lines(clean_text(provincial_rows["贵州省"]["full_text"]).text)
    assert guizhou[0] == "政府工作报告" and "李森" not in "".join(guizhou)


def test_web_tail_cut_content_before_it_kept(provincial_rows):
    shanghai = clean_text(provincial_rows["上海市"]["full_text"])
    assert "相关报道" not in shanghai.text
    assert shanghai.text.endswith("为中国式现代化建设作出新的更大贡献！")
    # 四川: editor credit, related links, print widgets and a repeated header after the glossary
    sichuan = clean_text(provincial_rows["四川省"]["full_text"])
    for noise in ("责任编辑", "李莎莎", "相关附件", "abcd39f1fb7f426d9dfb6bd0fa1f2146", "打印本页"):
        assert noise not in sichuan.text
    assert _lines(sichuan.text)[-1].startswith("20.“一件事”全链条专项整治：")
    assert "名词解释" in _lines(sichuan.text)
    # 青海: "（来源：青海日报）\n编辑：何继红"
    qinghai = clean_text(provincial_rows["青海省"]["full_text"])
    assert "何继红" not in qinghai.text and "（来源" not in qinghai.text
    assert qinghai.text.endswith("为谱写中国式现代化青海篇章不懈奋斗！")
    # 云南: "》》点击图片进入专题《《", share widget, "相关文档："
    yunnan = clean_text(provincial_rows["云南省"]["full_text"]).text
    assert "点击图片" not in yunnan and "分享到" not in yunnan and "相关文档" not in yunnan


def test_repeated_head_lines_dropped(provincial_rows):
    shaanxi = _lines(clean_text(provincial_rows["陕西省"]["full_text"]).text)
    assert shaanxi[:3] == [
        "陕西省2026年政府工作报告",
        "2026年1月27日在陕西省第十四届人民代表大会第四次会议上 陕西省省长 赵刚",
        "各位代表：",
    ]


def test_scraped_line_breaks_rejoined(provincial_rows):
    guangdong = clean_text(provincial_rows["广东省"]["full_text"]).text
    lines = _lines(guangdong)
    # bold span on its own line: "…发展的\n主要目标\n是：…"
    assert any(
        line.startswith("“十五五”时期经济社会发展的主要目标是：地区生产总值年均增长5%左右")
        for line in lines
    )
    assert (
        "中央生态环境保护督察整改取得明显成效，PM2.5年平均浓度保持在20微克/立方米左右" in guangdong
    )
    # a byline wrapped by the page
    assert "——2026年1月26日在广东省第十四届人民代表大会第五次会议上" in lines
    # a heading whose bracket was cut off onto the line before
    yunnan = _lines(clean_text(provincial_rows["云南省"]["full_text"]).text)
    assert "（三）改革开放持续深化、互促共进。" in yunnan
    # link text on its own line inside a glossary entry
    sichuan = clean_text(provincial_rows["四川省"]["full_text"]).text
    assert "7.“双向揭榜挂帅”：企业找技术、成果找市场“双向揭榜挂帅”的简称，其中" in sichuan
    assert "由技术供给方带团队、带技术揭榜；“成果找市场”" in sichuan
    # a sentence broken after a comma
    tianjin = clean_text(provincial_rows["天津市"]["full_text"]).text
    assert "中国电子增资麒麟软件，协和天津基地建设顺利推进" in tianjin


def test_numbered_headings_not_glued_to_paragraphs(provincial_rows):
    lines = _lines(clean_text(provincial_rows["北京市"]["full_text"]).text)
    heading = "（九）推动减污降碳扩绿协同增效，建设人与自然和谐共生的美丽北京"
    assert heading in lines
    assert lines[lines.index(heading) + 1].startswith("坚持绿水青山就是金山银山的发展理念")


# ------------------------------------------------------------------ scraped speech


def test_outline_removed_headings_kept_once(scraped_raw):
    result = clean_text(scraped_raw)
    heading = "一、深刻认识高端装备产学研合作的重大战略意义"
    assert scraped_raw.count(heading) == 2
    assert result.text.count(heading) == 1
    assert "目录/提纲" not in result.text
    assert _lines(result.text)[:2] == ["在全市高端装备产学研合作推进会议上的讲话", "同志们:"]
    assert _rules_named(result, "strip_outline")[0].startswith("目录/提纲:……\n一、")


def test_paywall_notes_removed_surrounding_text_kept(scraped_raw):
    result = clean_text(scraped_raw)
    text = result.text
    for noise in ("省略991字", "正式会员可完整阅读", "未完", "当前仅显示2783字", "wm114"):
        assert noise not in text
    lines = _lines(text)
    # text on both sides of the cut survives, as separate paragraphs (they are not contiguous)
    assert any(line.endswith("高端装备产业正朝着智能化、精密化") for line in lines)
    assert any(line.startswith(",整合研发平台个、人才团队个。") for line in lines)
    assert lines[-1].endswith("%反映“高校更关注论文发表,对企业实际需求重视不够”;%的高校教师认")
    # digits the site masked as * stay
    assert "刚才,*县、*区政府和市科技局、*集团分别作了汇报发言" in text
    assert len(_rules_named(result, "strip_paywall_notes")) == 2


# -------------------------------------------------------------------------- laws


def test_html_comments_removed_from_law_markdown(shared_corpus):
    raw = (shared_corpus / "laws" / "宪法" / "宪法.md").read_text(encoding="utf-8")
    assert "<!-- INFO END -->" in raw
    result = clean_text(raw)
    assert "<!--" not in result.text and "INFO END" not in result.text
    assert ("strip_html_comments", "<!-- INFO END -->") in result.removed
    lines = _lines(result.text)
    # promulgation lines before the marker and the articles after it both survive
    assert "1982年12月4日 第五届全国人民代表大会第五次会议通过" in lines
    assert "## 第一章 总纲" in lines


# -------------------------------------------------------------------- invariants


def test_output_contract_on_all_demo_texts(national_records, provincial_rows, scraped_raw):
    raws = [r["content"] for r in national_records.values()]
    raws += [r["full_text"] for r in provincial_rows.values()]
    raws.append(scraped_raw)
    # as whole lines: "相关报道总点击量超610亿次" is real text in the 广东 report
    noise = (
        "【字号",
        "【字体",
        "您的位置",
        "当前位置",
        "相关报道",
        "扫一扫",
        "分享到",
        "打印本页",
        "Public",
    )
    for raw in raws:
        text = clean_text(raw).text
        lines = _lines(text)
        assert all(line and line == line.strip() for line in lines)
        assert "\u3000" not in text and "\u200b" not in text and "\r" not in text
        assert not [line for line in lines if line.startswith(noise)]


def test_every_rule_has_a_docstring_and_runs_in_order():
    assert [r.__name__ for r in RULES][-2:] == [
        join_broken_lines.__name__,
        tidy_whitespace.__name__,
    ]
    for rule in RULES:
        assert rule.__doc__ and len(rule.__doc__.strip()) > 30, rule.__name__


def test_rules_can_be_chosen(provincial_rows):
    raw = provincial_rows["上海市"]["full_text"]
    only_tidy = clean_text(raw, rules=[tidy_whitespace])
    assert only_tidy.text.startswith("下载\n打印") and only_tidy.removed == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "下载 打印 全屏 收藏 【字号：加大 还原 减小】\n各位代表：\n现在报告工作。",
            "各位代表：\n现在报告工作。",
        ),
        ("第一行\r\n第二行。\r\n", "第一行\n第二行。"),
    ],
)
def test_small_inputs(raw, expected):
    assert clean_text(raw).text == expected
