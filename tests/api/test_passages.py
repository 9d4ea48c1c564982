"""/passages, /documents, /health, /stats and /facets over real HTTP."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration  # real model, index, server or browser


def _a_hit(http: httpx.Client) -> dict:
    return http.get("/search", params={"q": "成果转化 措施", "k": 1}).json()["hits"][0]


def test_passage_by_id_with_context(http: httpx.Client) -> None:
    hit = _a_hit(http)
    r = http.get(f"/passages/{hit['passage_id']}", params={"context": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == hit["text"]
    assert body["document"]["doc_id"] == hit["document"]["doc_id"]
    neighbours = body["before"] + body["after"]
    assert neighbours, "a passage in the middle of a speech has neighbours"
    assert all(abs(n["ordinal"] - body["ordinal"]) == 1 for n in neighbours)


def test_document_by_id_lists_passages_in_order(http: httpx.Client) -> None:
    hit = _a_hit(http)
    r = http.get(f"/documents/{hit['document']['doc_id']}")
    assert r.status_code == 200
    passages = r.json()["passages"]
    assert [p["ordinal"] for p in passages] == list(range(len(passages)))
    assert hit["passage_id"] in {p["passage_id"] for p in passages}


def test_unknown_ids_are_404_with_message(http: httpx.Client) -> None:
    for path in ("/passages/nope", "/documents/nope"):
        r = http.get(path)
        assert r.status_code == 404
        assert "nope" in r.json()["detail"]


def test_health_and_stats(http: httpx.Client) -> None:
    response = http.get("/health")
    health = response.json()
    assert response.status_code == 200 and health["status"] == "ready", health
    stats = http.get("/stats").json()
    assert stats["version"] == health["index_version"]
    assert stats["documents"] == 7
    assert stats["passages"] > 100
    assert stats["model"]["dim"] == 384


def test_facets_count_what_the_index_holds(http: httpx.Client) -> None:
    facets = http.get("/facets").json()
    regions = {f["value"]: f["count"] for f in facets["region"]}
    assert {"浙江省", "湖北省", "江西省"} <= set(regions)
    years = {f["value"] for f in facets["year"]}
    assert {1954, 2019, 2025, 2026} <= years


def test_openapi_docs_are_served(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    assert "/search" in http.get("/openapi.json").json()["paths"]
