"""The index version as an object: one module names its files, a catalog opens it, a
searcher ranks over it without reading a file, and the layering holds."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import pytest

from indexer.catalog import LocalCatalog
from indexer.dense.factory import backend_files
from indexer.schemas import SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.version import layout
from indexer.version.version import ClusterArray, Version, open_version
from indexer.versions import IndexDir
from tests.conftest import ROOT

pytestmark = pytest.mark.integration  # a real built index


@pytest.fixture(scope="module")
def folder(index_settings: Settings) -> Path:
    return IndexDir(index_settings.index_dir).current_path()


def test_a_version_folder_holds_exactly_what_the_layout_names(folder: Path) -> None:
    manifest = open_version(folder, Settings(index_dir=folder.parent.parent)).manifest
    named = {
        layout.MANIFEST,
        layout.STORE,
        layout.CLUSTERS,
        layout.TERMS,
        layout.WINDOW_KEYS,
        *layout.Feedback.FILES,
        *backend_files(manifest.dense),
        *(f"{layout.Keyword.FOLDER}/{f}" for f in layout.Keyword.STATS),
        *(
            f"{layout.Keyword.FOLDER}/{f}"
            for f in (layout.Keyword.DATA, layout.Keyword.INDICES, layout.Keyword.INDPTR)
        ),
    }
    found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert found == named


def test_a_catalog_opens_a_typed_version_whose_parts_agree(index_settings: Settings) -> None:
    cat = LocalCatalog(index_settings)
    version = cat.open(cat.current_name())
    assert isinstance(version, Version) and version.name == cat.current_name()
    assert isinstance(version.clusters, ClusterArray)
    n = version.passages
    assert n == version.manifest.passages == len(version.keyword) == len(version.clusters.labels)
    assert len(version.documents) == version.manifest.documents
    # each row's document, kept as spans, is the store's passage by passage
    of = version.rows.of(np.arange(n))
    assert [version.documents[i].doc_id for i in of] == version.store.passage_doc_ids()
    assert len(version.rows.starts) <= len(version.documents) < n
    assert version.feedback is not None and version.terms is not None
    assert version.problem() is None  # the dense part is not read until a query needs it
    assert len(version.dense) == n and version.problem() is None


def test_a_searcher_over_a_version_reads_no_file(
    folder: Path, index_settings: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Once the version is open (its dense part read), searching every mode opens no file
    of the version folder: everything a query reads is the version object's."""
    version = open_version(folder, index_settings)
    version.dense  # noqa: B018
    searcher = Searcher(version, embedder, index_settings)
    opened: list[str] = []
    real_open, real_load = open, np.load

    def watch_open(file, *a, **k):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_open(file, *a, **k)

    def watch_load(file, *a, **k):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_load(file, *a, **k)

    monkeypatch.setattr("builtins.open", watch_open)
    monkeypatch.setattr(np, "load", watch_load)
    for mode in ("keyword", "dense", "hybrid"):
        assert searcher.search(SearchRequest(q="科技成果转化", mode=mode)).hits
    assert [f for f in opened if str(folder) in f] == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_vendor_folder_and_the_catalogs_do_not_import_the_searcher() -> None:
    """``indexer/milvus`` plugs in below the core: it may use Protocols and data types, not
    the searcher; settings and the dense factory no longer import each other."""
    for path in [*(ROOT / "indexer" / "milvus").glob("*.py"), ROOT / "indexer" / "catalog.py"]:
        assert "indexer.search" not in _imports(path), path
    assert "indexer.dense.factory" not in _imports(ROOT / "indexer" / "settings.py")


def test_the_old_backend_names_still_work_and_say_their_new_ones(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVSPEECH_DENSE_BACKEND", "hnsw")
    with caplog.at_level(logging.WARNING, logger="indexer.settings"):
        assert Settings().dense_index == "hnsw"
    assert "GOVSPEECH_DENSE_BACKEND is now called GOVSPEECH_DENSE_INDEX" in caplog.text
    monkeypatch.setenv("GOVSPEECH_DENSE_INDEX", "flat")  # the new name wins
    assert Settings().dense_index == "flat"
    monkeypatch.delenv("GOVSPEECH_DENSE_BACKEND")
    monkeypatch.delenv("GOVSPEECH_DENSE_INDEX")
    monkeypatch.setenv("GOVSPEECH_BACKEND", "milvus")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="indexer.settings"):
        moved = Settings()
    assert (moved.catalog, moved.dense_index) == ("milvus", "milvus")
    assert "GOVSPEECH_BACKEND is now called GOVSPEECH_CATALOG" in caplog.text
    assert "backend" not in moved.model_dump()
