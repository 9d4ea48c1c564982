"""Filters as a row mask: which passages a search, trends, compare or origin may return.

Filters are on documents (year, dates, region, speaker, type, source); a mask over the
documents is spread over their passages, so both retrievers apply it *before* they take
their top candidates, and a filtered query gets the best passages inside the filter.
"""

from __future__ import annotations

import numpy as np

from indexer.schemas import DocumentInfo, Filters


class DocumentFilter:
    """The row mask of any filters over one version's documents."""

    def __init__(self, documents: list[DocumentInfo], row_documents: np.ndarray) -> None:
        self._documents = documents
        self._row_documents = row_documents

    def mask(self, f: Filters) -> np.ndarray | None:
        """Row mask for the filters, or None when there are none."""
        if f.is_empty():
            return None
        allowed = np.array([_doc_matches(d, f) for d in self._documents], dtype=bool)
        return allowed[self._row_documents]


def _doc_matches(d: DocumentInfo, f: Filters) -> bool:
    if f.doc_id is not None and d.doc_id != f.doc_id:
        return False
    if f.year is not None and d.year != f.year:
        return False
    if f.year_from is not None and (d.year is None or d.year < f.year_from):
        return False
    if f.year_to is not None and (d.year is None or d.year > f.year_to):
        return False
    when = d.date or (str(d.year) if d.year is not None else None)
    if f.date_from is not None and (when is None or when[: len(f.date_from)] < f.date_from):
        return False
    if f.date_to is not None and (when is None or when[: len(f.date_to)] > f.date_to):
        return False
    if f.region is not None and not (d.region or "").startswith(f.region.strip()):
        return False
    if f.speaker is not None and f.speaker.strip() not in (d.speaker or ""):
        return False
    if f.doc_type is not None and d.doc_type != f.doc_type.strip():
        return False
    if f.source is not None:
        prefix = f.source.strip()
        if not (d.source.startswith(prefix) or (d.url or "").startswith(prefix)):
            return False
    return True
