"""The best passage of each region, document or year for one query, side by side.

"How do the provinces word 新质生产力 in their 2026 reports": every passage
inside the filters is scored as hybrid search scores it, and each group shows
its best. A group none of whose passages uses the query's words (every phrase
and term of its analysis, :meth:`Searcher.uses`, the same test trends count by)
is listed as saying nothing rather than given its least bad paraphrase.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from indexer.filtering import Scope
from indexer.research.schemas import CompareParams, CompareResponse, CompareRow, GroupKey

if TYPE_CHECKING:
    from indexer.schemas import DocumentInfo
    from indexer.search import Searcher


def compare(
    searcher: Searcher, params: CompareParams, budget: float | None = None
) -> CompareResponse:
    """Best passage per group for ``params.q``; notes on the query go in its message.

    ``budget`` (seconds) stops it with SearchTimeout between its stages, as a search."""
    started = time.perf_counter()
    check = searcher.budget(started, budget)
    analysis = searcher.analyse(params.q, check)
    parsed = analysis.parsed
    filters = params.filters()
    n = searcher.passage_count
    scope = searcher.scope(filters)
    within = np.ones(n, dtype=bool) if scope is None else scope.mask
    # every group the filters hold is listed; one whose passages lack a quoted phrase is silent
    inside = within & searcher.syntax_mask(parsed, check) if parsed.restricts else within
    if not parsed.text:  # only exclusions
        inside = np.zeros(n, dtype=bool)
    docs = searcher.documents
    keys = [_key(d, params.by) for d in docs]
    present = sorted(
        {keys[i] for i in np.unique(searcher.document_of(np.flatnonzero(within)))}, key=str
    )
    rows = np.flatnonzero(inside)
    message = None
    best: dict[GroupKey, tuple[int, float]] = {}
    speaks: set[GroupKey] = set()  # groups with a passage that uses the query's words
    if rows.size:
        # best first; quoted phrases make the scope rows, filters alone stay filters
        ranking = searcher.hybrid_ranking(
            analysis, rows, Scope(inside) if parsed.restricts else scope
        )
        check()
        own = searcher.uses(analysis)[ranking.rows]  # passages that use the query's words
        doc_of = searcher.document_of(ranking.rows)
        for i in np.flatnonzero(own):  # each group's best passage among those that use the words
            best.setdefault(keys[doc_of[i]], (int(ranking.rows[i]), float(ranking.scores[i])))
        speaks = set(best)
    else:
        message = "no passage matches these filters and phrases; remove or widen one"

    marked = analysis.marked
    texts = searcher.passages([best[k][0] for k in present if k in speaks])
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
    unrecorded = next((r for r in out if r.key is None), None)  # apart, never a year among years
    out = [r for r in out if r.key is not None]
    if rows.size and not found:
        message = "no group uses all of these words; try other words or a broader filter"
    if parsed.notes:
        message = "; ".join([*parsed.notes, *([message] if message and parsed.text else [])])
    return CompareResponse(
        query=params.q.strip(),
        by=params.by,
        filters=filters,
        rows=out,
        unrecorded=unrecorded,
        message=message,
        version=searcher.version.name,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _key(d: DocumentInfo, by: str) -> GroupKey:
    return d.doc_id if by == "document" else getattr(d, by) or None


def _label(key: GroupKey, docs: list[DocumentInfo], by: str) -> str:
    if key is None:
        return {"year": "（未注明日期）", "region": "（未注明地区）"}.get(by, "（未注明）")
    if by == "document":
        return next(d.title for d in docs if d.doc_id == key)
    return str(key)
