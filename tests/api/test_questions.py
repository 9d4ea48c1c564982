"""Filters read from the question and the origin of a text, over real HTTP."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

pytestmark = pytest.mark.integration  # real model, index, server or browser


def test_filters_typed_into_the_query_are_understood_and_said(http: httpx.Client) -> None:
    r = http.get("/search", params={"q": "2026年 浙江 数字经济", "k": 20}).json()
    assert r["understood"] == [
        {"field": "year", "value": 2026, "text": "2026年", "boost": False},
        {"field": "region", "value": "浙江省", "text": "浙江", "boost": False},
    ]
    assert r["searched"] == "数字经济" and r["query"] == "2026年 浙江 数字经济"
    assert r["hits"] and {h["document"]["region"] for h in r["hits"]} == {"浙江省"}
    assert {h["document"]["year"] for h in r["hits"]} == {2026}

    literal = http.get("/search", params={"q": "2026年 浙江 数字经济", "parse": "false"}).json()
    assert literal["understood"] == [] and literal["searched"] is None


def test_a_filter_the_request_sets_wins_over_one_read_from_the_words(http: httpx.Client) -> None:
    r = http.get("/search", params={"q": "浙江 数字经济", "region": "湖北省"}).json()
    assert r["understood"] == [] and r["hits"]
    assert {h["document"]["region"] for h in r["hits"]} == {"湖北省"}
    body = {"q": "2026年 数字经济", "filters": {"region": "江西省"}}
    posted = http.post("/search", json=body).json()
    assert [u["field"] for u in posted["understood"]] == ["year"]
    assert {h["document"]["region"] for h in posted["hits"]} == {"江西省"}


def test_origin_lists_the_documents_that_say_it_earliest_first(http: httpx.Client) -> None:
    r = http.post("/origin", json={"text": "坚持稳中求进工作总基调。"})
    assert r.status_code == 200, r.text
    body = r.json()
    dates = [d["document"]["date"] for d in body["documents"]]
    assert len(dates) >= 3 and dates == sorted(dates)
    assert body["summary"].startswith("first in 《") and body["later"] == len(dates) - 1
    assert body["documents"][0]["match"] == "exact"
    inside = http.post(
        "/origin", json={"text": "坚持稳中求进工作总基调。", "filters": {"region": "浙江省"}}
    ).json()
    assert {d["document"]["region"] for d in inside["documents"]} == {"浙江省"}


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "字" * 5001},
        {"text": "坚持稳中求进", "region": "浙江省"},  # filters go in "filters", as for search
        {"text": "坚持稳中求进", "limit": "5"},
        {"text": 3},
    ],
)
def test_origin_refuses_what_it_cannot_trace(http: httpx.Client, body: dict) -> None:
    r = http.post("/origin", json=body)
    assert r.status_code == 422, r.text


def test_origin_exports_its_table_with_citations(http: httpx.Client) -> None:
    r = http.post("/export/origin", json={"text": "坚持稳中求进工作总基调。", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff"))))
    assert rows and rows[0]["order"] == "1" and rows[0]["match"] == "exact"
    assert all(row["citation"].startswith("《") for row in rows)


def test_the_year_a_question_names_its_report_by_ranks_first_and_removes_nothing(
    http: httpx.Client,
) -> None:
    r = http.get("/search", params={"q": "2019年政府工作报告提出的减税降费规模", "k": 100}).json()
    assert r["understood"] == [{"field": "year", "value": 2019, "text": "2019年", "boost": True}]
    years = [h["document"]["year"] for h in r["hits"]]
    assert years[0] == 2019 and len(set(years)) > 1, "boosted first, the others still there"
