"""Benchmark: are exact terms found wherever they stand? Recall of the passages that contain a term.

For each term, the truth is every passage whose matching form (folded script and
width) contains it. Prints, per term: passages containing it; keyword mode's hits
among its first 200 and how many of them contain it (recall = found / min(200,
containing)); whether ``total`` / ``total_capped`` tell the truth; how many of
hybrid's first 10 contain it; and whether ``compare --by region`` calls silent
exactly the regions that never use it. Then the summary over all terms.

Terms: the issue's examples plus ``--nested N`` terms picked from the index itself,
words of the segmenter's dictionary that the segmenter mostly keeps inside longer
words there (so a word index misses them): the kind of term this is about.

    .venv/bin/python bench/bench_terms.py INDEX_DIR [--nested 20] [--terms 代表大会,碳达峰]

It uses only the searcher's public calls, so a copy of this file in a checkout of
an older commit measures that commit on the same index (old against new).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from indexer.keyword import STOP_WORDS, tokenize  # noqa: E402
from indexer.live import LiveIndex  # noqa: E402
from indexer.research.compare import compare  # noqa: E402
from indexer.research.schemas import CompareParams  # noqa: E402
from indexer.schemas import MAX_HITS, MAX_K, SearchRequest  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.textnorm import normalize_for_match  # noqa: E402

_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")
EXAMPLES = ["代表大会", "人民代表大会", "营商环境", "碳达峰", "高质量发展", "新质生产力"]


def nested_terms(texts: list[str], n: int) -> list[str]:
    """Dictionary words that occur in >= 10 passages and are a word index term in < 80% of them."""
    import jieba

    words = {w for w in jieba.get_dict_file().read().decode("utf-8").split("\n")
             for w in [w.split(" ")[0]] if 3 <= len(w) <= 6 and w not in STOP_WORDS}  # fmt: skip
    contained: Counter[str] = Counter()
    as_token: Counter[str] = Counter()
    for text in texts:
        tokens = set(tokenize(text))
        found = {
            run[i : i + k]
            for run in _HAN_RUN.findall(text)
            for i in range(len(run))
            for k in range(3, 7)
            if run[i : i + k] in words
        }
        contained.update(found)
        as_token.update(w for w in found if w in tokens)
    picked = [w for w, c in contained.most_common() if c >= 10 and as_token[w] < 0.8 * c]
    return picked[:n]


def _hits(searcher, term: str, mode: str) -> tuple[list[int], int, bool]:
    rows: list[int] = []
    total, capped = 0, False
    for offset in range(0, MAX_HITS, MAX_K):
        res = searcher.search(
            SearchRequest(q=term, mode=mode, k=MAX_K, offset=offset, collapse=False)
        )
        total, capped = res.total, res.total_capped
        rows += [searcher.store.passage_row(h.passage_id) for h in res.hits]
        if len(res.hits) < MAX_K:
            break
    return rows, total, capped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--nested", type=int, default=20, help="terms picked from the index")
    parser.add_argument("--terms", default=",".join(EXAMPLES), help="comma-separated terms")
    args = parser.parse_args()
    searcher = LiveIndex(Settings(index_dir=args.index_dir)).get()
    searcher.warm()
    texts = [normalize_for_match(t) for _, t in searcher.store.passage_texts()]
    terms = [t for t in args.terms.split(",") if t]
    terms += [t for t in nested_terms(texts, args.nested) if t not in terms]
    print(f"index {args.index_dir}: {len(texts):,} passages; {len(terms)} terms")
    print(f"{'term':<12} {'contain':>7} {'kw hits':>7} {'recall':>7} {'total ok':>8} "
          f"{'hyb@10':>6} {'silent ok':>9} {'kw ms':>6}")  # fmt: skip
    recalls, first_pages, totals_ok, silent_ok = [], [], [], []
    regions = [d.region for d in searcher.documents]
    for term in terms:
        truth = {i for i, t in enumerate(texts) if term in t}
        started = time.perf_counter()
        rows, total, capped = _hits(searcher, term, "keyword")
        took = (time.perf_counter() - started) * 1000
        found = len(truth & set(rows))
        recall = found / max(1, min(MAX_HITS, len(truth)))
        total_ok = total == len(truth) and capped == (len(truth) > MAX_HITS)
        hybrid = searcher.search(SearchRequest(q=term, k=10))
        first = sum(searcher.store.passage_row(h.passage_id) in truth for h in hybrid.hits)
        side = compare(searcher, CompareParams(q=term))
        says = {regions[searcher.row_documents[r]] for r in truth} - {None}
        silent = {r.key for r in side.rows if r.says_nothing}
        listed = {r.key for r in side.rows}
        ok = silent == listed - says
        recalls.append(recall)
        first_pages.append(first)
        totals_ok.append(total_ok)
        silent_ok.append(ok)
        print(f"{term:<12} {len(truth):>7} {len(rows):>7} {recall:>7.3f} {total_ok!s:>8} "
              f"{first:>6} {ok!s:>9} {took:>6.0f}")  # fmt: skip
    r = np.array(recalls)
    print(
        f"keyword recall of containing passages: mean {r.mean():.3f}, min {r.min():.3f}; "
        f"terms at >= 0.99: {int((r >= 0.99).sum())}/{len(r)}\n"
        f"hybrid first page holding the term in >= 9 of 10: "
        f"{sum(f >= 9 for f in first_pages)}/{len(first_pages)}\n"
        f"total/total_capped true: {sum(totals_ok)}/{len(totals_ok)}; "
        f"compare silent exactly where unused: {sum(silent_ok)}/{len(silent_ok)}"
    )


if __name__ == "__main__":
    main()
