"""Trends, comparison and similar passages on the real test index, checked independently."""

from __future__ import annotations

import pytest

from indexer.embed import Embedder
from indexer.live import LiveIndex
from indexer.research.compare import compare
from indexer.research.schemas import CompareParams, TrendParams
from indexer.research.similar import similar
from indexer.research.trends import trends
from indexer.schemas import SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.textnorm import normalize_for_match
from tests.conftest import PROVINCES, national_records, provincial_text

pytestmark = pytest.mark.integration  # real model, index, server or browser


@pytest.fixture(scope="module")
def searcher(index_settings: Settings, embedder: Embedder) -> Searcher:
    return LiveIndex(index_settings, embedder).get()


def _documents_per_year(term: str) -> dict[int, int]:
    """Slice documents whose own text holds ``term``, per year, read from the corpus files."""
    texts = [(int(r["year"]), str(r["content"])) for r in national_records()]
    texts += [(2026, provincial_text(p)) for p in PROVINCES]
    out: dict[int, int] = {}
    for year, text in texts:
        if term in normalize_for_match(text):
            out[year] = out.get(year, 0) + 1
    return out


@pytest.mark.parametrize("query", ["新质生产力", "改革开放", "社会主义"])
def test_trend_counts_match_the_corpus_files(searcher: Searcher, query: str) -> None:
    res = trends(searcher, TrendParams(q=query))
    found = {g.key: g.documents for g in res.groups if g.documents}
    assert found == _documents_per_year(query)
    held = {d.year for d in searcher.documents}
    assert {1954, 2019, 2025, 2026} <= held
    undated = [None] if None in held else []
    assert [g.key for g in res.groups] == [
        *range(min(held - {None}), max(held - {None}) + 1),
        *undated,
    ]
    for g in res.groups:
        if g.key in held:
            assert not g.missing and g.passages is not None and g.chars > 0
            assert g.per_100k_chars == pytest.approx(g.passages / g.chars * 100_000, abs=1e-3)
        elif g.key is not None:
            assert g.missing and g.passages is None and g.documents_total == 0, "missing, not 0"
    assert res.passages == sum(g.passages or 0 for g in res.groups)


def test_a_traditional_report_counts_for_a_simplified_term(searcher: Searcher) -> None:
    res = trends(searcher, TrendParams(q="社会主义工业化"))
    (year,) = [g for g in res.groups if g.passages]
    assert year.key == 1954 and year.documents == 1
    store = {p: t for p, t in searcher.store.passage_texts()}
    assert year.passages == sum(
        "社會主義工業化" in t or "社会主义工业化" in t for t in store.values()
    )


def test_trends_by_region_honour_filters_and_say_when_nothing_matches(searcher: Searcher) -> None:
    res = trends(searcher, TrendParams(q="新质生产力", by="region", year=2026))
    assert {g.key for g in res.groups} == set(PROVINCES)
    assert all(g.passages and g.scored is not None for g in res.groups)
    none = trends(searcher, TrendParams(q="量子纠缠农业"))
    assert none.passages == 0 and "no passage contains “量子纠缠农业”" in (none.message or "")
    repaired = trends(searcher, TrendParams(q="“新质生产力"))
    assert repaired.passages and "the closing ” is missing" in (repaired.message or "")
    assert trends(searcher, TrendParams(q="-新质生产力")).passages == 0


def test_compare_shows_each_regions_best_passage_and_who_says_nothing(searcher: Searcher) -> None:
    res = compare(searcher, CompareParams(q="海洋经济", year=2026))
    assert {r.key for r in res.rows} == set(PROVINCES)
    texts = {p: normalize_for_match(t) for p, t in searcher.store.passage_texts()}
    rows = {r.key: r for r in res.rows}
    terms = searcher.analyse("海洋经济").required
    assert terms == ["海洋经济"]  # one typed word: one term, as trends counts it
    for province in PROVINCES:
        texts_of = _texts_of(searcher, texts, province)
        says = any(all(w in t for w in terms) for t in texts_of)
        assert rows[province].says_nothing == (not says), province
    speaking = [r for r in res.rows if r.hit]
    assert speaking and all(r.hit.document.region == r.key for r in speaking)
    assert any(r.says_nothing for r in res.rows), "an inland province says nothing of the sea"
    assert [r.hit.score for r in speaking] == sorted((r.hit.score for r in speaking), reverse=True)
    # each region's shown passage is its best in a hybrid search filtered to it
    for r in speaking:
        alone = searcher.search(SearchRequest(q="海洋经济", k=1, filters={"region": r.key}))
        assert alone.hits[0].passage_id == r.hit.passage_id


def _texts_of(searcher: Searcher, texts: dict[int, str], region: str) -> list[str]:
    docs = searcher.documents
    return [t for row, t in texts.items() if docs[int(searcher.document_of(row))].region == region]


def test_similar_finds_the_paragraph_another_report_shares(searcher: Searcher) -> None:
    opening = searcher.search(
        SearchRequest(q='"向大会报告政府工作"', mode="keyword", k=5, filters={"year": 2019})
    ).hits[0]
    res = similar(searcher, opening.passage_id, k=5)
    assert res is not None and res.hits
    first = res.hits[0]
    assert first.document.year == 2025 and "向大会报告政府工作" in first.text
    assert all(h.document.doc_id != opening.document.doc_id for h in res.hits), "others only"
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    own = similar(searcher, opening.passage_id, k=20, same_document=True)
    assert own is not None and any(h.document.doc_id == opening.document.doc_id for h in own.hits)
    assert all(h.passage_id != opening.passage_id for h in own.hits), "never itself"
    assert similar(searcher, "no-such-passage") is None
