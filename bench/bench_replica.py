"""Benchmark: what a Milvus replica holds and asks for, in this process.

Opens the version the alias names, as a service does, with an empty folder of its own;
prints how long opening took, what the folder holds after it, its memory, the Milvus calls each
query makes (by collection: passages, windows) in each mode, and in hybrid inside the most
common year, with in-process p50 and p95. Latency and
memory of a replica as a service: ``bench/bench_http.py`` with the same environment.

    GOVSPEECH_MILVUS_URI=http://127.0.0.1:19530 .venv/bin/python bench/bench_replica.py \
        [--eval ../shared/eval/dev.jsonl] [--modes keyword,dense,hybrid] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from indexer.catalog import catalog
from indexer.embed import load_embedder
from indexer.milvus.client import CALLS
from indexer.schemas import Filters, SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument("--modes", default="keyword,dense,hybrid")
    ap.add_argument("--queries", type=int, default=None, help="the first N queries only")
    args = ap.parse_args()
    lines = args.eval.read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["query"] for line in lines if line.strip()][: args.queries]

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(index_dir=Path(folder), catalog="milvus")
        served = catalog(settings)
        started = time.perf_counter()
        version = served.open(served.current_name())
        version.dense  # noqa: B018 (opening reads the dense part, as a service does)
        opened = time.perf_counter() - started
        held = [p for p in Path(folder).rglob("*") if p.is_file()]
        opened_rss = rss_mb()
        print(
            f"version {version.name}: {version.passages:,} passages, "
            f"{version.manifest.windows:,} windows, {len(version.documents):,} documents; "
            f"opened in {opened:.1f} s; its folder holds {len(held)} files "
            f"({sum(p.stat().st_size for p in held):,} bytes); RSS {opened_rss:.0f} MB"
        )
        embedder = load_embedder(settings)
        searcher = Searcher(version, embedder, settings)
        year = searcher.facets()["year"][0]["value"]  # the most common year: a wide filter
        runs = [(mode, Filters()) for mode in args.modes.split(",")]
        runs.append(("hybrid", Filters(year=int(str(year)))))
        for mode, filters in runs:
            # each run on a version opened afresh: no word's rows known from the run before
            searcher = Searcher(served.open(version.name), embedder, settings)
            calls: dict[str, list[int]] = {"passages": [], "windows": []}
            took = []
            for q in queries:
                seen = dict(CALLS)
                t0 = time.perf_counter()
                searcher.search(SearchRequest(q=q, mode=mode, k=10, filters=filters))
                took.append((time.perf_counter() - t0) * 1000)
                for kind in calls:
                    calls[kind].append(CALLS[kind] - seen.get(kind, 0))
            per = ", ".join(
                f"{kind} {statistics.mean(n):.1f} (max {max(n)})" for kind, n in calls.items()
            )
            cut = statistics.quantiles(took, n=20)
            where = "" if filters.is_empty() else f" {filters.model_dump(exclude_none=True)}"
            print(
                f"{mode}{where}: {len(queries)} queries, Milvus calls per query: {per}; "
                f"in-process p50 {statistics.median(took):.0f} ms, p95 {cut[18]:.0f} ms"
            )
        print(f"RSS after the queries (the model loaded): {rss_mb():.0f} MB")


def rss_mb() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
