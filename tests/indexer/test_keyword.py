"""KeywordIndex on the real national and provincial government work reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from indexer.filtering import Scope
from indexer.keyword import STOP_WORDS, KeywordIndex, tokenize
from indexer.textnorm import normalize_for_match
from tests.indexer.conftest import CORPUS, Row, containing

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")


def test_build_reports_progress(rows: list[Row]) -> None:
    texts = [r.text for r in rows[:2500]]
    seen: list[int] = []
    index = KeywordIndex.build(texts, progress=seen.append)
    assert len(index) == 2500
    assert seen == sorted(seen) and seen[-1] == 2500


def test_subword_of_policy_compound_matches(index: KeywordIndex, rows: list[Row]) -> None:
    # passages index search-mode sub-words, so 成果转化 reaches 科技成果转化
    assert index.query_terms("成果转化") == ["成果", "转化"]
    compound = containing(rows, "科技成果转化")
    assert compound.sum() > 10
    assert (index.scores(index.query_terms("成果转化"))[compound] > 0).all()


@pytest.mark.parametrize("term", ["新质生产力", "专精特新", "营商环境", "冰雪经济"])
def test_policy_terms_stay_matchable(index: KeywordIndex, rows: list[Row], term: str) -> None:
    has_term = containing(rows, term)
    assert has_term.sum() >= 5
    assert (index.scores(index.query_terms(term))[has_term] > 0).all()
    found = index.search(index.query_terms(term), 5).rows
    assert has_term[found[0]]


def test_question_words_only_search_nothing(index: KeywordIndex) -> None:
    for query in ["哪些", "是什么？", "如何", ""]:
        assert index.query_terms(query) == []
        assert not index.scores(index.query_terms(query)).any()
        found_ = index.search(index.query_terms(query), 10)
        found, scores = found_.rows, found_.scores
        assert found.size == 0 and scores.size == 0
        assert index.max_score(index.query_terms(query)) == 0.0


def test_question_framing_is_not_searched(index: KeywordIndex) -> None:
    terms = index.query_terms("哪些省份提出新建省级概念验证中心")
    assert not STOP_WORDS & set(terms)
    assert {"省份", "概念", "验证", "中心"} <= set(terms)


def test_traditional_text_tokenises_like_simplified(rows: list[Row]) -> None:
    report_1954 = [r.text for r in rows if r.source == "1954"]
    assert any("第一個五年計劃" in t for t in report_1954)
    for text in report_1954:
        simplified = normalize_for_match(text)
        assert tokenize(text) == tokenize(simplified)


def test_simplified_query_finds_1954_report(index: KeywordIndex, rows: list[Row]) -> None:
    found = index.search(index.query_terms("社会主义工业化"), 10).rows
    assert rows[found[0]].source == "1954"
    found = index.search(index.query_terms("宪法草案"), 10).rows
    assert [rows[i].source for i in found[:2]] == ["1954", "1954"]
    plan = np.array(["第一個五年計劃" in r.text for r in rows])
    assert (index.scores(index.query_terms("第一个五年计划"))[plan] > 0).all()


def test_full_width_digits_match_half_width(index: KeywordIndex, rows: list[Row]) -> None:
    full_width = np.array(["１９５５" in r.text for r in rows])
    assert full_width.sum() > 10
    assert (index.scores(index.query_terms("1955"))[full_width] > 0).all()
    assert (index.scores(index.query_terms("１９５５"))[full_width] > 0).all()


def test_chinese_numeral_years_match_digits(index: KeywordIndex, rows: list[Row]) -> None:
    # the 1950s-80s reports write years as 一九五五年
    numeral = np.array(["一九五五" in r.text and "1955" not in r.text for r in rows])
    assert numeral.sum() > 5
    assert (index.scores(index.query_terms("1955"))[numeral] > 0).all()


def test_numbers_and_percentages_are_terms(index: KeywordIndex, rows: list[Row]) -> None:
    assert index.query_terms("增长13.2%") == ["增长", "13.2"]
    found = index.search(index.query_terms("冰雪经济 13.2%"), 10).rows
    assert any("冰雪经济总产出增长13.2%" in rows[i].text for i in found)
    # 13.2 must not match inside 113.25 or 13.25
    boundary = re.compile(r"(?<![0-9.])13\.2(?![0-9])")
    hits = index.scores(index.query_terms("13.2")) > 0
    assert hits.any()
    assert all(boundary.search(normalize_for_match(rows[i].text)) for i in np.flatnonzero(hits))


def test_search_is_ranked_topk_of_scores(index: KeywordIndex) -> None:
    query = "科技创新 人才"
    scores = index.scores(index.query_terms(query))
    assert scores.dtype == np.float32 and scores.shape == (len(index),)
    found_ = index.search(index.query_terms(query), 25)
    found, top = found_.rows, found_.scores
    assert len(found) == 25
    assert np.array_equal(top, scores[found])
    assert (np.diff(top) <= 0).all() and (top > 0).all()
    assert top[-1] >= np.sort(scores)[-25]


def test_ties_are_broken_by_row(index: KeywordIndex) -> None:
    # equally long passages with the same term counts score the same
    scores = index.scores(index.query_terms("改革"))
    order = np.lexsort((np.arange(len(scores)), -scores))
    values, starts, sizes = np.unique(-scores[order], return_index=True, return_counts=True)
    largest = np.argmax(np.where(values < 0, sizes, 0))
    assert sizes[largest] >= 4
    k = int(starts[largest] + sizes[largest] // 2)  # cut through the middle of the tie
    found = index.search(index.query_terms("改革"), k).rows
    assert np.array_equal(found, order[:k])


def test_search_returns_fewer_when_fewer_match(index: KeywordIndex) -> None:
    n_matching = int((index.scores(index.query_terms("定股定息")) > 0).sum())
    found_ = index.search(index.query_terms("定股定息"), n_matching + 50)
    found, scores = found_.rows, found_.scores
    assert len(found) == n_matching and (scores > 0).all()


def test_mask_filters_before_top_k(index: KeywordIndex, rows: list[Row]) -> None:
    query = "数字经济"
    zhejiang = np.array([r.source == "浙江省" for r in rows])
    unfiltered = index.search(index.query_terms(query), 10).rows
    assert zhejiang[unfiltered].sum() < 10  # filtering the unfiltered top 10 would come up short
    scores = index.scores(index.query_terms(query))
    expected = np.flatnonzero(zhejiang & (scores > 0))
    assert len(expected) >= 10
    found_ = index.search(index.query_terms(query), 10, Scope(zhejiang))
    found, top = found_.rows, found_.scores
    assert len(found) == 10 and zhejiang[found].all()
    assert np.allclose(top, np.sort(scores[expected])[::-1][:10])


def test_mask_must_cover_every_passage(index: KeywordIndex) -> None:
    with pytest.raises(ValueError, match="mask"):
        index.search(index.query_terms("数字经济"), 10, Scope(np.ones(3, dtype=bool)))


def test_max_score_bounds_scores(index: KeywordIndex) -> None:
    for query in ["数字经济", "成果转化 引导基金", "个人所得税 起征点 提高", "第一个五年计划"]:
        bound = index.max_score(index.query_terms(query))
        best = float(index.scores(index.query_terms(query)).max())
        assert 0 < best <= bound
        assert best / bound > 0.3  # tight enough to be a useful normaliser


def test_out_of_vocabulary_terms_contribute_nothing(index: KeywordIndex) -> None:
    assert index.query_terms("zzyzx 数字经济") == ["数字", "经济"]
    assert np.array_equal(
        index.scores(index.query_terms("zzyzx 数字经济")),
        index.scores(index.query_terms("数字经济")),
    )
    assert index.max_score(index.query_terms("zzyzx")) == 0.0


@pytest.mark.parametrize("mmap", [False, True])
def test_save_load_round_trip(
    index: KeywordIndex, tmp_path: Path, rows: list[Row], mmap: bool
) -> None:
    index.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw", mmap=mmap)
    assert len(loaded) == len(index) == len(rows)
    for query in ["社会主义工业化", "冰雪经济 13.2%", "新质生产力", "哪些", "zzyzx"]:
        assert loaded.query_terms(query) == index.query_terms(query)
        assert np.array_equal(
            loaded.scores(loaded.query_terms(query)), index.scores(index.query_terms(query))
        )
        assert loaded.max_score(loaded.query_terms(query)) == index.max_score(
            index.query_terms(query)
        )
        got, want = (
            loaded.search(loaded.query_terms(query), 20),
            index.search(index.query_terms(query), 20),
        )
        assert np.array_equal(got.rows, want.rows)
        assert np.array_equal(got.scores, want.scores)


def test_load_refuses_other_tokenizer(index: KeywordIndex, tmp_path: Path) -> None:
    index.save(tmp_path)
    meta_path = tmp_path / "keyword.json"
    meta = json.loads(meta_path.read_text())
    meta["tokenizer"]["version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="rebuild"):
        KeywordIndex.load(tmp_path)


def test_rjieba_segments_like_jieba(rows: list[Row]) -> None:
    # the index does not record which segmenter built it: both must agree
    rjieba = pytest.importorskip("rjieba")
    import jieba

    runs = {
        run
        for r in rows[::10]
        for run in re.findall(r"[\u4e00-\u9fff]+", normalize_for_match(r.text))
    }
    for run in runs:
        assert rjieba.cut_for_search(run, False) == jieba.lcut_for_search(run, HMM=False)
        assert rjieba.cut(run, False) == jieba.lcut(run, HMM=False)


def test_feedback_terms_add_their_weighted_scores(index: KeywordIndex) -> None:
    query = "农民 负担"
    feedback = {"农业税": 0.3, "交税": 0.2, "zzyzx": 1.0}  # an unknown word adds nothing
    want = (
        index.scores(index.query_terms(query)).astype(np.float64)
        + 0.3 * index.scores(index.query_terms("农业税"))
        + 0.2 * index.scores(index.query_terms("交税"))
    )
    got = index.scores(index.query_terms(query), feedback)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    bound = index.max_score(index.query_terms(query), feedback)
    assert bound == pytest.approx(
        index.max_score(index.query_terms(query))
        + 0.3 * index.max_score(index.query_terms("农业税"))
        + 0.2 * index.max_score(index.query_terms("交税"))
    )
    assert float(got.max()) <= bound
    found_ = index.search(index.query_terms(query), 20, feedback=feedback)
    rows, scores = found_.rows, found_.scores
    assert np.array_equal(scores, np.sort(got)[::-1][:20].astype(scores.dtype))
    assert (index.scores(index.query_terms("农业税"))[rows] > 0).any(), (
        "feedback words bring in their passages"
    )
