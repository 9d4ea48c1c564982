"""Filters as a scope: which passages a search, trends, compare or origin may return.

Filters are on documents (year, dates, region, speaker, type, source); a mask over the
documents is spread over their passages, so both retrievers apply it *before* they take
their top candidates, and a filtered query gets the best passages inside the filter.
A retriever is handed a :class:`Scope`: the row mask, and the document filters when they
are all that chose its rows, so a part that keeps each row's document fields beside it
(a Milvus collection) filters inside its own search by an expression on those fields,
not by a list of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from indexer.schemas import DocumentInfo, Filters

if TYPE_CHECKING:
    from indexer.store import PassageStore


@dataclass(frozen=True, slots=True)
class RowDocuments:
    """Each passage row's document: what filters read, and what a vector database keeps
    beside each row to filter by."""

    documents: list[DocumentInfo]
    of_row: np.ndarray  # int32 index into ``documents`` of each passage row

    @classmethod
    def of_store(cls, store: PassageStore) -> RowDocuments:
        """The store's documents, and each row's (a document's passages are consecutive)."""
        documents = [document_info(d) for d in store.documents()]
        index = {d.doc_id: i for i, d in enumerate(documents)}
        return cls(documents, np.array([index[x] for x in store.passage_doc_ids()], np.int32))


def when_of(d: DocumentInfo) -> str | None:
    """What date filters compare: the date, else the year (None: neither is known)."""
    return d.date or (str(d.year) if d.year is not None else None)


def document_info(d: dict[str, object]) -> DocumentInfo:
    """A stored document's metadata, as results and filters read it."""
    return DocumentInfo(**{k: d[k] for k in DocumentInfo.model_fields})


@dataclass(frozen=True, slots=True)
class Scope:
    """The passages one retrieval may return: the rows of ``mask``; ``filters`` are the
    document filters that chose them, None once anything else narrowed them (quoted
    phrases, exclusions, a research tool's own rows)."""

    mask: np.ndarray
    filters: Filters | None = None

    def count(self) -> int:
        return int(np.count_nonzero(self.mask))

    def rows(self) -> np.ndarray:
        return np.flatnonzero(self.mask)

    def narrowed(self, keep: np.ndarray | None) -> Scope:
        """Only the rows of ``keep`` too (None: no narrowing)."""
        return self if keep is None else Scope(self.mask & keep)


def scope_of(mask: np.ndarray | None, filters: Filters | None = None) -> Scope | None:
    """The scope of a row mask (None: every row); ``filters``: the filters it is exactly."""
    return None if mask is None else Scope(mask, filters)


def mask_of(scope: Scope | None) -> np.ndarray | None:
    """The row mask of ``scope`` (None: every row), for the parts that read masks."""
    return None if scope is None else scope.mask


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
    when = when_of(d)
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
