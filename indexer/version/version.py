"""One index version as a typed object: what a catalog opens and a searcher ranks over.

A version is its parts, each behind the interface it already has: the manifest, the passage
store (:class:`~indexer.store.PassageStore`), the keyword postings
(:class:`~indexer.keyword.KeywordSearch`), the dense backend
(:class:`~indexer.dense.DenseBackend`, read on first use), the near-duplicate clusters
(:class:`Clusters`), the feedback words, the learned terms, the passages' text to match
phrases and exact terms in (:class:`~indexer.query.TextIndex`) and the dense calibration, plus
the documents and the document of each passage row that filters and results read.

:func:`open_version` reads a version folder; a catalog that keeps the version elsewhere
(Milvus, :mod:`indexer.milvus.replica`) makes its parts and calls :func:`assemble`. Nothing
above this module reads a file of a version, so a searcher works the same on every catalog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer import dedup
from indexer.dense import BackendUnavailable, DenseBackend, connection, load_backend
from indexer.errors import UserError
from indexer.feedback import FeedbackWords
from indexer.filtering import RowDocuments
from indexer.fusion import DenseCalibration
from indexer.keyword import KeywordIndex, KeywordSearch
from indexer.manifest import Manifest
from indexer.query import PassageText, TextIndex, compact_form
from indexer.schemas import DocumentInfo
from indexer.settings import Settings
from indexer.store import PassageStore, Store
from indexer.terms import LearnedTerms
from indexer.version import layout

log = logging.getLogger(__name__)


class DamagedIndex(UserError, RuntimeError):
    """A file of the version cannot be read."""


class Clusters(Protocol):
    """The near-duplicate cluster of passage rows (:mod:`indexer.dedup`)."""

    def of(self, rows: np.ndarray) -> np.ndarray:
        """Cluster label of each of ``rows``, in their order."""
        ...


@dataclass(frozen=True, slots=True)
class ClusterArray:
    """Every row's cluster in memory (a local version's mapped file)."""

    labels: np.ndarray

    def of(self, rows: np.ndarray) -> np.ndarray:
        return self.labels[np.asarray(rows, dtype=np.int64)]


@dataclass(eq=False)
class Version:
    """One complete, read-only index version; safe to share between threads."""

    manifest: Manifest
    store: PassageStore
    keyword: KeywordSearch
    clusters: Clusters
    feedback: FeedbackWords | None  # None: built before feedback words were stored
    terms: LearnedTerms
    text: TextIndex  # passages in matching form: phrases, exclusions, exact terms
    compact: TextIndex  # the same without punctuation and spaces: pasted quotes (origin)
    calibration: DenseCalibration
    rows: RowDocuments  # every document, and the rows of each
    load_dense: Callable[[], DenseBackend]
    _dense: DenseBackend | None = field(default=None, init=False, repr=False)
    _dense_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.version

    @property
    def passages(self) -> int:
        return self.rows.passages

    @property
    def documents(self) -> list[DocumentInfo]:
        return self.rows.documents

    @property
    def dense(self) -> DenseBackend:
        """The vector index, read on first use: a keyword search never needs it (nor faiss).

        The service reads it before it serves a version (:class:`indexer.live.LiveIndex`),
        so a damaged file is found then, not by a query.
        """
        if self._dense is None:
            with self._dense_lock:
                if self._dense is None:
                    try:
                        self._dense = self.load_dense()
                    except BackendUnavailable:
                        raise  # a service down is not a damaged index: it may come back
                    except (OSError, RuntimeError, ValueError) as e:
                        raise DamagedIndex(
                            f"the vector index of version {self.name} cannot be read ({e}); "
                            "rebuild it with `govspeech index --full`"
                        ) from e
        return self._dense

    def problem(self) -> str | None:
        """Why a part this version has loaded cannot answer now (Milvus away), or None."""
        return None if self._dense is None else self._dense.problem()

    def close(self) -> None:
        self.store.close()


def open_version(folder: Path, settings: Settings) -> Version:
    """The version in ``folder``."""
    manifest = Manifest.load(folder)
    # mapped, not read: worker processes share one copy in the page cache (laws: 61 MB
    # each), and the columns a query needs are read at memory speed
    store = Store(folder / layout.STORE)
    feedback = FeedbackWords.load(folder)
    if feedback is None and settings.feedback_passages:
        log.warning(
            "version %s was built before feedback words were stored: hybrid search runs "
            "without them until the next `govspeech index`",
            manifest.version,
        )
    return assemble(
        manifest,
        store,
        KeywordIndex.load(folder / layout.Keyword.FOLDER, mmap=True),
        ClusterArray(dedup.of_version(folder, store.passage_texts)),
        feedback,
        LearnedTerms.load(folder),
        # read on first use from the mapped store: a search without quotes or exact terms
        # never pays for it
        PassageText(store.passage_texts, manifest.passages),
        PassageText(store.passage_texts, manifest.passages, compact_form),
        lambda: load_backend(folder, manifest.dense, connection(settings)),
    )


def assemble(
    manifest: Manifest,
    store: PassageStore,
    keyword: KeywordSearch,
    clusters: Clusters,
    feedback: FeedbackWords | None,
    terms: LearnedTerms,
    text: TextIndex,
    compact: TextIndex,
    load_dense: Callable[[], DenseBackend],
) -> Version:
    """A version of these parts, with its documents and the rows of each read from the
    store (a document's passages are consecutive rows)."""
    return Version(
        manifest=manifest,
        store=store,
        keyword=keyword,
        clusters=clusters,
        feedback=feedback,
        terms=terms,
        text=text,
        compact=compact,
        calibration=DenseCalibration.from_dict(manifest.dense_calibration),
        rows=RowDocuments.of_store(store),
        load_dense=load_dense,
    )
