"""Benchmark: index the demo corpus, then time queries through the searcher and over HTTP.

Prints documents, passages, indexing passages/s next to a bare
``SentenceTransformer.encode`` of the same passages, peak memory, index size
on disk, query latency p50/p95 (searcher path as the CLI uses it, and HTTP),
and the time of a no-change re-run and of a one-document change.

    .venv/bin/python bench/bench_index.py [--corpus ../shared/corpus]
    .venv/bin/python bench/bench_index.py --latency-only <index dir>
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.build import build_index, embedding_units  # noqa: E402
from indexer.embed import load_embedder  # noqa: E402
from indexer.live import LiveIndex  # noqa: E402
from indexer.schemas import SearchRequest  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402

DEMO = ("national-reports", "provincial-2026", "scraped-speech")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def queries(eval_file: Path, searcher_sections: list[str], n: int = 100) -> list[str]:
    """The dev queries plus section headings as further realistic queries."""
    qs = [json.loads(line)["query"] for line in eval_file.read_text().splitlines() if line.strip()]
    rng = random.Random(7)
    pool = sorted({s.split(" > ")[-1][:20] for s in searcher_sections if s})
    rng.shuffle(pool)
    return (qs + pool)[:n]


def measure_latency(settings: Settings, embedder: object, eval_file: Path) -> str:
    """p50/p95 of 100 searches over HTTP and through the searcher (as the CLI calls it).

    HTTP, the target, goes first, so its figures include filling the searcher's
    caches (duplicate-folding keys) rather than benefiting from the second pass.
    """
    searcher = LiveIndex(settings, embedder).get()
    rows = [r for r, _ in searcher.store.passage_texts()][::7]
    qs = queries(eval_file, [p.section for p in searcher.store.passages_by_rows(rows).values()])
    http_ms = []
    with LiveServer(settings, embedder) as server, httpx.Client(base_url=server.url) as client:
        for q in qs[:5]:
            client.get("/search", params={"q": q})
        for q in qs:
            t0 = time.perf_counter()
            r = client.get("/search", params={"q": q, "k": 10})
            http_ms.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
    for q in qs[:5]:
        searcher.search(SearchRequest(q=q))
    cli_ms = []
    for q in qs:
        t0 = time.perf_counter()
        searcher.search(SearchRequest(q=q, k=10))
        cli_ms.append((time.perf_counter() - t0) * 1000)
    return (
        f"query latency, searcher   p50 {statistics.median(cli_ms):.1f} ms, "
        f"p95 {percentile(cli_ms, 95):.1f} ms over {len(cli_ms)} queries\n"
        f"query latency, HTTP       p50 {statistics.median(http_ms):.1f} ms, "
        f"p95 {percentile(http_ms, 95):.1f} ms over {len(http_ms)} queries"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument(
        "--bare-sample",
        type=int,
        default=2000,
        help="passages encoded by bare SentenceTransformer.encode for the ratio",
    )
    ap.add_argument(
        "--latency-only",
        type=Path,
        metavar="INDEX_DIR",
        help="only time queries against an existing index (no build)",
    )
    args = ap.parse_args()
    if args.latency_only:
        settings = Settings(index_dir=args.latency_only)
        print(measure_latency(settings, load_embedder(settings), args.eval))
        return

    work = Path(tempfile.mkdtemp(prefix="govspeech-bench-"))
    corpus = work / "corpus"
    for name in DEMO:
        shutil.copytree(args.corpus / name, corpus / name)
    settings = Settings(index_dir=work / "index")
    embedder = load_embedder(settings)

    t0 = time.perf_counter()
    report = build_index([corpus], settings, embedder=embedder, full=True)
    build_s = time.perf_counter() - t0

    live = LiveIndex(settings, embedder)
    searcher = live.get()
    rows = list(searcher.store.passage_texts())

    # bare model.encode of a sample of the same passages, same prompt and batch size
    rng = random.Random(1)
    sample_rows = rng.sample(range(len(rows)), min(args.bare_sample, len(rows)))
    docs = {d["doc_id"]: d for d in searcher.store.documents()}
    by_row = searcher.store.passages_by_rows(sample_rows)
    from corpus.document import Document
    from indexer.passage import Passage

    passages, units = [], []
    for r in sample_rows:
        p = by_row[r]
        doc = Document(doc_id=p.doc_id, text="", title=str(docs[p.doc_id]["title"]))
        passages.append(embedder.passage_prompt + p.text)
        units += [
            embedder.passage_prompt + u
            for u in embedding_units(
                Passage(p.passage_id, p.doc_id, p.ordinal, p.text, p.section), doc, settings
            )
        ]
    model = embedder.model  # the underlying SentenceTransformer
    t0 = time.perf_counter()
    model.encode(passages, batch_size=settings.batch_size, normalize_embeddings=True)
    bare_rate = len(passages) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.encode(units, batch_size=settings.batch_size, normalize_embeddings=True)
    bare_units_rate = len(passages) / (time.perf_counter() - t0)

    # re-runs: no change, then one document changed
    t0 = time.perf_counter()
    noop = build_index([corpus], settings, embedder=embedder)
    noop_s = time.perf_counter() - t0
    speech = next((corpus / "scraped-speech").glob("*.txt"))
    speech.write_text(
        speech.read_text(encoding="utf-8") + "\n补充一段：会议要求各地抓好科技成果转化政策落实。\n",
        encoding="utf-8",
    )
    t0 = time.perf_counter()
    one = build_index([corpus], settings, embedder=embedder)
    one_s = time.perf_counter() - t0

    latency = measure_latency(settings, embedder, args.eval)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index_rate = report.passages / build_s
    backend = (
        f"ONNX Runtime, {embedder.onnx.precision} weights"
        if embedder.onnx is not None
        else "torch (sentence-transformers)"
    )
    print(f"embedding backend         {backend}; windows of {settings.embed_window_chars} chars")
    print(f"documents                 {report.documents} ({len(report.failed)} failed)")
    print(f"passages                  {report.passages}")
    print(
        f"full build                {build_s:.1f} s, {index_rate:.1f} passages/s "
        f"(embedding alone {report.embedded / report.embed_seconds:.1f} passages/s)"
    )
    print(
        f"bare ST encode            {bare_rate:.1f} passages/s on {len(passages)} of the same "
        f"passages as whole texts; {bare_units_rate:.1f} passages/s as their {len(units)} windows"
    )
    print(
        f"indexing / bare ratio     {index_rate / bare_rate:.2f} vs whole passages, "
        f"{index_rate / bare_units_rate:.2f} vs the same windows"
    )
    print(
        f"no-change re-run          {noop_s:.1f} s ({noop.embedded} embedded, {noop.reused} reused)"
    )
    print(
        f"one-document change       {one_s:.1f} s ({one.changed} changed, {one.embedded} embedded, "
        f"{one.reused} reused)"
    )
    print(f"peak memory (RSS)         {peak_mb:.0f} MB")
    print(
        f"index size on disk        {report.version_bytes / 1e6:.1f} MB "
        f"(+ embedding cache {report.cache_bytes / 1e6:.1f} MB)"
    )
    print(latency)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
