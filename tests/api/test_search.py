"""/search over real HTTP, on a real index of real corpus passages."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration  # real model, index, server or browser


def test_get_search_finds_conversion_measures(http: httpx.Client) -> None:
    r = http.get("/search", params={"q": "成果转化 措施", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["terms"], "query was segmented into keyword terms"
    hits = body["hits"]
    assert len(hits) == 5
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    top = hits[0]
    assert "成果" in top["text"] and "转化" in top["text"], "a passage about 科技成果转化 leads"
    assert "<mark>" in top["highlighted"]
    for field in ("doc_id", "title", "source"):
        assert top["document"][field]
    assert top["passage_id"]


def test_post_search_with_filters_object(http: httpx.Client) -> None:
    r = http.post("/search", json={"q": "科技创新", "k": 10, "filters": {"province": "浙江省"}})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits
    assert {h["document"]["region"] for h in hits} == {"浙江省"}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_every_mode_answers(http: httpx.Client, mode: str) -> None:
    r = http.get("/search", params={"q": "冰雪经济", "mode": mode, "k": 3})
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == mode
    assert r.json()["hits"]
    assert bool(r.json()["feedback_terms"]) == (mode == "hybrid"), "only hybrid feeds words back"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": ""}, "empty"),
        ({"q": "   \u3000 "}, "empty"),
        ({"q": "成果转化" * 200}, "at most 256 characters"),
        ({"q": "成果转化", "k": 0}, "k"),
        ({"q": "成果转化", "k": 5000}, "k"),
        ({"q": "成果转化", "mode": "fuzzy"}, "mode"),
        ({"q": "成果转化", "colour": "red"}, "colour: unknown parameter"),
        ({"q": "成果转化", "year": "last"}, "year"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(http: httpx.Client, params: dict, says: str) -> None:
    r = http.get("/search", params=params)
    assert 400 <= r.status_code < 500, r.text
    assert says in r.json()["detail"]


@pytest.mark.parametrize(
    ("q", "says"),
    [
        ('"成果转化 措施', 'the closing " is missing'),
        ("成果转化”", "without an opening quote was ignored"),
        ("-房地产", "-word only excludes"),
    ],
)
def test_malformed_syntax_is_answered_with_what_was_read(
    http: httpx.Client, q: str, says: str
) -> None:
    r = http.get("/search", params={"q": q})
    assert r.status_code == 200, r.text
    assert says in r.json()["message"]


def test_post_rejects_unknown_filter(http: httpx.Client) -> None:
    r = http.post("/search", json={"q": "成果转化", "filters": {"provnce": "浙江省"}})
    assert r.status_code == 422
    assert "provnce: unknown" in r.json()["detail"]


def test_filter_matching_nothing_returns_nothing(http: httpx.Client) -> None:
    r = http.get("/search", params={"q": "成果转化", "region": "火星"})
    assert r.status_code == 200
    body = r.json()
    assert body["hits"] == []
    assert "filter" in body["message"]


def test_paging_is_stable_and_disjoint(http: httpx.Client) -> None:
    first = http.get("/search", params={"q": "科技创新 人才", "k": 5}).json()
    second = http.get("/search", params={"q": "科技创新 人才", "k": 5, "offset": 5}).json()
    both = http.get("/search", params={"q": "科技创新 人才", "k": 10}).json()
    ids = [h["passage_id"] for h in first["hits"] + second["hits"]]
    assert ids == [h["passage_id"] for h in both["hits"]]
    assert len(set(ids)) == 10
    assert second["hits"][0]["rank"] == 6


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_total_is_the_same_on_every_page(http: httpx.Client, mode: str) -> None:
    pages = [
        http.get("/search", params={"q": "就业", "mode": mode, "k": 20, "offset": offset}).json()
        for offset in (0, 40, 100, 180)
    ]
    totals = {p["total"] for p in pages}
    assert len(totals) == 1, totals
    total = totals.pop()
    ids = [h["passage_id"] for p in pages for h in p["hits"]]
    assert len(ids) == len(set(ids)), "pages never repeat a hit"
    last = pages[-1]
    assert len(last["hits"]) == max(0, min(20, total - 180)), "the last page ends at total"


def test_paging_stops_at_the_ranked_hits(http: httpx.Client) -> None:
    body = http.get("/search", params={"q": "就业", "k": 100, "offset": 150}).json()
    assert body["total"] <= 200 and len(body["hits"]) == max(0, min(100, body["total"] - 150))
    deep = http.get("/search", params={"q": "就业", "k": 100, "offset": 1000})
    assert deep.status_code == 422 and "offset" in deep.json()["detail"]


def test_the_service_keeps_blas_to_the_request_thread(http: httpx.Client) -> None:
    # concurrent searches use the cores through their own threads; BLAS helper threads
    # spinning beside each rescoring product doubled the laws' CPU per query
    from threadpoolctl import threadpool_info

    assert http.get("/search", params={"q": "成果转化", "mode": "dense"}).status_code == 200
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas), blas
