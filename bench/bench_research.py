"""Benchmark: trends, comparison and similar passages on a built index, through the searcher.

Prints p50/p95 latency of each tool over distinct dev-set queries (and 20 passages
for similar), after one warm-up call of each; run alone, on an idle machine.

    .venv/bin/python bench/bench_research.py INDEX_DIR [--queries 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.live import LiveIndex  # noqa: E402
from indexer.research.compare import compare  # noqa: E402
from indexer.research.schemas import CompareParams, TrendParams  # noqa: E402
from indexer.research.similar import similar  # noqa: E402
from indexer.research.trends import trends  # noqa: E402
from indexer.schemas import SearchRequest  # noqa: E402
from indexer.settings import Settings  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def _timed(calls: list[Callable[[], object]]) -> tuple[float, float]:
    took = []
    for call in calls:
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return statistics.median(took), took[int(0.95 * (len(took) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    searcher = LiveIndex(Settings(index_dir=args.index_dir)).get()
    searcher.warm()
    queries = [json.loads(line)["query"] for line in EVAL.open(encoding="utf-8")][: args.queries]
    passages = [searcher.search(SearchRequest(q=q, k=1)).hits[0].passage_id for q in queries[:20]]
    tools: dict[str, list[Callable[[], object]]] = {
        "trends by year": [lambda q=q: trends(searcher, TrendParams(q=q)) for q in queries],
        "trends by region": [
            lambda q=q: trends(searcher, TrendParams(q=q, by="region")) for q in queries
        ],
        "compare by region, 2026": [
            lambda q=q: compare(searcher, CompareParams(q=q, year=2026)) for q in queries
        ],
        "compare by region, whole archive": [
            lambda q=q: compare(searcher, CompareParams(q=q)) for q in queries
        ],
        "compare by year": [
            lambda q=q: compare(searcher, CompareParams(q=q, by="year")) for q in queries
        ],
        "similar passages (k=10)": [lambda p=p: similar(searcher, p) for p in passages],
    }
    print(f"index {args.index_dir}: {len(searcher.row_documents):,} passages, "
          f"{len(searcher.documents):,} documents; {len(queries)} queries")  # fmt: skip
    for name, calls in tools.items():
        calls[0]()  # warm-up
        p50, p95 = _timed(calls)
        print(f"{name:<34} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
