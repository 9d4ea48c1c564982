"""How much the archive says about a query, per year, region or document type.

Two counts answer two questions. *Exact*: passages (and their documents) that
contain every word or quoted phrase of the query verbatim after folding, so
"when did 新质生产力 enter official language" has a checkable answer. *Scored*:
passages the hybrid ranking puts at or above ``min_score``, which also counts
paraphrases (capped by the ranking's pool of ``MAX_HITS``). Exact counts are
also given per 100,000 characters of the group's text, so a year with a long
report does not look more interested. Years between the first and the last
that the archive holds no document for are listed as missing, never as zero;
documents without a year (region, type) are counted apart, never as a group.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from indexer.research.schemas import GroupKey, TrendGroup, TrendParams, TrendResponse
from indexer.schemas import MAX_HITS, BodyFilters, Filters, SearchRequest

if TYPE_CHECKING:
    from indexer.search import Searcher


def trends(searcher: Searcher, params: TrendParams, budget: float | None = None) -> TrendResponse:
    """Counts of ``params.q`` per group; notes on the query go in its message.

    ``budget`` (seconds) stops it with SearchTimeout between its stages, as a search."""
    started = time.perf_counter()
    check = searcher.budget(started, budget)
    analysis = searcher.analyse(params.q, check)
    parsed = analysis.parsed
    terms = analysis.required
    filters = params.filters()
    n = searcher.passage_count
    inside = searcher.mask(filters)
    if inside is not None and not inside.any():
        return _nothing_inside(searcher, params, terms, filters, started)
    inside = np.ones(n, dtype=bool) if inside is None else inside
    exact = inside & searcher.uses(analysis) & bool(parsed.text)
    if parsed.excluded:
        exact &= searcher.syntax_mask(parsed, check)
    check()

    keys, group_of_doc = _groups(searcher, params.by)
    group_of_row = searcher.by_row(group_of_doc)
    m = len(keys)
    docs_inside = np.unique(searcher.document_of(np.flatnonzero(inside)))
    docs_exact = np.unique(searcher.document_of(np.flatnonzero(exact)))
    passages_total = np.bincount(group_of_row[inside], minlength=m)
    chars = np.bincount(group_of_row[inside], weights=searcher.lengths[inside], minlength=m)
    documents_total = np.bincount(group_of_doc[docs_inside], minlength=m)
    passages = np.bincount(group_of_row[exact], minlength=m)
    documents = np.bincount(group_of_doc[docs_exact], minlength=m)

    pool = searcher.pool(
        SearchRequest(
            q=params.q,
            mode="hybrid",
            min_score=params.min_score,
            collapse=False,
            filters=BodyFilters(**filters.model_dump()),
        ),
        started,
        budget,
        analysis=analysis,
    )
    scored_rows = pool.ranked.rows
    scored = np.bincount(group_of_row[scored_rows], minlength=m)

    groups = []
    for g in _order(keys, params.by, documents_total):
        if documents_total[g] == 0 and params.by != "year":
            continue
        missing = bool(documents_total[g] == 0)
        groups.append(
            TrendGroup(
                key=keys[g],
                missing=missing,
                documents_total=int(documents_total[g]),
                passages_total=int(passages_total[g]),
                chars=int(chars[g]),
                documents=None if missing else int(documents[g]),
                passages=None if missing else int(passages[g]),
                per_100k_chars=None
                if missing or chars[g] == 0
                else round(float(passages[g] / chars[g] * 100_000), 3),
                scored=None if missing else int(scored[g]),
            )
        )
    unrecorded = next((g for g in groups if g.key is None), None)
    groups = [g for g in groups if g.key is not None]
    found = int(exact.sum())
    said = list(parsed.notes)
    if not found and parsed.text:
        where = "" if filters.is_empty() else " within the filters"
        typed = analysis.typed
        said.append("no passage contains " + " and ".join(f"“{t}”" for t in typed) + where)
    message = "; ".join(said) or None
    return TrendResponse(
        query=params.q.strip(),
        by=params.by,
        terms=terms,
        min_score=params.min_score,
        filters=filters,
        documents=len(docs_exact),
        passages=found,
        scored=len(scored_rows),
        scored_capped=len(scored_rows) >= MAX_HITS,
        groups=groups,
        unrecorded=unrecorded,
        message=message,
        version=searcher.version.name,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _nothing_inside(
    searcher: Searcher, params: TrendParams, terms: list[str], filters: Filters, started: float
) -> TrendResponse:
    """The filters match no document: say so, rather than count zero in every year."""
    return TrendResponse(
        query=params.q.strip(),
        by=params.by,
        terms=terms,
        min_score=params.min_score,
        filters=filters,
        documents=0,
        passages=0,
        scored=0,
        groups=[],
        message="no document matches these filters; remove or widen a filter",
        version=searcher.version.name,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _groups(searcher: Searcher, by: str) -> tuple[list[GroupKey], np.ndarray]:
    """Group keys and each document's group; for years, every year from first to last."""
    values = [getattr(d, by) or None for d in searcher.documents]
    present = {v for v in values if v is not None}
    if by == "year" and present:
        keys: list[GroupKey] = list(range(min(present), max(present) + 1))  # type: ignore[arg-type]
    else:
        keys = sorted(present, key=str)
    if None in values:
        keys.append(None)
    index = {k: i for i, k in enumerate(keys)}
    return keys, np.array([index[v] for v in values], dtype=np.int64)


def _order(keys: list[GroupKey], by: str, documents: np.ndarray) -> list[int]:
    """Years in order; regions and types with the most documents first."""
    if by == "year":
        return list(range(len(keys)))
    return sorted(range(len(keys)), key=lambda g: (-int(documents[g]), str(keys[g])))
