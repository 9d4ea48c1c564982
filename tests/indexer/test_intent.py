"""Filters read from the question: what becomes a filter, and what stays text (precision first)."""

from __future__ import annotations

import pytest

from corpus.metadata import PROVINCES
from indexer.intent import IntentReader

READER = IntentReader(
    [*PROVINCES, "全国"],
    ["汪文斌", "李克强", "李强"],
    ["政府工作报告", "讲话", "记者会", "决议"],
    range(1954, 2027),
)


@pytest.mark.parametrize(
    ("query", "searched", "filters"),
    [
        ("2019年 浙江 数字经济", "数字经济", {"year": 2019, "region": "浙江省"}),
        ("2019 减税降费", "减税降费", {"year": 2019}),
        (
            "广东省政府工作报告 营商环境",
            "营商环境",
            {"region": "广东省", "doc_type": "政府工作报告"},
        ),
        ("2019年政府工作报告 就业", "就业", {"year": 2019, "doc_type": "政府工作报告"}),
        ("汪文斌 芯片 出口管制", "芯片 出口管制", {"speaker": "汪文斌"}),
        ("2015—2020年 脱贫攻坚", "脱贫攻坚", {"year_from": 2015, "year_to": 2020}),
        ("2015年至2020年 脱贫攻坚", "脱贫攻坚", {"year_from": 2015, "year_to": 2020}),
        ("2018年以来 营商环境", "营商环境", {"year_from": 2018}),
        ("广西 北部湾", "北部湾", {"region": "广西壮族自治区"}),
        ("内蒙古 草原", "草原", {"region": "内蒙古自治区"}),
        ("记者会 芯片", "芯片", {"doc_type": "记者会"}),
    ],
)
def test_filters_typed_into_the_query(query: str, searched: str, filters: dict) -> None:
    intent = READER.read(query)
    assert (intent.query, intent.filters()) == (searched, filters)
    assert all(u.text in query for u in intent.understood)


@pytest.mark.parametrize(
    "query",
    [
        "补贴 2300元",  # an amount, not a year
        "5G 基站",
        "十四五 规划",
        '"2019年" 减税',  # a year in quotes is a phrase
        "到2035年基本实现社会主义现代化",  # a target year inside a sentence
        "浙江",  # the whole query: nothing would be left to search
        "全国 就业",  # 全国 is a topic word
        "2999年 规划",  # no document of that year
        "政府工作报告哪一年提出抓好青少年近视防治",  # a type inside a question
        "十四届全国人大二次会议关于政府工作报告的决议对发展新质生产力提出了什么要求",
        "李克强在会上的讲话 就业",  # a name inside a longer word
    ],
)
def test_what_stays_text(query: str) -> None:
    intent = READER.read(query)
    assert intent.understood == () and intent.query == query.strip()


def test_a_region_inside_a_phrase_is_searched_and_said_so() -> None:
    intent = READER.read("对口支援西藏 工作")
    assert intent.understood == () and intent.query == "对口支援西藏 工作"
    assert intent.notes == ("西藏 is searched as a word, not used as a region filter",)


def test_one_value_per_field() -> None:
    intent = READER.read("浙江 江苏 数字经济")  # two regions: the first is the filter
    assert intent.filters() == {"region": "浙江省"} and intent.query == "江苏 数字经济"


@pytest.mark.parametrize(
    ("query", "year"),
    [("1975年政府工作报告提出的两步设想", 1975), ("1958年的报告提出扫除文盲", 1958)],
)
def test_the_year_a_question_names_its_report_by_is_a_boost(query: str, year: int) -> None:
    """Later reports restate what the question asks: rank that year first, remove nothing."""
    intent = READER.read(query)
    assert intent.query == query and intent.filters() == {} and intent.boosts() == {"year": year}
    assert [u.text for u in intent.understood] == [f"{year}年"]
