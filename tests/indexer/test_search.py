"""The searcher on real passages: filters in every mode, context, duplicates, scores, paging."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from indexer.build import build_index
from indexer.embed import Embedder
from indexer.live import LiveIndex
from indexer.query import PassageText
from indexer.schemas import Filters, SearchRequest
from indexer.search import QueryError, Searcher
from indexer.settings import Settings
from indexer.textnorm import normalize_for_match
from tests.conftest import CORPUS, ROOT, provincial_csv, require_corpus, seeded_index

pytestmark = pytest.mark.integration  # real model, index, server or browser

MODES = ["hybrid", "dense", "keyword"]


@pytest.fixture(scope="module")
def searcher(index_settings: Settings, embedder: Embedder) -> Searcher:
    return LiveIndex(index_settings, embedder).get()


@pytest.mark.parametrize("mode", MODES)
def test_region_filter_applies_before_top_k(searcher: Searcher, mode: str) -> None:
    # a query about another province still fills k hits from inside the filter
    res = searcher.search(
        SearchRequest(q="浙江 数字经济 杭州", mode=mode, k=10, filters=Filters(region="江西"))
    )
    assert len(res.hits) == 10
    assert {h.document.region for h in res.hits} == {"江西省"}


@pytest.mark.parametrize("mode", MODES)
def test_year_filters(searcher: Searcher, mode: str) -> None:
    exact = searcher.search(
        SearchRequest(q="工业 发展", mode=mode, k=20, filters=Filters(year=1954))
    )
    assert exact.hits and {h.document.year for h in exact.hits} == {1954}
    ranged = searcher.search(
        SearchRequest(q="工业 发展", mode=mode, k=50, filters=Filters(year_from=2019, year_to=2025))
    )
    assert ranged.hits and all(2019 <= (h.document.year or 0) <= 2025 for h in ranged.hits)


@pytest.mark.parametrize("mode", MODES)
def test_doc_type_and_source_filters(searcher: Searcher, mode: str) -> None:
    speech = searcher.search(
        SearchRequest(q="成果转化", mode=mode, k=20, filters=Filters(source="000_8759e18efef570e4"))
    )
    assert speech.hits
    assert {h.document.source for h in speech.hits} == {"000_8759e18efef570e4.txt"}
    reports = searcher.search(
        SearchRequest(q="成果转化", mode=mode, k=20, filters=Filters(doc_type="政府工作报告"))
    )
    assert reports.hits and {h.document.doc_type for h in reports.hits} == {"政府工作报告"}


@pytest.mark.parametrize("mode", MODES)
def test_filter_matching_nothing_returns_nothing(searcher: Searcher, mode: str) -> None:
    res = searcher.search(SearchRequest(q="成果转化", mode=mode, filters=Filters(year=1800)))
    assert res.hits == [] and res.total == 0
    assert "filter" in (res.message or "")


def test_simplified_query_finds_the_traditional_1954_report(searcher: Searcher) -> None:
    res = searcher.search(SearchRequest(q="社会主义工业化", mode="keyword", k=5))
    assert any(h.document.year == 1954 for h in res.hits)
    hit = next(h for h in res.hits if h.document.year == 1954)
    assert "<mark>" in hit.highlighted, "simplified terms highlight traditional text"


@pytest.mark.parametrize("mode", MODES)
def test_traditional_and_full_width_queries_rank_like_simplified(
    searcher: Searcher, mode: str
) -> None:
    for folded, simplified in [
        ("科技創新　人才", "科技创新 人才"),
        ("ＧＤＰ增長目標", "GDP增长目标"),
    ]:
        a = searcher.search(SearchRequest(q=folded, mode=mode, k=10))
        b = searcher.search(SearchRequest(q=simplified, mode=mode, k=10))
        assert [h.passage_id for h in a.hits] == [h.passage_id for h in b.hits], (folded, mode)


def test_dense_search_finds_the_traditional_1954_report_from_simplified(
    searcher: Searcher,
) -> None:
    top = searcher.search(SearchRequest(q="第一个五年计划 社会主义工业化", mode="dense", k=10))
    assert any(h.document.year == 1954 for h in top.hits), [h.document.year for h in top.hits]


def test_context_returns_neighbours_in_order(searcher: Searcher) -> None:
    res = searcher.search(SearchRequest(q="成果转化 引导基金", k=1, context=2))
    hit = res.hits[0]
    assert [c.ordinal for c in hit.before] == list(
        range(hit.ordinal - len(hit.before), hit.ordinal)
    )
    assert [c.ordinal for c in hit.after] == list(
        range(hit.ordinal + 1, hit.ordinal + 1 + len(hit.after))
    )
    assert len(hit.before) + len(hit.after) >= 2


def test_keyword_scores_mean_the_same_across_queries(searcher: Searcher) -> None:
    for q in ("冰雪经济", "成果转化 引导基金", "第一个五年计划"):
        res = searcher.search(SearchRequest(q=q, mode="keyword", k=10))
        scores = [h.score for h in res.hits]
        assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    strict = searcher.search(SearchRequest(q="冰雪经济", mode="keyword", k=50, min_score=0.5))
    assert strict.hits and all(h.score >= 0.5 for h in strict.hits)


def test_bad_queries_raise_query_error(searcher: Searcher) -> None:
    for q, says in [("", "empty"), ("  \u3000", "empty"), ("字" * 1000, "at most 256")]:
        with pytest.raises(ValidationError, match=says):
            SearchRequest(q=q)
    with pytest.raises(QueryError, match="empty"):  # the searcher's own check, for callers
        searcher.search(SearchRequest.model_construct(q=" ", k=10, offset=0, mode="hybrid"))


def test_near_duplicates_are_collapsed_and_listed(
    tmp_path: Path, index_settings: Settings, embedder: Embedder
) -> None:
    require_corpus()
    folder = tmp_path / "dups"
    folder.mkdir()
    speech = CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt"
    shutil.copy(speech, folder / "speech.txt")
    shutil.copy(speech, folder / "speech-copy.txt")
    shutil.copy(provincial_csv("江西省"), folder)
    settings = seeded_index(tmp_path / "index", index_settings)  # all three are in the slice
    build_index([folder], settings, embedder=embedder)
    searcher = LiveIndex(settings, embedder).get()
    for mode in MODES:
        res = searcher.search(SearchRequest(q="成果转化 引导基金", mode=mode, k=10))
        texts = [h.text for h in res.hits]
        assert len(texts) == len(set(texts)), f"{mode}: no passage shown twice"
        top = next(h for h in res.hits if "引导基金" in h.text)
        assert len(top.duplicates) == 1
        assert top.duplicates[0].doc_id != top.document.doc_id
    raw = searcher.search(
        SearchRequest(q="成果转化 引导基金", mode="keyword", k=10, collapse=False)
    )
    assert len({h.text for h in raw.hits}) < len(raw.hits), "collapse=false shows the copies"


@pytest.mark.parametrize("filters", [Filters(), Filters(region="湖北")])
def test_hybrid_feeds_words_of_the_best_dense_matches_to_keyword(
    searcher: Searcher, filters: Filters
) -> None:
    query = "让大学的研究成果变成企业的产品"
    hybrid = searcher.search(SearchRequest(q=query, k=10, filters=filters))
    dense = searcher.search(SearchRequest(q=query, mode="dense", k=5, filters=filters))
    assert hybrid.feedback_terms and not set(hybrid.feedback_terms) & set(hybrid.terms)
    best = normalize_for_match("".join(h.text for h in dense.hits))
    for term in hybrid.feedback_terms:
        assert term in best, f"{term} comes from the top 5 dense passages inside the filters"
    assert all(h.keyword_score is not None and 0 <= h.keyword_score <= 1 for h in hybrid.hits)
    for mode in ("dense", "keyword"):
        assert searcher.search(SearchRequest(q=query, mode=mode)).feedback_terms == []


def test_feedback_can_be_turned_off(index_settings: Settings, embedder: Embedder) -> None:
    plain = LiveIndex(index_settings.model_copy(update={"feedback_passages": 0}), embedder).get()
    query = "让大学的研究成果变成企业的产品"
    res = plain.search(SearchRequest(q=query, k=10))
    assert res.feedback_terms == []
    a = plain.analyse(query)
    bm25 = plain.keyword_hits(a, 1).full
    top = plain.exact.max_score(a.units) + plain.keyword.max_score(a.tokens)
    for h in res.hits:  # the keyword side is the query's own words alone
        row = plain.store.passage_row(h.passage_id)
        assert h.keyword_score == pytest.approx(min(bm25[row] / top, 1.0), abs=1e-4)


def test_duplicate_clusters_are_the_same_in_every_process(index_settings: Settings) -> None:
    """Which duplicate is shown must not change after a restart (str hash() is salted)."""
    from indexer import dedup

    [version] = [p for p in (index_settings.index_dir / "versions").iterdir() if p.is_dir()]
    stored = dedup.load(version)
    assert stored is not None
    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from indexer import dedup\n"
        "from indexer.store import Store\n"
        f"texts = [t for _, t in Store(Path({str(version / 'store.sqlite')!r})).passage_texts()]\n"
        "np.save(sys.argv[1], dedup.clusters(texts))\n"
    )
    for seed in ("1", "2"):
        out = index_settings.index_dir.parent / f"clusters-{seed}.npy"
        subprocess.run(
            [sys.executable, "-c", script, str(out)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        assert (np.load(out) == stored).all()


def _containing(searcher: Searcher, phrase: str) -> set[str]:
    """Passage ids whose text holds ``phrase`` once folded, read from the store directly."""
    rows = [r for r, t in searcher.store.passage_texts() if phrase in normalize_for_match(t)]
    return {p.passage_id for p in searcher.store.passages_by_rows(rows).values()}


@pytest.mark.parametrize("mode", MODES)
def test_a_quoted_phrase_is_required_in_every_mode(searcher: Searcher, mode: str) -> None:
    holding = _containing(searcher, "新质生产力")
    assert 0 < len(holding) < 100
    res = searcher.search(SearchRequest(q='"新质生产力" 发展', mode=mode, k=100, collapse=False))
    assert {h.passage_id for h in res.hits} == holding, "every passage that says it, no other"
    for h in res.hits:  # marked whole, not word by word
        assert re.search("<mark>[^<]*新质生产力[^<]*</mark>", h.highlighted), h.highlighted
        assert "<mark>新</mark>" not in h.highlighted
    zhejiang = searcher.search(
        SearchRequest(q="“新质生产力”", mode=mode, k=100, filters=Filters(region="浙江省"))
    )
    assert zhejiang.hits and all(h.document.region == "浙江省" for h in zhejiang.hits)
    assert {h.passage_id for h in zhejiang.hits} <= holding


@pytest.mark.parametrize("mode", MODES)
def test_an_excluded_word_removes_its_passages(searcher: Searcher, mode: str) -> None:
    plain = searcher.search(SearchRequest(q="科技 创新", mode=mode, k=50))
    assert any("人才" in normalize_for_match(h.text) for h in plain.hits)
    res = searcher.search(SearchRequest(q="科技 创新 -人才", mode=mode, k=50))
    assert len(res.hits) == 50
    assert not any("人才" in normalize_for_match(h.text) for h in res.hits)


def test_a_phrase_in_simplified_finds_the_traditional_1954_report(searcher: Searcher) -> None:
    res = searcher.search(SearchRequest(q='"社会主义工业化"', mode="keyword", k=20))
    assert res.hits and {h.document.year for h in res.hits} == {1954}
    assert "社會主義工業化" in res.hits[0].text


def test_a_phrase_found_nowhere_is_an_empty_answer_that_says_so(searcher: Searcher) -> None:
    for mode in MODES:
        res = searcher.search(SearchRequest(q='"量子纠缠农业" 发展', mode=mode))
        assert res.hits == [] and res.total == 0
        assert "no passage contains “量子纠缠农业”" in (res.message or "")
    repaired = searcher.search(SearchRequest(q="“新质生产力", mode="keyword"))
    assert repaired.hits and "the closing ” is missing" in (repaired.message or "")
    excluded_only = searcher.search(SearchRequest(q="-新质生产力"))
    assert excluded_only.hits == [] and "-word only excludes" in (excluded_only.message or "")


def test_a_dense_query_asks_the_text_only_of_words_the_keyword_index_lacks(
    index_settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    says = PassageText.says
    monkeypatch.setattr(PassageText, "says", lambda self, t: asked.append(t) or says(self, t))
    searcher = LiveIndex(index_settings, embedder).get()  # nothing asked of its text yet
    glance = searcher.search(SearchRequest(q="乡村振兴 新质生产力 黑洞", mode="dense"))
    vocab = searcher.keyword.vocab
    assert asked and not any(t in vocab for t in asked)  # 黑洞 and the like are still asked
    # the analysis is the one that asks the text of every word
    full = searcher.search(SearchRequest(q="乡村振兴 新质生产力 黑洞", mode="keyword"))
    assert glance.terms == full.terms
