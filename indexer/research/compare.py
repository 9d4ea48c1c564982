"""The best passage of each region, document or year for one query, side by side.

"How do the provinces word 新质生产力 in their 2026 reports": every passage
inside the filters is scored as hybrid search scores it, and each group shows
its best. A group none of whose passages uses all of the query's keyword
terms (冰雪 and 经济 for 冰雪经济) is listed as saying nothing rather than given
its least bad paraphrase; a question's key term is best given in quotes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from indexer.query import parse_query
from indexer.research.schemas import CompareParams, CompareResponse, CompareRow, GroupKey

if TYPE_CHECKING:
    from indexer.schemas import DocumentInfo
    from indexer.search import Searcher


def compare(searcher: Searcher, params: CompareParams) -> CompareResponse:
    """Best passage per group for ``params.q``; notes on the query go in its message."""
    started = time.perf_counter()
    parsed = parse_query(params.q)
    filters = params.filters()
    n = len(searcher.row_documents)
    inside = searcher.mask(filters)
    inside = np.ones(n, dtype=bool) if inside is None else inside
    if parsed.restricts:
        inside = inside & searcher.passage_text.mask(parsed)
    if not parsed.text:  # only exclusions
        inside = np.zeros(n, dtype=bool)
    docs = searcher.documents
    keys = [_key(d, params.by) for d in docs]
    present = sorted({keys[i] for i in np.unique(searcher.row_documents[inside])}, key=str)
    rows = np.flatnonzero(inside)
    message = None
    best: dict[GroupKey, tuple[int, float]] = {}
    speaks: set[GroupKey] = set()
    if rows.size:
        query = parsed.text
        ranking = searcher.hybrid_ranking(query, rows, inside)  # best first
        own = np.ones(rows.size, dtype=bool)  # passages that use every word of the query
        for term in searcher.keyword.query_terms(query):
            own &= searcher.keyword.search(term, 0).of(ranking.rows) > 0
        doc_of = searcher.row_documents[ranking.rows]
        for i, (row, score) in enumerate(zip(ranking.rows, ranking.scores, strict=True)):
            key = keys[doc_of[i]]
            best.setdefault(key, (int(row), float(score)))
            if own[i]:
                speaks.add(key)
    else:
        message = "no passage matches these filters and phrases; remove or widen one"

    marked = searcher.keyword.query_terms(parsed.free if parsed.phrases else parsed.text)
    marked += list(parsed.phrases)
    texts = searcher.store.passages_by_rows([best[k][0] for k in present if k in speaks])
    found = [k for k in present if k in speaks]
    if params.by != "year":
        found.sort(key=lambda k: -best[k][1])
    out = [
        CompareRow(
            key=k,
            label=_label(k, docs, params.by),
            hit=searcher.hit(texts[best[k][0]], rank, best[k][1], marked),
        )
        for rank, k in enumerate(found, start=1)
    ]
    out += [
        CompareRow(key=k, label=_label(k, docs, params.by), says_nothing=True)
        for k in present
        if k not in speaks
    ]
    if params.by == "year":  # a timeline: silent years in their place
        out.sort(key=lambda r: str(r.key))
    if rows.size and not found:
        message = "no group uses all of these words; try other words or a broader filter"
    if parsed.notes:
        message = "; ".join([*parsed.notes, *([message] if message and parsed.text else [])])
    return CompareResponse(
        query=params.q.strip(),
        by=params.by,
        filters=filters,
        rows=out,
        message=message,
        version=searcher.version,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _key(d: DocumentInfo, by: str) -> GroupKey:
    return d.doc_id if by == "document" else getattr(d, by) or None


def _label(key: GroupKey, docs: list[DocumentInfo], by: str) -> str:
    if key is None:
        return "（未注明）"
    if by == "document":
        return next(d.title for d in docs if d.doc_id == key)
    return str(key)
