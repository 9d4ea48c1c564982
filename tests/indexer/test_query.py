"""Query syntax: quoted phrases and -exclusions, parsed and matched (no model needed).

Matching is a contract every :class:`~indexer.query.TextIndex` keeps: the local one over
text in memory and Milvus's over a collection's text fields (Milvus Lite, a real server).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from indexer.query import ParsedQuery, PassageText, TextIndex, compact_form, parse_query

Texts = Callable[[list[str]], TextIndex]
_HAS_MILVUS = importlib.util.find_spec("pymilvus") is not None


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


@pytest.fixture(scope="module")
def milvus_texts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Texts]:
    """Texts as a :class:`~indexer.milvus.text.MilvusText`: a collection of their forms."""
    from pymilvus import DataType, MilvusClient

    from indexer.milvus.text import FORMS, MilvusText, add_fields, fields_of

    uri = str(tmp_path_factory.mktemp("milvus") / "text.db")
    milvus = MilvusClient(uri)
    names = (f"texts_{i}" for i in itertools.count())

    def make(texts: list[str]) -> TextIndex:
        name = next(names)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        add_fields(schema)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        index = milvus.prepare_index_params()
        index.add_index(field_name="v", index_type="FLAT", metric_type="IP")
        milvus.create_collection(name, schema=schema, index_params=index)
        rows = [{"row": i, **fields_of(t), "v": [1.0, 0.0]} for i, t in enumerate(texts)]
        milvus.insert(name, rows)
        milvus.flush(name)
        milvus.load_collection(name)
        mean = float(np.mean([r[FORMS["match"]] for r in rows]))
        return MilvusText(milvus, uri, name, "match", len(texts), mean)

    yield make
    milvus.close()


@pytest.fixture(params=["local", "milvus"])
def texts(request: pytest.FixtureRequest) -> Texts:
    """Each :class:`TextIndex` implementation, made from a list of passages."""
    if request.param == "local":
        return lambda texts: PassageText(lambda: enumerate(texts), len(texts))
    if not _HAS_MILVUS:
        pytest.skip("pip install 'govspeech[milvus]'")
    return request.getfixturevalue("milvus_texts")


def test_phrases_match_folded_text_and_never_across_passages(texts: Texts) -> None:
    scan = texts(["加快發展新質生產力。", "发展新质", "生产力提升", "ＧＤＰ增长目标", "新质生产力"])
    assert scan.containing("新质生产力").tolist() == [True, False, False, False, True]
    assert scan.containing("gdp增长").tolist() == [False, False, False, True, False]
    assert not scan.containing("新质生产力提升").any(), "passage 2 and 3 are not one text"


def test_mask_requires_every_phrase_and_no_exclusion(texts: Texts) -> None:
    scan = texts(["数字经济和人工智能", "数字经济", "人工智能", "数字经济 房地产"])
    both = ParsedQuery("x", phrases=("数字经济", "人工智能"))
    assert scan.mask(both).tolist() == [True, False, False, False]
    minus = ParsedQuery("x", phrases=("数字经济",), excluded=("房地产",))
    assert scan.mask(minus).tolist() == [True, True, False, False]
    assert scan.mask(ParsedQuery("x")) is None, "plain queries pay nothing"


def test_postings_count_every_occurrence_of_any_character_and_say_lengths(texts: Texts) -> None:
    # characters a LIKE pattern spells specially (% _ \\ ") or not at all (a newline) are
    # matched as themselves, never as wildcards
    passages = [
        "100%增长, 100%",
        "100x增长",
        "a_b 与 a_b 与 axb",
        "路径c:\\dir",
        'say "它"',
        "一\n二",
    ]
    scan = texts(passages)
    local = PassageText(lambda: enumerate(passages), len(passages))
    for needle in ["100%", "a_b", "c:\\dir", '"它"', "一\n二", "增长", "不在", "%", "_"]:
        rows = scan.rows(needle)
        assert rows.tolist() == [i for i, p in enumerate(passages) if needle in p], needle
        assert scan.counts(needle, rows).tolist() == [passages[i].count(needle) for i in rows]
    assert scan.counts("a_b", np.array([2, 1])).tolist() == [2.0, 0.0]
    assert scan.says("a_b") and not scan.says("不在") and scan.says("c:\\dir")
    assert scan.counts("c:\\dir", np.array([3, 0])).tolist() == [1.0, 0.0]
    assert scan.lengths.tolist() == [len(p) for p in passages]
    assert scan.lengths_of(np.array([4, 0])).tolist() == [len(passages[4]), len(passages[0])]
    assert scan.mean_length == pytest.approx(local.mean_length)
    assert scan.text(3) == passages[3]
    minus = ParsedQuery("x", phrases=("100",), excluded=("100x",))
    assert scan.mask(minus).tolist() == [True, False, False, False, False, False]
    odd = ParsedQuery("x", excluded=("c:\\dir",))  # one ``like`` cannot spell: one by one
    assert scan.mask(odd).tolist() == [True, True, True, False, True, True]


def test_the_compact_form_drops_punctuation_and_spaces() -> None:
    scan = PassageText(lambda: enumerate(["加快，发展 新质生产力！"]), 1, compact_form)
    assert scan.text(0) == "加快发展新质生产力"
    assert scan.rows("发展新质").tolist() == [0]
