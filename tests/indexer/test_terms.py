"""Exact terms on the real work reports: found wherever they stand, learned from the archive."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.analysis import Analyser
from indexer.exact import ExactTerms
from indexer.keyword import KeywordIndex
from indexer.query import PassageText
from indexer.terms import LearnedTerms, learn_terms
from indexer.textnorm import normalize_for_match
from tests.indexer.conftest import CORPUS, Row, containing

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")

#: Terms the segmenter keeps only inside longer words, or scatters into characters.
NESTED = ["代表大会", "人民代表大会", "营商环境", "碳达峰", "新质生产力", "常委会", "两个确立"]


@pytest.fixture(scope="module")
def text(rows: list[Row]) -> PassageText:
    return PassageText(lambda: enumerate(r.text for r in rows), len(rows))


@pytest.fixture(scope="module")
def learned(rows: list[Row]) -> tuple[LearnedTerms, dict[str, int]]:
    owners = {source: i for i, source in enumerate(dict.fromkeys(r.source for r in rows))}
    return learn_terms([r.text for r in rows], [owners[r.source] for r in rows])


@pytest.fixture(scope="module")
def analyser(
    text: PassageText, index: KeywordIndex, learned: tuple[LearnedTerms, dict[str, int]]
) -> Analyser:
    return Analyser(text.says, index, learned[0])


@pytest.mark.parametrize("term", NESTED)
def test_rows_are_every_passage_that_contains_the_term(
    text: PassageText, rows: list[Row], term: str
) -> None:
    truth = containing(rows, term)
    assert truth.sum() >= 5
    found = text.rows(term)
    assert np.array_equal(found, np.flatnonzero(truth))
    counts = [normalize_for_match(rows[i].text).count(term) for i in found]
    assert text.counts(term, found).tolist() == counts


def test_a_word_index_misses_what_exact_terms_find(
    text: PassageText, index: KeywordIndex, rows: list[Row]
) -> None:
    """The reason for exact terms: 代表大会 is not a word of 全国人民代表大会's segmentation."""
    truth = containing(rows, "代表大会")
    by_words = index.scores(["代表大会"]) > 0
    assert by_words.sum() < 0.5 * truth.sum()
    assert np.array_equal(ExactTerms(text).scores(["代表大会"]) > 0, truth)


def test_exact_scores_are_bm25_bounded_by_max_score(text: PassageText) -> None:
    exact = ExactTerms(text)
    scores = exact.scores(["营商环境", "碳达峰"])
    bound = exact.max_score(["营商环境", "碳达峰"])
    assert 0 < scores.max() <= bound
    # a rarer term weighs more: idf
    rare, common = exact.postings("碳达峰")[1].max(), exact.postings("发展")[1].max()
    assert rare > common
    assert exact.max_score(["zzyzx"]) == 0.0 and not exact.scores(["zzyzx"]).any()


def test_a_one_word_query_is_one_term(analyser: Analyser) -> None:
    for term in ["新质生产力", "营商环境", "高质量发展", "代表大会"]:
        a = analyser.analyse(term)
        assert (a.units, a.tokens, a.one_term) == ((term,), (), term)
    assert analyser.analyse("新质生产力").marked == ["新质生产力"]  # never the lone 新 of 创新


def test_several_words_keep_partial_credit_and_coinages_stay_whole(analyser: Analyser) -> None:
    """Words score on their own (营商 and 环境 both count), but a word the segmenter scatters
    into characters counts whole (碳达峰, not 碳 + 达 + 峰), with its own longer words."""
    two = analyser.analyse("营商环境 碳达峰")
    assert two.units == ("营商", "环境", "碳达峰") and two.tokens == () and two.one_term is None
    coin = analyser.analyse("新质生产力 发展")
    assert coin.units == ("新质生产力", "生产力", "发展") and not {"新", "质"} & set(coin.terms)
    quoted = analyser.analyse('"代表大会" -广东')
    assert quoted.parsed.phrases == ("代表大会",) and quoted.units == ("代表大会",)
    assert quoted.one_term is None  # the quotes already require it


def test_a_question_is_cut_into_terms(analyser: Analyser) -> None:
    a = analyser.analyse("哪些省份提出新建省级概念验证中心")
    assert {"省份", "省级", "概念", "验证", "中心"} <= set(a.units)
    assert "哪些" not in a.terms and "提出" not in a.terms
    assert a.one_term is None


def test_learned_terms_keep_a_coinage_whole_inside_a_question(
    analyser: Analyser, learned: tuple[LearnedTerms, dict[str, int]]
) -> None:
    assert "新质生产力" in learned[0].terms
    a = analyser.analyse("各地怎样发展新质生产力促进就业")
    assert "新质生产力" in a.units
    assert not {"新", "质"} & set(a.terms)


def test_numbers_and_latin_words_stay_index_terms(analyser: Analyser) -> None:
    a = analyser.analyse("冰雪经济 13.2% 5G")
    assert a.units == ("冰雪", "经济") and a.tokens == ("13.2", "5g")


def test_function_characters_are_no_coinage(analyser: Analyser) -> None:
    a = analyser.analyse("让更多农村孩子考进重点大学")
    assert "让更多" not in a.units


def test_what_the_archive_teaches(learned: tuple[LearnedTerms, dict[str, int]]) -> None:
    terms, counts = learned
    for term in ["新质生产力", "碳达峰", "专精特新", "两个确立", "营商环境", "放管服"]:
        assert term in terms, term
    # phrases around a function character, a piece always followed by the same character,
    # and sequences the segmenter already has as one word are no terms
    for phrase in ["基础上", "各方面", "比上年", "新质生产", "过程中", "社会主义"]:
        assert phrase not in terms, phrase
    assert counts["新质生产力"] >= 50
    assert terms.find("加快发展新质生产力和碳达峰") == [(4, 9), (10, 13)]
