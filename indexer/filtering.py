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
    beside each row to filter by.

    A document's passages are consecutive rows, so it is kept as spans: the first row of
    each run of one document's passages and that document (memory per document, never
    per passage: a replica holds nothing that grows with the passages). A per-row array
    is made only for the request that needs one (:meth:`spread`).
    """

    documents: list[DocumentInfo]
    starts: np.ndarray  # int64 first row of each run, ascending
    owners: np.ndarray  # int64 index into ``documents`` of each run
    passages: int

    @classmethod
    def of_store(cls, store: PassageStore) -> RowDocuments:
        """The store's documents, and the runs of rows of each one."""
        documents = [document_info(d) for d in store.documents()]
        return cls.of_ids(documents, store.passage_doc_ids())

    @classmethod
    def of_ids(cls, documents: list[DocumentInfo], doc_ids: list[str]) -> RowDocuments:
        """``documents`` and the runs of each one's id in ``doc_ids`` (each row's document)."""
        index = {d.doc_id: i for i, d in enumerate(documents)}
        starts = [r for r in range(len(doc_ids)) if r == 0 or doc_ids[r] != doc_ids[r - 1]]
        owners = [index[doc_ids[r]] for r in starts]
        return cls(documents, np.array(starts, np.int64), np.array(owners, np.int64), len(doc_ids))

    def of(self, rows: np.ndarray | int) -> np.ndarray:
        """The document index of each of ``rows``."""
        runs = np.searchsorted(self.starts, np.asarray(rows, dtype=np.int64), side="right") - 1
        return self.owners[runs]

    def spread(self, values: np.ndarray) -> np.ndarray:
        """A per-document array as a per-row one (each row gets its document's value)."""
        lengths = np.diff(np.append(self.starts, self.passages))
        return np.repeat(np.asarray(values)[self.owners], lengths)


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

    def __init__(self, rows: RowDocuments) -> None:
        self._rows = rows

    def mask(self, f: Filters) -> np.ndarray | None:
        """Row mask for the filters, or None when there are none."""
        if f.is_empty():
            return None
        allowed = np.array([_doc_matches(d, f) for d in self._rows.documents], dtype=bool)
        return self._rows.spread(allowed)


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
