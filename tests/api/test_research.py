"""Research endpoints over real HTTP: trends, compare, similar, and exports that parse back."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

pytestmark = pytest.mark.integration  # real model, index, server or browser

HIT_FIELDS = {"title", "date", "speaker", "region", "section", "text", "passage_id", "citation"}


def test_trends_and_compare_answer(http: httpx.Client) -> None:
    r = http.get("/trends", params={"q": "新质生产力"})
    assert r.status_code == 200, r.text
    years = {g["key"]: g for g in r.json()["groups"]}
    assert years[2025]["passages"] > 0 and years[2019]["passages"] == 0
    assert years[1960]["missing"] and years[1960]["passages"] is None
    r = http.get("/compare", params={"q": "低空经济", "year": 2026})
    assert r.status_code == 200 and len(r.json()["rows"]) == 3, r.text


def test_search_export_as_csv_opens_in_excel_and_parses_back(http: httpx.Client) -> None:
    r = http.get("/export/search", params={"q": "科技创新", "format": "csv", "limit": 120})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="govspeech-search.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads Chinese"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 120, "more than one page (k <= 100): the export pages through the ranking"
    assert set(rows[0]) >= HIT_FIELDS and all(row["text"] and row["citation"] for row in rows)
    assert [int(row["rank"]) for row in rows] == list(range(1, 121))
    first = rows[0]
    assert first["citation"].startswith(f"《{first['title']}》")


def test_trend_and_compare_exports_parse_back(http: httpx.Client) -> None:
    lines = http.get("/export/trends", params={"q": "改革开放", "format": "jsonl"}).text
    groups = [json.loads(line) for line in lines.splitlines()]
    assert {"year", "missing", "passages", "per_100k_chars", "scored"} <= set(groups[0])
    assert any(g["passages"] for g in groups)
    md = http.get("/export/compare", params={"q": "低空经济", "year": 2026, "format": "md"})
    table = md.text.splitlines()
    assert table[0].startswith("| group | label | says_nothing | score |")
    assert len(table) == 2 + 3, "a header, a rule and one row per region"


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/export/search", {"q": "成果转化", "limit": 500}, "less than or equal to 200"),
        ("/export/search", {"q": "成果转化", "format": "xls"}, "format"),
        ("/trends", {"q": "成果转化", "by": "speaker"}, "by"),
        ("/compare", {"q": "成果转化", "by": "planet"}, "by"),
        ("/compare", {"q": "成果转化", "colour": "red"}, "colour"),
    ],
)
def test_bad_research_requests_get_4xx_with_a_message(
    http: httpx.Client, path: str, params: dict, says: str
) -> None:
    r = http.get(path, params=params)
    assert r.status_code == 422, r.text
    assert says in r.json()["detail"]


def test_similar_passages_of_a_hit(http: httpx.Client) -> None:
    hit = http.get("/search", params={"q": "向大会报告政府工作", "k": 1}).json()["hits"][0]
    r = http.get(f"/passages/{hit['passage_id']}/similar", params={"k": 3})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and all(h["document"]["doc_id"] != hit["document"]["doc_id"] for h in hits)
    assert http.get("/passages/nope/similar").status_code == 404
