"""Milvus: a version in collections, served by replicas that know only the address.

Milvus Lite (a file, or ``milvus-lite server`` on a loopback port) stands in
for a cluster: the same ``MilvusClient`` calls reach both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import BaseModel

from indexer.build import build_index, rollback_index
from indexer.catalog import catalog
from indexer.embed import Embedder
from indexer.live import LiveIndex
from indexer.milvus.catalog import ALIAS_TTL_S, PUBLISHED_FILE
from indexer.milvus.dense import MilvusBackend
from indexer.milvus.passages import MilvusClusters, MilvusKeyword
from indexer.milvus.replica import Collections
from indexer.research.compare import compare
from indexer.research.export import compare_table, write
from indexer.research.origin import origin
from indexer.research.schemas import CompareParams, OriginParams, TrendParams
from indexer.research.similar import similar
from indexer.research.trends import trends
from indexer.schemas import Filters, SearchRequest, SearchResponse
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.version import layout
from indexer.version.version import Version
from indexer.versions import IndexDir, IndexNotFound
from tests.conftest import ROOT, LiveServer, seeded_index

HAS_MILVUS = importlib.util.find_spec("pymilvus") is not None
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAS_MILVUS, reason="pip install 'govspeech[milvus]'"),
]

QUERIES = ("科技成果转化 措施", "乡村振兴", '"新质生产力"', "经济 经济 发展 -农业", "哪些")
#: Exact terms standing inside longer words (全国人民代表大会), and a common one: keyword
#: modes only (this query's dense scores tie to the last float bits, FAISS and Milvus
#: order such ties differently)
NESTED = "代表大会 人民 发展"
FILTERS = (Filters(), Filters(region="浙江省"), Filters(year=2026), Filters(year_to=2000))


def _answer(res: SearchResponse) -> tuple[object, ...]:
    """Everything of a response but its version and timing."""
    hits = [h.model_dump() for h in res.hits]
    return res.total, res.terms, res.feedback_terms, res.message, hits


def _collections(uri: str) -> set[str]:
    from pymilvus import MilvusClient

    milvus = MilvusClient(uri)
    try:
        return set(milvus.list_collections())
    finally:
        milvus.close()


def _replica(tmp_path: Path, uri: str) -> Settings:
    """A service's settings: an empty folder of its own and the Milvus address."""
    return Settings(index_dir=tmp_path / "replica", catalog="milvus", milvus_uri=uri)


def test_a_replica_with_only_the_milvus_address_answers_as_the_local_index(
    tmp_path: Path,
    slice_dir: Path,
    index_settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the replica's memo of cluster labels forgets everything many times over below
    monkeypatch.setattr(MilvusClusters, "_KNOWN", 64)
    # exact terms in more passages than this are scored one by one, the rest in one search
    monkeypatch.setattr(MilvusKeyword, "_TOGETHER", 40)
    uri = str(tmp_path / "milvus.db")
    settings = seeded_index(tmp_path / "index", index_settings, catalog="milvus", milvus_uri=uri)
    assert settings.dense_index == "milvus"
    version = build_index([slice_dir], settings, embedder=embedder).version
    local = Searcher.at(IndexDir(index_settings.index_dir).current_path(), embedder, index_settings)
    served = catalog(_replica(tmp_path, uri))
    assert served.current_name() == version
    replica = Searcher(served.open(version), embedder, index_settings)
    assert replica.version.name == version
    # the replica holds nothing on disk, and in memory nothing per passage or window but
    # what it derives from the documents (each row's document)
    assert not (tmp_path / "replica").exists() or not any((tmp_path / "replica").rglob("*"))
    for q in QUERIES:
        for mode in ("keyword", "dense", "hybrid"):
            for f in FILTERS:
                req = SearchRequest(q=q, mode=mode, k=10, filters=f, context=1)
                assert _answer(replica.search(req)) == _answer(local.search(req)), (q, mode, f)
    for mode in ("keyword", "hybrid"):
        for f in FILTERS:
            req = SearchRequest(q=NESTED, mode=mode, k=10, filters=f)
            assert _answer(replica.search(req)) == _answer(local.search(req)), (mode, f)
    _assert_research_answers_as_local(replica, local)
    _assert_holds_nothing_per_passage(replica.version)  # after the searches, not only before
    hit = local.search(SearchRequest(q="科技成果转化", k=1)).hits[0]
    assert replica.passage(hit.passage_id, context=2) == local.passage(hit.passage_id, context=2)
    assert replica.document(hit.document.doc_id) == local.document(hit.document.doc_id)
    assert replica.passage("no-such-passage") is None
    assert replica.facets() == local.facets()

    # a version published by an older govspeech (files in chunks, no terms collection) is
    # refused with what to do, not retried as if Milvus were away
    from pymilvus import MilvusClient

    target = MilvusClient(uri).describe_alias("govspeech")["collection_name"]
    MilvusClient(uri).drop_collection(Collections(target).terms)
    with pytest.raises(IndexNotFound, match=r"older govspeech.*--full"):
        served.open(version)


def _assert_research_answers_as_local(replica: Searcher, local: Searcher) -> None:
    """Trends, compare, origin, similar and their exports: the local answers on a replica."""

    def same(a: BaseModel, b: BaseModel) -> None:
        a_, b_ = (
            a.model_dump(exclude={"took_ms", "version"}),
            b.model_dump(exclude={"took_ms", "version"}),
        )
        assert a_ == b_

    for f in ({}, {"region": "浙江省"}, {"year": 2026}):
        for by in ("year", "region"):
            params = TrendParams(q="科技成果转化", by=by, **f)
            counted = trends(local, params)
            same(trends(replica, params), counted)
            assert counted.passages > 0 or f
        params = CompareParams(q="乡村振兴 措施", by="region", **f)
        got, want = compare(replica, params), compare(local, params)
        same(got, want)
        assert list(write(compare_table(got), "csv")) == list(write(compare_table(want), "csv"))
        said = OriginParams(text="推动科技成果转化", **f)
        got_origin, want_origin = origin(replica, said), origin(local, said)
        same(got_origin, want_origin)
        if not f:  # the answers compared hold something
            assert any(r.hit for r in want.rows) and want_origin.documents
    hit = local.search(SearchRequest(q="科技成果转化", k=1)).hits[0]
    for same_document in (False, True):
        got_similar = similar(replica, hit.passage_id, 5, same_document=same_document)
        want_similar = similar(local, hit.passage_id, 5, same_document=same_document)
        assert got_similar is not None and want_similar is not None
        same(got_similar, want_similar)
        assert want_similar.hits


def _assert_holds_nothing_per_passage(version: Version) -> None:
    """No array of the version's parts has a value per passage or per window (a replica reads
    those from Milvus per query); each row's document is kept as spans, one per document."""
    windows = version.manifest.windows
    sizes = {version.passages, windows}
    parts = [version.store, version.keyword, version.clusters, version.feedback, version.dense]
    parts += [version.text, version.compact, version.rows]
    for part in parts:
        fields = (
            vars(part)
            if hasattr(part, "__dict__")
            else {k: getattr(part, k) for k in part.__slots__}
        )
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                assert len(value) not in sizes or len(value) <= 1, (type(part).__name__, name)
            # no passage text either: phrases and exact terms are matched by Milvus
            assert not isinstance(value, str) or len(value) < 1_000, (type(part).__name__, name)
    assert isinstance(version.dense, MilvusBackend)


def _serving(live: LiveIndex, version: str) -> Searcher:
    """The service's searcher once it serves ``version``: it reads the alias in the
    background, at most every ALIAS_TTL_S."""
    deadline = time.monotonic() + 10 * ALIAS_TTL_S
    while (searcher := live.get()).version.name != version:
        assert time.monotonic() < deadline, f"still serving {searcher.version.name}, not {version}"
        time.sleep(0.1)
    return searcher


def _add_paragraph(folder: Path, text: str) -> None:
    speech = next(folder.glob("*.txt"))
    speech.write_text(speech.read_text(encoding="utf-8") + f"\n\n{text}\n", encoding="utf-8")


def test_reindex_on_milvus_moves_the_alias_replicas_follow_and_rollback_moves_it_back(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder
) -> None:
    corpus = shutil.copytree(slice_dir, tmp_path / "speeches")
    uri = str(tmp_path / "milvus.db")
    settings = seeded_index(
        tmp_path / "index", index_settings, catalog="milvus", milvus_uri=uri, keep_versions=1
    )
    first = build_index([corpus], settings, embedder=embedder).version
    published = IndexDir(settings.index_dir).current_path() / PUBLISHED_FILE
    first_names = set(Collections(json.loads(published.read_text())["passages"]).all())
    live = LiveIndex(_replica(tmp_path, uri), embedder)
    assert live.get().version.name == first

    _add_paragraph(corpus, "我们将建设量子通信骨干网，让每一座县城都接入量子通信。")
    (corpus / "2026_江西省_政府工作报告.csv").unlink()
    second = build_index(None, settings, embedder=embedder)
    assert second.added == 0 and second.changed == 1 and second.deleted == 1
    assert 0 < second.vectors_embedded < 10  # the new paragraph's windows, the rest cached
    served = _serving(live, second.version)
    found = served.search(SearchRequest(q="量子通信骨干网", mode="keyword", k=3))
    assert "量子通信骨干网" in found.hits[0].text
    assert not served.search(SearchRequest(q="江西", k=50, filters=Filters(region="江西省"))).hits

    # a third version: with one old version kept, the first's collections are dropped
    _add_paragraph(corpus, "开展低空经济试点，建设通用机场。")
    third = build_index(None, settings, embedder=embedder).version
    left = _collections(uri)
    assert not first_names & left
    # windows, passages, documents, terms and meta of the second and the third
    assert len(left) == 10

    assert live.catalog.versions() == [second.version, third]
    assert rollback_index(settings) == second.version
    _serving(live, second.version)
    assert third in IndexDir(settings.index_dir).versions()


def test_milvus_versions_search_like_local_ones_and_take_their_collections_with_them(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder
) -> None:
    from pymilvus import MilvusClient

    uri = str(tmp_path / "milvus.db")
    settings = seeded_index(
        tmp_path / "index", index_settings, dense_index="milvus", milvus_uri=uri, keep_versions=1
    )
    build_index([slice_dir], settings, embedder=embedder)
    local = Searcher.at(IndexDir(index_settings.index_dir).current_path(), embedder, index_settings)
    folder = IndexDir(settings.index_dir).current_path()
    served = Searcher.at(folder, embedder, settings)
    assert served.version.manifest.dense["backend"] == "milvus"
    for mode in ("dense", "hybrid"):
        for f in (Filters(), Filters(region="浙江省")):
            req = SearchRequest(q="科技成果转化 措施", mode=mode, k=10, filters=f)
            want = [(h.passage_id, h.score) for h in local.search(req).hits]
            got = [(h.passage_id, h.score) for h in served.search(req).hits]
            assert got == want, (mode, f)
    # two more versions (another index type each): with one old version kept, the first
    # version's collection is dropped with it
    first = json.loads((folder / layout.Dense.MILVUS).read_text())["collection"]
    for index_type in ("milvus:FLAT", "milvus:HNSW;ef=64"):
        changed = settings.model_copy(update={"dense_index": index_type})
        assert build_index(None, changed, embedder=embedder).vectors_embedded == 0
    client = MilvusClient(uri)
    names = client.list_collections()
    assert first not in names and len(names) == 2
    client.close()


def test_an_unreachable_milvus_is_a_503_and_a_health_reason_not_a_hang(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder
) -> None:
    settings = seeded_index(
        tmp_path / "index",
        index_settings,
        dense_index="milvus",
        milvus_uri=str(tmp_path / "milvus.db"),
    )
    build_index([slice_dir], settings, embedder=embedder)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    away = settings.model_copy(update={"milvus_uri": dead})
    started = time.monotonic()
    with LiveServer(away, embedder, ready=False) as server, httpx.Client(base_url=server.url) as c:
        while c.get("/health").json()["status"] == "starting":
            time.sleep(0.2)
        health = c.get("/health").json()
        found = c.get("/search", params={"q": "科技成果转化"})
    assert time.monotonic() - started < 30
    assert "Milvus" in health["reason"] and dead not in health["reason"]
    assert found.status_code == 503 and "Milvus" in found.json()["detail"]


def _milvus_lite_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    """``milvus-lite server`` on a loopback port, answering before this returns."""
    data.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("milvus-lite")
    command = [str(binary), "server", "--data-dir", str(data), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.2)
    server.kill()
    raise AssertionError("milvus-lite server did not start")


@pytest.mark.parametrize("layout", ["vectors", "replica"])
def test_a_milvus_server_that_restarts_is_a_503_then_answers_again_by_itself(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder, layout: str
) -> None:
    """Every route that needs Milvus answers 503 with Retry-After while it is away (vectors in
    Milvus: the searching routes; a replica: every route), health says degraded, and both
    come back by themselves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "milvus-data"
    data.mkdir()
    server = _milvus_lite_server(data, port)
    uri = f"http://127.0.0.1:{port}"
    try:
        where = {"dense_index": "milvus"} if layout == "vectors" else {"catalog": "milvus"}
        settings = seeded_index(tmp_path / "index", index_settings, milvus_uri=uri, **where)
        build_index([slice_dir], settings, embedder=embedder)  # over gRPC, as to a cluster
        served = settings if layout == "vectors" else _replica(tmp_path, uri)
        query = {"q": "科技成果转化", "k": 3}
        with LiveServer(served, embedder) as api, httpx.Client(base_url=api.url) as c:
            first = c.get("/search", params=query)
            assert first.status_code == 200 and first.json()["hits"]
            hit = first.json()["hits"][0]
            searching = [
                ("/search", query),
                (f"/passages/{hit['passage_id']}/similar", {"k": 3}),
                ("/trends", {"q": "科技成果转化"}),
                ("/compare", {"q": "科技成果转化"}),
                ("/export/search", {"q": "科技成果转化", "limit": 5}),
            ]
            reading = [
                (f"/passages/{hit['passage_id']}", {"context": 1}),
                (f"/documents/{hit['document']['doc_id']}", {}),
                ("/stats", {}),
            ]
            needs = searching + (reading if layout == "replica" else [])
            assert c.get("/health").json()["status"] == "ready"
            server.terminate()
            server.wait(30)
            for route, params in needs:  # 503 with the reason, never a 500
                down = c.get(route, params=params)
                assert down.status_code == 503, (route, down.status_code, down.text[:200])
                assert down.headers["retry-after"] and "Milvus" in down.json()["detail"], route
            if layout == "vectors":  # passages are on this disk: they still answer
                assert all(c.get(r, params=p).status_code == 200 for r, p in reading)
            health = c.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "degraded"
            assert "Milvus" in health.json()["reason"] and uri not in health.json()["reason"]
            server = _milvus_lite_server(data, port)
            deadline = time.monotonic() + 30
            while (again := c.get("/search", params=query)).status_code != 200:
                assert time.monotonic() < deadline, again.text
                time.sleep(0.5)
            assert again.json()["hits"] == first.json()["hits"]
            assert c.get("/health").json()["status"] == "ready"
            assert all(c.get(r, params=p).status_code == 200 for r, p in needs)
    finally:
        server.terminate()
        server.wait(30)


def test_a_service_on_a_milvus_server_serves_the_alias_over_http(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder
) -> None:
    port = _free_port()
    server = _milvus_lite_server(tmp_path / "milvus-data", port)
    try:
        uri = f"http://127.0.0.1:{port}"
        settings = seeded_index(
            tmp_path / "index", index_settings, catalog="milvus", milvus_uri=uri
        )
        version = build_index([slice_dir], settings, embedder=embedder).version
        local = Searcher.at(
            IndexDir(index_settings.index_dir).current_path(), embedder, index_settings
        )
        query = {"q": "科技成果转化 措施", "k": 5, "region": "浙江省", "context": 1}
        with (
            LiveServer(_replica(tmp_path, uri), embedder) as api,
            httpx.Client(base_url=api.url) as c,
        ):
            assert c.get("/health").json() == {
                "status": "ready", "index_version": version, "reason": None
            }  # fmt: skip
            got = c.get("/search", params=query).json()
        want = local.search(
            SearchRequest(q=query["q"], k=5, filters=Filters(region="浙江省"), context=1)
        )
        assert got["hits"] == [h.model_dump(mode="json") for h in want.hits]
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize("kill_in", ["windows", "passages"])
def test_a_build_killed_while_writing_to_milvus_leaves_the_alias_and_is_cleaned_up(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder, kill_in: str
) -> None:
    from pymilvus import MilvusClient

    port = _free_port()
    server = _milvus_lite_server(tmp_path / "milvus-data", port)
    try:
        uri = f"http://127.0.0.1:{port}"
        corpus = shutil.copytree(slice_dir, tmp_path / "speeches")
        settings = seeded_index(
            tmp_path / "index", index_settings, catalog="milvus", milvus_uri=uri
        )
        first = build_index([corpus], settings, embedder=embedder).version
        milvus = MilvusClient(uri)
        served = milvus.describe_alias("govspeech")["collection_name"]
        before = set(milvus.list_collections())
        _add_paragraph(corpus, "推进数据要素市场化配置改革。")
        env = {**os.environ, "GOVSPEECH_CATALOG": "milvus", "GOVSPEECH_MILVUS_URI": uri}
        run = [sys.executable, "-c", "from govspeech.cli import main; main()", "index"]
        proc = subprocess.Popen(
            [*run, "--index-dir", str(settings.index_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def writing() -> bool:  # the new version's windows or passages collection exists
            new = set(milvus.list_collections()) - before
            return any(n.endswith("_passages") == (kill_in == "passages") for n in new)

        try:
            deadline = time.monotonic() + 120
            while not writing():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert milvus.describe_alias("govspeech")["collection_name"] == served
        assert IndexDir(settings.index_dir).current_name() == first
        assert set(milvus.list_collections()) - before  # what the killed run left

        report = build_index(None, settings, embedder=embedder)
        assert report.version != first
        now = set(milvus.list_collections())
        assert before < now and len(now - before) == 5  # the new version's, nothing left over
        assert milvus.describe_alias("govspeech")["collection_name"] in now - before
        milvus.close()
    finally:
        server.terminate()
        server.wait(30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_replica_started_while_milvus_is_down_says_so_and_serves_once_it_answers(
    tmp_path: Path, slice_dir: Path, index_settings: Settings, embedder: Embedder
) -> None:
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    with (
        LiveServer(_replica(tmp_path, uri), embedder, ready=False) as api,
        httpx.Client(base_url=api.url) as c,
    ):
        deadline = time.monotonic() + 30
        while (health := c.get("/health").json())["status"] == "starting":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert "Milvus" in health["reason"] and uri not in health["reason"]
        assert c.get("/search", params={"q": "科技成果转化"}).status_code == 503
        server = _milvus_lite_server(tmp_path / "milvus-data", port)
        try:
            settings = seeded_index(
                tmp_path / "index", index_settings, catalog="milvus", milvus_uri=uri
            )
            version = build_index([slice_dir], settings, embedder=embedder).version
            deadline = time.monotonic() + 90  # the service retries with back-off
            while (found := c.get("/search", params={"q": "科技成果转化"})).status_code != 200:
                assert time.monotonic() < deadline, found.text
                time.sleep(0.5)
            assert found.json()["version"] == version and found.json()["hits"]
            deadline = time.monotonic() + 90  # health follows: the warm-up is tried again
            while (health := c.get("/health").json())["status"] != "ready":
                assert time.monotonic() < deadline, health
                time.sleep(0.5)
            assert health["index_version"] == version
        finally:
            server.terminate()
            server.wait(30)
