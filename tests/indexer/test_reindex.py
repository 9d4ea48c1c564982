"""Batch re-indexing on real corpus files: incremental, crash-safe, live swaps, mixed inputs."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from corpus import read_corpus
from corpus.document import Document
from indexer.build import build_index, chunk_config, embedding_units
from indexer.chunk import chunk_document
from indexer.embed import Embedder
from indexer.schemas import Filters, SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.store import Store
from indexer.versions import IndexDir, IndexLocked
from tests.conftest import (
    CORPUS,
    ROOT,
    LiveServer,
    provincial_csv,
    provincial_text,
    require_corpus,
    seeded_index,
)

pytestmark = pytest.mark.integration  # real model, index, server or browser

TWO = ("浙江省", "湖北省")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    require_corpus()
    root = tmp_path / "speeches"
    root.mkdir()
    for province in TWO:
        shutil.copy(provincial_csv(province), root)
    return root


@pytest.fixture()
def settings(tmp_path: Path, index_settings: Settings) -> Settings:
    """The slice includes these reports, so a first build here embeds nothing; --full (the
    killed runs) ignores the cache anyway."""
    return seeded_index(tmp_path / "index", index_settings)


def _searcher(settings: Settings, embedder: Embedder) -> Searcher:
    return Searcher.at(IndexDir(settings.index_dir).current_path(), embedder, settings)


def _rewrite_csv(path: Path, edit: callable) -> None:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["full_text"] = edit(rows[0]["full_text"])
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _passage_units(folder: Path, settings: Settings) -> list[tuple[str, ...]]:
    """What the builder embeds for each passage of ``folder``."""
    units = []
    for doc in read_corpus([folder]):
        assert isinstance(doc, Document)
        for p in chunk_document(doc, chunk_config(settings)):
            units.append(tuple(embedding_units(p, doc, settings)))
    return units


def test_editing_one_document_reembeds_only_its_changed_passages(
    folder: Path, settings: Settings, embedder: Embedder
) -> None:
    first = build_index([folder], settings, embedder=embedder)
    before = {u for units in _passage_units(folder, settings) for u in units}
    paragraph = next(
        line for line in provincial_text("浙江省").splitlines() if 100 < len(line) < 300
    )
    _rewrite_csv(
        folder / provincial_csv("浙江省").name,
        lambda text: text.replace(paragraph, paragraph + "新建二十个县域成果转化驿站。", 1),
    )
    expected = sum(1 for units in _passage_units(folder, settings) if not set(units) <= before)
    assert 1 <= expected <= 2, "a one-paragraph edit touches one passage (two if it now splits)"

    report = build_index([folder], settings, embedder=embedder)
    assert (report.changed, report.unchanged, report.added, report.deleted) == (1, 1, 0, 0)
    assert report.embedded == expected
    assert report.reused == report.passages - expected
    assert report.passages >= first.passages
    hit = _searcher(settings, embedder).search(SearchRequest(q="驿站", mode="keyword", k=1))
    assert "新建二十个县域成果转化驿站" in hit.hits[0].text


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_deleted_document_disappears_from_every_mode(
    folder: Path, settings: Settings, embedder: Embedder, mode: str
) -> None:
    build_index([folder], settings, embedder=embedder)
    hubei = _searcher(settings, embedder).search(
        SearchRequest(q="湖北 长江 经济带", mode=mode, k=50, filters=Filters(region="湖北省"))
    )
    assert hubei.hits, "the document is findable before deletion"
    (folder / provincial_csv("湖北省").name).unlink()
    report = build_index([folder], settings, embedder=embedder)
    assert report.deleted == 1 and report.embedded == 0
    after = _searcher(settings, embedder)
    res = after.search(SearchRequest(q="湖北 长江 经济带", mode=mode, k=50))
    assert res.hits
    assert all(h.document.region != "湖北省" for h in res.hits)
    gone = hubei.hits[0].document.doc_id
    assert after.document(gone) is None
    assert after.passage(hubei.hits[0].passage_id) is None


def _start_index_run(folder: Path, settings: Settings) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-c",
        "from govspeech.cli import main; main()",
        "index",
        str(folder),
        "--index-dir",
        str(settings.index_dir),
        "--full",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate: callable, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def _lock_holder(settings: Settings) -> int | None:
    try:
        return json.loads((settings.index_dir / ".lock").read_text())["pid"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


@pytest.mark.parametrize("kill_when", ["embedding", "writing"])
def test_killed_run_leaves_the_served_version_and_the_next_run_completes(
    folder: Path, settings: Settings, embedder: Embedder, kill_when: str
) -> None:
    (folder / provincial_csv(TWO[1]).name).unlink()  # one report: the killed run re-embeds it
    served = build_index([folder], settings, embedder=embedder).version
    proc = _start_index_run(folder, settings)
    try:
        _wait_for(lambda: _lock_holder(settings) == proc.pid)
        # a second run is refused while the first holds the index, naming the holder
        with pytest.raises(IndexLocked, match=f"pid {proc.pid}"):
            build_index([folder], settings, embedder=embedder)
        if kill_when == "writing":
            _wait_for(lambda: any((settings.index_dir / "versions").glob(".partial-*")))
        else:
            time.sleep(1.0)
        assert proc.poll() is None, "the run was still going when killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    index_dir = IndexDir(settings.index_dir)
    assert index_dir.current_name() == served
    res = _searcher(settings, embedder).search(SearchRequest(q="科技创新", k=3))
    assert res.version == served and res.hits

    # an edit, so the next run has something to publish without re-embedding everything
    _rewrite_csv(
        folder / provincial_csv("浙江省").name,
        lambda text: text.replace("。", "。补充：完善中试平台。", 1),
    )
    report = build_index([folder], settings, embedder=embedder)
    assert index_dir.current_name() == report.version != served
    assert not list(index_dir.versions_dir.glob(".partial-*"))


def test_queries_during_swaps_all_succeed_on_one_whole_version(
    folder: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([folder], settings, embedder=embedder)
    results: list[tuple[int, str | None, list[str]]] = []
    stop = threading.Event()

    with LiveServer(settings, embedder) as server:

        def hammer() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not stop.is_set():
                    r = client.get("/search", params={"q": "科技成果转化 措施", "k": 5})
                    body = r.json() if r.status_code == 200 else {}
                    results.append(
                        (
                            r.status_code,
                            body.get("version"),
                            [h["passage_id"] for h in body.get("hits", [])],
                        )
                    )

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            _wait_for(lambda: len(results) >= 3)
            for extra in ("第一次补充：加快建设概念验证中心。", "第二次补充：完善中试平台。"):
                _rewrite_csv(
                    folder / provincial_csv("浙江省").name,
                    lambda text, extra=extra: text.replace("。", "。" + extra, 1),
                )
                build_index([folder], settings, embedder=embedder)
                n = len(results)
                _wait_for(lambda n=n: len(results) >= n + 3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)

    index_dir = IndexDir(settings.index_dir)
    versions = index_dir.versions()
    assert len(versions) == 3
    assert all(status == 200 for status, _, _ in results), {s for s, _, _ in results}
    served = {v for _, v, _ in results}
    assert served <= set(versions) and len(served) >= 2, served
    known = {v: {p.passage_id for p in _all_passages(index_dir.versions_dir / v)} for v in versions}
    for _, version, ids in results:
        assert ids, "every answer has hits"
        assert set(ids) <= known[version], "hits all come from the version the answer names"


def _all_passages(version_dir: Path) -> list:
    store = Store(version_dir / "store.sqlite")
    try:
        rows = [r for r, _ in store.passage_texts()]
        return list(store.passages_by_rows(rows).values())
    finally:
        store.close()


def test_mixed_folder_indexes_and_reports_the_broken_file(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    require_corpus()
    from docx import Document as Docx
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    folder = tmp_path / "mixed"
    folder.mkdir()
    zhejiang = [ln for ln in provincial_text("浙江省").splitlines() if 30 < len(ln) < 200][:12]
    hubei = [ln for ln in provincial_text("湖北省").splitlines() if 30 < len(ln) < 60][:8]
    speech = (CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt").read_text(encoding="utf-8")

    (folder / "zhejiang.html").write_text(
        "<html><head><title>浙江省政府工作报告（网页版）</title></head><body>"
        "<nav>首页 | 政务公开 | 政府信息公开</nav><article><h1>浙江省政府工作报告</h1>"
        + "".join(f"<p>{ln}</p>" for ln in zhejiang)
        + "</article><footer>版权所有 浙江省人民政府办公厅</footer></body></html>",
        encoding="utf-8",
    )
    docx = Docx()
    docx.add_heading("湖北省政府工作报告摘编", level=1)
    docx.add_heading("一、过去一年工作回顾", level=2)
    for ln in hubei[:4]:
        docx.add_paragraph(ln)
    docx.add_heading("二、今年重点任务", level=2)
    for ln in hubei[4:]:
        docx.add_paragraph(ln)
    docx.save(folder / "hubei.docx")
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(folder / "jiangxi.pdf"))
    pdf.setFont("STSong-Light", 11)
    for i, ln in enumerate(
        ln for ln in provincial_text("江西省").splitlines() if 20 < len(ln) < 40
    ):
        if i == 20:
            break
        pdf.drawString(40, 800 - 18 * i, ln)
    pdf.save()
    (folder / "speech-gbk.txt").write_bytes(speech.encode("gb18030"))
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a Word file")
    for part in ("a", "b", "c", "d"):  # section stubs, as the laws corpus has 27 of
        (folder / part).mkdir()
        (folder / part / "_index.md").write_text("")

    report = build_index([folder], settings, embedder=embedder)
    assert report.documents == 4
    assert [f["source"] for f in report.failed if f["reason"] != "empty file"] == ["broken.docx"]
    assert report.failed[0]["reason"]
    # what is news stays a line of its own; a reason four files share is one line
    lines = report.skipped()
    assert len(lines) == 2 and sum(line.startswith("broken.docx: ") for line in lines) == 1
    stubs = next(line for line in lines if not line.startswith("broken.docx"))
    assert stubs.startswith("4 files, empty file: ") and stubs.endswith(" and 1 more"), stubs
    searcher = _searcher(settings, embedder)
    docs = list(searcher.store.documents())
    assert len({d["title"] for d in docs}) == 4
    for query in (zhejiang[3][:12], hubei[5][:12], "高端装备 产学研"):
        res = searcher.search(SearchRequest(q=query, mode="keyword", k=3))
        assert res.hits, query
    hubei_doc = next(d for d in docs if d["source"] == "hubei.docx")
    sections = {p.section for p in searcher.document(str(hubei_doc["doc_id"])).passages}
    assert any("今年重点任务" in s for s in sections), "Word heading styles become sections"
