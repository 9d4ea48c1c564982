"""Dense backends on FAISS: exact (``Flat``), graph (``HNSW…``) and clustered (``IVF…``).

One class serves every FAISS index the factory can name, because they differ
only in two places: the search parameters (``nprobe``, ``efSearch``) and how
an exact search inside a filter is done. Filters are bitmaps over windows
passed to FAISS, so candidates outside the filter are never counted. An ANN
search can still run out of allowed candidates (a filter that keeps one
province's regulations leaves few of them in the probed clusters or along the
graph walk); then the same query runs exhaustively over the filter's windows,
so a filtered query returns the best ``k`` inside the filter or every passage
there is. A filter that keeps a small share of the corpus is searched
exhaustively at once, and IVF probes more clusters the narrower the filter.

Compressed codes (SQ8, PQ) only nominate: the window vectors also live in a
float32 file, memory-mapped, and the nominees and every best-window score are
computed from it exactly. On the laws vectors 8-bit codes alone moved the
top 10 (recall 0.92 against exact even at 64 probes, 0.989 scanning
everything), because passages of near-identical clauses sit within 1e-3 of
each other; the file is read only where a query looks, so the resident
memory stays that of the codes.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import ClassVar, Literal, Self

import faiss
import numpy as np

from indexer.dense.base import (
    OWNER_FILE,
    VECTORS_FILE,
    BackendSpec,
    Connection,
    UnknownBackend,
    Windows,
    gather,
    in_chunks,
    load_vectors,
    read_rows,
    save_vectors,
    top_rows,
)
from indexer.filtering import RowDocuments, Scope, mask_of
from indexer.version import layout

FILE_NAME = layout.Dense.FAISS
#: Filters that keep at most this many windows are scored exactly from the vectors
#: (a few MB read); those keeping at most this share of them are searched exhaustively
#: over the codes at once: either is cheaper than an ANN walk that mostly meets windows
#: outside the filter.
EXACT_WINDOWS = 20_000
EXACT_SHARE = 0.1
#: Compressed codes nominate this many times the windows asked for, to be rescored exactly.
RESCORE_FACTOR = 4
#: Training sample per IVF cluster (FAISS warns below 39).
TRAIN_PER_LIST = 64

Kind = Literal["flat", "ivf", "hnsw"]


def _kind(index: faiss.Index) -> Kind:
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    raise UnknownBackend(
        f"FAISS index type {type(index).__name__} is not supported as a dense backend; "
        "use Flat, HNSW… or IVF… factory strings"
    )


class FaissBackend:
    """Window vectors in one FAISS index (inner product = cosine on unit vectors)."""

    FILES: ClassVar[tuple[str, ...]] = (FILE_NAME, OWNER_FILE)

    def __init__(
        self,
        index: faiss.Index,
        owner: np.ndarray,
        spec: BackendSpec,
        vectors: np.ndarray | None = None,
    ) -> None:
        self._index = index  # factory and reader return the concrete type (and own it)
        self._kind = _kind(self._index)
        #: exact float32 vectors when the index holds only codes (a memory map once loaded)
        self._vectors = None if _exact_storage(index) else vectors
        self._windows = Windows(owner)
        self.spec = spec
        unknown = (
            set(spec.search) - {"ivf": {"nprobe"}, "hnsw": {"efSearch"}, "flat": set()}[self._kind]
        )
        if unknown:
            raise UnknownBackend(
                f"search parameters {sorted(unknown)} do not apply to {spec.index}"
            )
        if self._kind == "ivf":
            self._index.nprobe = spec.search.get("nprobe", 1)
        elif self._kind == "hnsw":
            self._index.hnsw.efSearch = spec.search.get("efSearch", 16)

    # ---------------------------------------------------------------- lifecycle
    @classmethod
    def build(
        cls,
        spec: BackendSpec,
        vectors: np.ndarray,
        owner: np.ndarray,
        connection: Connection,  # files in the version directory: unused
        documents: RowDocuments | None = None,  # filters are row masks here: unused
    ) -> Self:
        dim = vectors.shape[1]
        try:
            index = faiss.index_factory(dim, spec.index, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as e:
            raise UnknownBackend(f"FAISS cannot build {spec.index!r}: {e}") from e
        _kind(index)
        if isinstance(index, faiss.IndexIVFPQ):
            index.do_polysemous_training = (
                False  # minutes of annealing for a Hamming filter unused here
            )
        if not index.is_trained:
            index.train(_sample(vectors, _train_size(index, len(vectors))))
        for _, chunk in in_chunks(vectors):
            index.add(chunk)
        if isinstance(index, faiss.IndexIVF):
            index.make_direct_map()  # reconstruct() reads exact storage back
        return cls(index, owner, spec, vectors)

    @classmethod
    def load(cls, directory: Path, spec: BackendSpec, connection: Connection) -> Self:
        index = faiss.read_index(str(directory / FILE_NAME))
        vectors = load_vectors(directory)
        if vectors is None and not _exact_storage(index):
            raise UnknownBackend(f"{directory} holds {spec.index} codes but not {VECTORS_FILE}")
        return cls(index, np.load(directory / OWNER_FILE), spec, vectors)

    @classmethod
    def remove(cls, directory: Path, connection: Connection) -> None:
        """Nothing lives outside the version directory."""

    def save(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / FILE_NAME))
        np.save(directory / OWNER_FILE, self._windows.owner)
        if self._vectors is not None:
            self._vectors = save_vectors(directory, self._vectors)

    def __len__(self) -> int:
        return self._windows.passages

    def problem(self) -> str | None:
        """Files of this process's own disk, already read: nothing to be away."""
        return None

    # ------------------------------------------------------------------ search
    def search(
        self, query: np.ndarray, k: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mask = mask_of(scope)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        n = int(self._index.ntotal)
        windows = self._windows
        selector, bitmap, allowed, want = None, None, n, min(k, windows.passages)
        if mask is not None:
            window_mask = windows.mask(mask)
            allowed = int(window_mask.sum())
            want = min(k, int(mask.sum()))
            # ``bitmap`` must outlive the search: FAISS keeps only a raw pointer.
            bitmap = np.packbits(window_mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        if want <= 0 or allowed == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if mask is not None and allowed <= EXACT_WINDOWS:
            return self._scan(q, np.flatnonzero(mask), k)
        fetch = min(allowed, int(k * windows.per_passage * 1.25) + 8)
        if self._vectors is not None:
            fetch = min(allowed, fetch * RESCORE_FACTOR)
        exhaustive = self._kind == "flat" or allowed <= EXACT_WINDOWS or allowed < EXACT_SHARE * n
        while True:  # widen until enough distinct passages, or every allowed window is seen
            scores, ids = self._run(q, fetch, selector, exhaustive, allowed / n)
            ran_out = bool((ids[0] < 0).any())
            ids, scores = self._rescored(q[0], ids[0], scores[0])
            rows, best = windows.first_hits(ids, scores, k)
            if len(rows) >= want or (fetch >= allowed and (exhaustive or not ran_out)):
                return rows, best
            if ran_out and not exhaustive:
                exhaustive = True  # the ANN walk met too few allowed windows
            else:
                fetch = min(allowed, fetch * 2)

    def _scan(self, q: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of ``rows`` by their exact scores: for a small filter, reading its
        few thousand vectors beats any index (one year of the laws: 0.5 vs 6 ms over IVF)."""
        return top_rows(rows, self.similarity(q, rows)[:, 0], k)

    def _rescored(
        self, q: np.ndarray, ids: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nominees from codes, ranked by their exact cosines (best first)."""
        if self._vectors is None:
            return ids, scores
        ids = ids[ids >= 0]
        exact = self._exact(ids) @ q
        order = np.lexsort((ids, -exact))
        return ids[order], exact[order]

    def _exact(self, ids: np.ndarray) -> np.ndarray:
        if self._vectors is None:
            return self._index.reconstruct_batch(ids)
        return read_rows(self._vectors, ids)

    def _run(
        self,
        q: np.ndarray,
        fetch: int,
        selector: faiss.IDSelector | None,
        exhaustive: bool,
        share: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        # A query is one vector: FAISS's OpenMP team only adds barrier waits (flat search
        # of 32 k windows: 6.2 ms on one thread, 17-24 ms on two while another process
        # ran), and concurrent queries use every core through the request threads.
        # OpenMP keeps the thread count per calling thread, so each search sets it.
        faiss.omp_set_num_threads(1)
        index = self._index
        if self._kind == "ivf":
            # a filter keeping a share of the windows: probe 1/share times the clusters,
            # so about as many allowed windows are met as an unfiltered search meets
            nprobe = (
                index.nlist if exhaustive else min(index.nlist, math.ceil(index.nprobe / share))
            )
            return index.search(
                q, fetch, params=faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            )
        if self._kind == "hnsw":
            if not exhaustive:
                ef = min(4096, math.ceil(index.hnsw.efSearch / share))
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
                return index.search(q, fetch, params=params)
            index = faiss.downcast_index(index.storage)  # the same vectors, scanned in full
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        return index.search(q, fetch, params=params)

    def similarity(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self._windows.scores(queries, rows, self._exact)


def _exact_storage(index: faiss.Index) -> bool:
    """Whether ``reconstruct`` gives the float32 vectors back (not decoded codes)."""
    if isinstance(index, faiss.IndexHNSW):
        return isinstance(faiss.downcast_index(index.storage), faiss.IndexFlat)
    return isinstance(index, faiss.IndexFlat | faiss.IndexIVFFlat)


def _train_size(index: faiss.Index, n: int) -> int:
    lists = index.nlist if isinstance(index, faiss.IndexIVF) else 256
    return min(n, max(lists * TRAIN_PER_LIST, 10_000))


def _sample(vectors: np.ndarray, size: int) -> np.ndarray:
    """A fixed random sample, copied row by row (``vectors`` may be a memory map)."""
    return gather(vectors, sorted(random.Random(0).sample(range(len(vectors)), size)))
