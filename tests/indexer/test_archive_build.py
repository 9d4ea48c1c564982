"""A build over archive-shaped folders: it says what it found and what it could not, stops
when a whole format cannot be read, and keeps undated documents out of the years."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus import readers
from indexer.build import BuildError, build_index
from indexer.embed import Embedder
from indexer.research.compare import compare
from indexer.research.export import compare_table, trend_table
from indexer.research.schemas import CompareParams, TrendParams
from indexer.research.trends import trends
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.versions import IndexDir

pytestmark = pytest.mark.integration  # real model, index, server or browser

ARCHIVES = Path(__file__).resolve().parents[1] / "corpus" / "archives"
UNDATED = [
    {
        "title": "在全省营商环境座谈会上的讲话",
        "content": "同志们：优化营商环境是一场深刻变革，要久久为功。",
    },
    {"title": "营商环境工作情况通报", "content": "各地持续优化营商环境，企业满意度稳步提升。"},
]


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archives")
    shutil.copytree(ARCHIVES, root, dirs_exist_ok=True)
    (root / "undated.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in UNDATED), encoding="utf-8"
    )
    return root


@pytest.fixture(scope="module")
def built(
    archive_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[Settings, dict[str, object]]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("archive-index"))
    report = build_index([archive_dir], settings, embedder=embedder)
    return settings, report.as_dict()


def test_build_reports_per_field_coverage(built: tuple[Settings, dict[str, object]]) -> None:
    _, report = built
    summary = report["metadata_summary"]
    assert summary[0] == "metadata: date 14 of 16 · speaker 12 · type 15 · region 6 · url 12"
    assert any("fields kept but not used" in line and "Keywords (4)" in line for line in summary)
    assert any(
        line.startswith("site furniture removed from provincial-speeches: 本网站支持IPv6访问")
        for line in summary
    )
    metadata = report["metadata"]
    assert metadata["found"]["date"] == 14 and metadata["documents"] == 16
    assert metadata["sources"]["url"] == {"field:url": 6, "field:Url": 4, "field:og:url": 1,
                                          "field:canonical": 1}  # fmt: skip


def test_undated_documents_are_not_a_year(
    built: tuple[Settings, dict[str, object]], embedder: Embedder
) -> None:
    settings, _ = built
    searcher = Searcher.at(IndexDir(settings.index_dir).current_path(), embedder, settings)
    try:
        found = trends(searcher, TrendParams(q="营商环境"))
        assert [g.key for g in found.groups] == [2024, 2025]  # every recorded year, none else
        assert found.unrecorded is not None
        assert (found.unrecorded.documents_total, found.unrecorded.passages) == (2, 2)
        columns, rows = trend_table(found)
        assert rows[-1][: columns.index("missing")] == [None, False]  # key, recorded
        assert all(row[1] for row in rows[:-1])

        side = compare(searcher, CompareParams(q="营商环境", by="year"))
        assert None not in [r.key for r in side.rows]
        assert side.unrecorded is not None and side.unrecorded.label == "（未注明日期）"
        columns, rows = compare_table(side)
        assert columns[0] == "group" and columns.count("year") == 1  # no column name twice
        assert rows[-1][0] is None
    finally:
        searcher.close()


def test_a_format_that_cannot_be_read_stops_the_run_first(
    archive_dir: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing parser fails every page the same way: one error before reading, nothing lost."""

    def broken() -> None:
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean")

    monkeypatch.setitem(readers._PROBES, ".shtml", broken)
    settings = Settings(index_dir=tmp_path / "index")
    with pytest.raises(BuildError) as err:
        build_index([archive_dir], settings, embedder=embedder)
    message = str(err.value)
    assert message.startswith("cannot read the 4 .shtml files (ImportError: lxml.html.clean")
    assert "pip install trafilatura lxml_html_clean" in message
    assert IndexDir(settings.index_dir).current_name() is None
