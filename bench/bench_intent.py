"""Benchmark: filters read from the question, measured on the dev set.

Three runs of the dev queries on one index (hybrid, nDCG@10 as ``govspeech eval``):

1. as written, explicit filters, reading off (``parse=false``): the baseline;
2. as written, reading on (the default): which filters it reads from queries whose
   text names one, and whether any query gains a filter it should not;
3. the filtered queries with their filter moved into the text (``2019年 减税降费 规模``,
   ``浙江 全民健身 赛事活动``), no explicit filter, reading on: against run 1.

    .venv/bin/python bench/bench_intent.py INDEX_DIR [--mode hybrid]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.evaluate import EvalQuery, load_queries, score  # noqa: E402
from indexer.live import LiveIndex  # noqa: E402
from indexer.schemas import Filters, SearchRequest  # noqa: E402
from indexer.settings import Settings  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"
_SHORT = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


def moved(q: EvalQuery) -> str:
    """The query with its filter typed in front, the way people type it."""
    words = []
    for key, value in q.filters.items():
        if key == "year":
            words.append(f"{value}年")
        elif key in ("province", "region"):
            short = str(value)
            for suffix in _SHORT:
                if short.endswith(suffix):
                    short = short[: -len(suffix)]
                    break
            words.append(short)
    return " ".join([*words, q.query])


def run(searcher, queries, mode: str, parse: bool, move: bool):  # type: ignore[no-untyped-def]
    hits, read = {}, {}
    for q in queries:
        text = moved(q) if move else q.query
        filters = {} if move else q.filters
        res = searcher.search(
            SearchRequest(q=text, k=10, mode=mode, filters=Filters(**filters), parse=parse)
        )
        hits[q.qid] = [{"passage_id": h.passage_id, "text": h.text} for h in res.hits]
        read[q.qid] = {u.field + (" (boost)" if u.boost else ""): u.value for u in res.understood}
    return hits, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args()
    searcher = LiveIndex(Settings(index_dir=args.index_dir)).get()
    queries = load_queries(EVAL)
    filtered = [q for q in queries if q.filters]
    base, _ = run(searcher, queries, args.mode, parse=False, move=False)
    default, read = run(searcher, queries, args.mode, parse=True, move=False)
    moved_hits, moved_read = run(searcher, filtered, args.mode, parse=True, move=True)

    def ndcg(group: list[EvalQuery], hits) -> float:  # type: ignore[no-untyped-def]
        return score(group, hits)["all"]["nDCG@10"]

    print(f"index {args.index_dir}; {len(queries)} dev queries; mode {args.mode}")
    print(f"1. explicit filters, reading off          nDCG@10 {ndcg(queries, base):.3f}")
    print(f"2. explicit filters, reading on (default) nDCG@10 {ndcg(queries, default):.3f}")
    for q in queries:
        extra = {k: v for k, v in read[q.qid].items() if k not in q.filters}
        if extra:
            print(f"   {q.qid} {q.query!r}: read {extra}")
    unfiltered = [q for q in queries if not q.filters]
    gained = [q.qid for q in unfiltered if any("boost" not in k for k in read[q.qid])]
    boosted = [q.qid for q in unfiltered if read[q.qid]]
    print(f"   queries without explicit filters that gained a filter: {len(gained)} of "
          f"{len(unfiltered)} (a boost: {len(boosted)})")  # fmt: skip
    print(f"3. filters moved into the text ({len(filtered)} queries):")
    for q in filtered:
        print(f"   {q.qid} {moved(q)!r}: read {moved_read[q.qid]}, wanted {q.filters}")
    print(
        f"   nDCG@10 explicit {ndcg(filtered, base):.3f}, moved into the text "
        f"{ndcg(filtered, moved_hits):.3f}"
    )


if __name__ == "__main__":
    main()
