"""Query syntax: quoted phrases and -exclusions, parsed and matched (no model needed)."""

from __future__ import annotations

import pytest

from indexer.query import ParsedQuery, PassageText, parse_query


@pytest.mark.parametrize(
    ("query", "text", "phrases", "excluded"),
    [
        ('"新质生产力" 发展', "新质生产力 发展", ("新质生产力",), ()),
        ("成果转化 “科技創新”", "成果转化 科技創新", ("科技创新",), ()),  # IME quotes, folded
        ("「数字经济」", "数字经济", ("数字经济",), ()),
        ("成果转化 -房地产", "成果转化", (), ("房地产",)),
        ('住房 -"房地产 市场"', "住房", (), ("房地产市场",)),  # a typed space is no text
        ("2020-2025 a-b", "2020-2025 a-b", (), ()),  # a hyphen inside a word is text
        ("养老 - 服务", "养老 - 服务", (), ()),  # and so is a lone one
        ('"New  Quality" 发展', "New Quality 发展", ("new quality",), ()),
        ('"重复" "重复" 词', "重复 重复 词", ("重复",), ()),
    ],
)
def test_phrases_and_exclusions_are_read(
    query: str, text: str, phrases: tuple[str, ...], excluded: tuple[str, ...]
) -> None:
    parsed = parse_query(query)
    assert (parsed.text, parsed.phrases, parsed.excluded) == (text, phrases, excluded)
    assert parsed.restricts == bool(phrases or excluded)


def test_words_outside_quotes_are_kept_apart() -> None:
    assert parse_query('"新质生产力" 发展').free == "发展"
    assert parse_query("成果转化 措施").free == "成果转化 措施"


@pytest.mark.parametrize(
    ("query", "text", "phrases", "says"),
    [
        ('"新质生产力 发展', "新质生产力 发展", ("新质生产力发展",), 'the closing " is missing'),
        ("“新质生产力", "新质生产力", ("新质生产力",), "the closing ” is missing"),
        ("新质生产力” 发展", "新质生产力 发展", (), "a closing ” without an opening quote"),
        ('"" 发展', "发展", (), "empty quotes were ignored"),
        ("-房地产", "", (), "-word only excludes"),
        ('-"房地产"', "", (), "-word only excludes"),
    ],
)
def test_malformed_queries_are_repaired_and_say_how(
    query: str, text: str, phrases: tuple[str, ...], says: str
) -> None:
    parsed = parse_query(query)  # a query is never refused: what was read is said
    assert (parsed.text, parsed.phrases) == (text, phrases)
    assert any(says in note for note in parsed.notes), parsed.notes
    assert parse_query('"新质生产力" 发展').notes == ()


def _scan(texts: list[str]) -> PassageText:
    return PassageText(lambda: enumerate(texts), len(texts))


def test_phrases_match_folded_text_and_never_across_passages() -> None:
    scan = _scan(["加快發展新質生產力。", "发展新质", "生产力提升", "ＧＤＰ增长目标", "新质生产力"])
    assert scan.containing("新质生产力").tolist() == [True, False, False, False, True]
    assert scan.containing("gdp增长").tolist() == [False, False, False, True, False]
    assert not scan.containing("新质生产力提升").any(), "passage 2 and 3 are not one text"


def test_mask_requires_every_phrase_and_no_exclusion() -> None:
    scan = _scan(["数字经济和人工智能", "数字经济", "人工智能", "数字经济 房地产"])
    both = ParsedQuery("x", phrases=("数字经济", "人工智能"))
    assert scan.mask(both).tolist() == [True, False, False, False]
    minus = ParsedQuery("x", phrases=("数字经济",), excluded=("房地产",))
    assert scan.mask(minus).tolist() == [True, True, False, False]
    assert scan.mask(ParsedQuery("x")) is None, "plain queries pay nothing"
