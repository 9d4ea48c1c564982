"""Exact terms through the searcher, on the real slice: every passage that uses a term is found,
totals are true, a one-term query's first page says it, and trends and compare agree."""

from __future__ import annotations

import re

import numpy as np
import pytest

from indexer.live import LiveIndex
from indexer.research.compare import compare
from indexer.research.schemas import CompareParams, TrendParams
from indexer.research.trends import trends
from indexer.schemas import MAX_HITS, MAX_K, SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.textnorm import normalize_for_match

pytestmark = pytest.mark.integration  # real model, index, server or browser

#: In the slice, each stands mostly inside a longer word (全国人民代表大会, 人大常委会 …)
#: or is scattered by the segmenter (新 / 质 / 生产力, 碳 / 达 / 峰).
TERMS = ["代表大会", "人民代表", "常委会", "新质生产力", "碳达峰", "营商环境"]


@pytest.fixture(scope="module")
def searcher(index_settings: Settings, embedder) -> Searcher:
    return LiveIndex(index_settings, embedder).get()


@pytest.fixture(scope="module")
def texts(searcher: Searcher) -> list[str]:
    return [normalize_for_match(t) for _, t in searcher.store.passage_texts()]


def _rows(searcher: Searcher, q: str, mode: str) -> tuple[list[int], int, bool]:
    rows: list[int] = []
    for offset in range(0, MAX_HITS, MAX_K):
        res = searcher.search(SearchRequest(q=q, mode=mode, k=MAX_K, offset=offset, collapse=False))
        rows += [searcher.store.passage_row(h.passage_id) for h in res.hits]
        if len(res.hits) < MAX_K:
            break
    return rows, res.total, res.total_capped


@pytest.mark.parametrize("term", TERMS)
def test_keyword_hits_are_exactly_the_passages_that_contain_the_term(
    searcher: Searcher, texts: list[str], term: str
) -> None:
    truth = {i for i, t in enumerate(texts) if term in t}
    assert len(truth) >= 3, term
    rows, total, capped = _rows(searcher, term, "keyword")
    assert total == len(truth) and capped == (len(truth) > MAX_HITS)
    if len(truth) <= MAX_HITS:
        assert set(rows) == truth
    else:
        assert set(rows) <= truth and len(rows) == MAX_HITS


@pytest.mark.parametrize("term", TERMS)
def test_a_one_term_query_ranks_what_says_it_first(
    searcher: Searcher, texts: list[str], term: str
) -> None:
    res = searcher.search(SearchRequest(q=term, k=10))
    says = [term in normalize_for_match(h.text) for h in res.hits]
    assert sum(says) >= min(9, sum(term in t for t in texts)), (term, says)
    assert says == sorted(says, reverse=True), "the passages that say it come first"


def test_totals_are_true_for_phrases_in_every_mode(searcher: Searcher, texts: list[str]) -> None:
    holding = sum("高质量发展" in t for t in texts)
    for mode in ("keyword", "hybrid", "dense"):
        res = searcher.search(SearchRequest(q='"高质量发展"', mode=mode, k=10, collapse=False))
        assert res.total == holding, mode
        assert res.total_capped == (holding > MAX_HITS), mode


def test_a_coinage_is_marked_whole_and_scored_as_one_term(searcher: Searcher) -> None:
    res = searcher.search(SearchRequest(q="新质生产力 产业", mode="keyword", k=20))
    assert "新质生产力" in res.terms and "新" not in res.terms and "质" not in res.terms
    for hit in res.hits:
        assert "<mark>新</mark>" not in hit.highlighted
        for m in re.finditer("<mark>([^<]*)</mark>", hit.highlighted):
            assert m.group(1) not in {"新", "质"}, hit.highlighted


def test_trends_and_compare_agree_on_who_uses_a_phrase(
    searcher: Searcher, texts: list[str]
) -> None:
    trend = trends(searcher, TrendParams(q='"代表大会"', by="region"))
    using = {g.key for g in trend.groups if g.passages}
    side = compare(searcher, CompareParams(q='"代表大会"', by="region"))
    assert {r.key for r in side.rows if not r.says_nothing} == using
    regions = [d.region for d in searcher.documents]
    rows = np.flatnonzero(["代表大会" in t for t in texts])
    assert using == {regions[int(searcher.document_of(r))] for r in rows} - {None}


def test_trends_say_when_the_filters_match_no_document(searcher: Searcher) -> None:
    res = trends(searcher, TrendParams(q="新质生产力", region="台湾省"))
    assert res.groups == [] and res.passages == 0
    assert res.message == "no document matches these filters; remove or widen a filter"
