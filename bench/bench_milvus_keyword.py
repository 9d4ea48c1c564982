"""Benchmark: keyword search in Milvus, govspeech's own BM25 postings against Milvus's BM25.

Loads an index version's passages into a scratch Milvus Lite file twice: as
the sparse vectors govspeech ships (each passage's BM25 score per term,
queried with the query's term weights), and as govspeech's tokens joined by
spaces under Milvus's own BM25 function. For each eval query it prints how
much of the local keyword top 10 each returns and the p50 of one search.

    .venv/bin/python bench/bench_milvus_keyword.py /tmp/demo [--tokenizer standard]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymilvus import DataType, Function, FunctionType, MilvusClient  # noqa: E402

from indexer.keyword import KeywordIndex, tokenize  # noqa: E402
from indexer.milvus.passages import sparse_postings  # noqa: E402
from indexer.store import Store  # noqa: E402
from indexer.versions import IndexDir  # noqa: E402

_INSERT = 2_000


def _postings(milvus: MilvusClient, keyword: KeywordIndex) -> None:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    index = milvus.prepare_index_params()
    index.add_index(field_name="terms", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    milvus.create_collection("postings", schema=schema, index_params=index)
    rows = [
        {"row": i, "terms": sparse_postings(t, s)} for i, (t, s) in enumerate(keyword.postings())
    ]
    for start in range(0, len(rows), _INSERT):
        milvus.insert("postings", rows[start : start + _INSERT])
    milvus.flush("postings")
    milvus.load_collection("postings")


def _function(milvus: MilvusClient, texts: list[str], tokenizer: str) -> None:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field(
        "tokens",
        DataType.VARCHAR,
        max_length=65_535,
        enable_analyzer=True,
        analyzer_params={"tokenizer": tokenizer},
    )
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["tokens"],
            output_field_names=["bm25"],
        )
    )
    index = milvus.prepare_index_params()
    index.add_index(
        field_name="bm25",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": 1.5, "bm25_b": 0.75},  # govspeech's (bm25s Lucene) parameters
    )
    milvus.create_collection("function", schema=schema, index_params=index)
    rows = [{"row": i, "tokens": " ".join(tokenize(t)) or "_"} for i, t in enumerate(texts)]
    for start in range(0, len(rows), _INSERT):
        milvus.insert("function", rows[start : start + _INSERT])
    milvus.flush("function")
    milvus.load_collection("function")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument("--tokenizer", default="standard", help="Milvus analyzer: standard, jieba")
    args = ap.parse_args()

    version = IndexDir(args.index_dir).current_path()
    keyword = KeywordIndex.load(version / "keyword")
    texts = [t for _, t in Store(version / "store.sqlite").passage_texts()]
    queries = [json.loads(line)["query"] for line in args.eval.read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as scratch:
        milvus = MilvusClient(str(Path(scratch) / "bench.db"))
        _postings(milvus, keyword)
        _function(milvus, texts, args.tokenizer)
        overlap: dict[str, list[float]] = {"postings": [], "function": []}
        took: dict[str, list[float]] = {"postings": [], "function": []}
        for q in queries:
            local = set(keyword.search(q, 10).rows.tolist())
            if not local:
                continue
            weights: dict[int, float] = {}
            for tid, w in keyword.weights(q):
                weights[tid] = weights.get(tid, 0.0) + w
            requests = {
                "postings": ([weights], "terms", "IP"),
                "function": ([" ".join(tokenize(q, query=True))], "bm25", "BM25"),
            }
            for name, (data, field, metric) in requests.items():
                t0 = time.perf_counter()
                hits = milvus.search(
                    name,
                    data=data,
                    anns_field=field,
                    limit=10,
                    search_params={"metric_type": metric},
                    output_fields=["row"],
                )[0]
                took[name].append((time.perf_counter() - t0) * 1000)
                overlap[name].append(len(local & {h["row"] for h in hits}) / len(local))
        milvus.close()
    print(f"{len(texts):,} passages, {len(overlap['postings'])} queries with keyword hits")
    for name, label in (
        ("postings", "govspeech's BM25 postings as sparse vectors"),
        ("function", f"Milvus BM25 function, {args.tokenizer} tokenizer, govspeech's tokens"),
    ):
        print(
            f"{label}: top-10 overlap with local BM25 {statistics.mean(overlap[name]):.3f}, "
            f"search p50 {statistics.median(took[name]):.1f} ms"
        )


if __name__ == "__main__":
    main()
