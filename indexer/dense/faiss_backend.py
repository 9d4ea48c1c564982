"""Dense backends on FAISS: exact (``Flat``), graph (``HNSW…``) and clustered (``IVF…``).

One class serves every FAISS index the factory can name, because they differ
only in two places: the search parameters (``nprobe``, ``efSearch``) and how
an exact search inside a filter is done. Filters are bitmaps over windows
passed to FAISS, so candidates outside the filter are never counted. An ANN
search can still run out of allowed candidates (a filter that keeps one
province's regulations leaves few of them in the probed clusters or along the
graph walk); then the same query runs exhaustively over the filter's windows,
so a filtered query returns the best ``k`` inside the filter or every passage
there is. Best-window scores are read back with ``reconstruct``: exact for
flat storage, and for compressed codes the same decoded vectors the search
itself scored, so fused and dense-only scores agree.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal, Self

import faiss
import numpy as np

from indexer.dense.base import BackendSpec, UnknownBackend, Windows

FILE_NAME = "dense.faiss"
OWNER_FILE = "dense_owner.npy"
#: Filters that keep at most this many windows are searched exhaustively at once:
#: scanning them exactly is cheaper than an ANN walk that mostly meets windows outside.
EXACT_WINDOWS = 20_000
#: Training sample per IVF cluster (FAISS warns below 39).
TRAIN_PER_LIST = 64
_ADD_CHUNK = 65_536

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

    def __init__(self, index: faiss.Index, owner: np.ndarray, spec: BackendSpec) -> None:
        self._index = index  # factory and reader return the concrete type (and own it)
        self._kind = _kind(self._index)
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
    def build(cls, spec: BackendSpec, vectors: np.ndarray, owner: np.ndarray) -> Self:
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
        for start in range(0, len(vectors), _ADD_CHUNK):  # float32 copies one chunk at a time
            index.add(np.ascontiguousarray(vectors[start : start + _ADD_CHUNK], np.float32))
        if isinstance(index, faiss.IndexIVF):
            index.make_direct_map()  # reconstruct() reads best-window scores back
        return cls(index, owner, spec)

    @classmethod
    def load(cls, directory: Path, spec: BackendSpec) -> Self:
        index = faiss.read_index(str(directory / FILE_NAME))
        return cls(index, np.load(directory / OWNER_FILE), spec)

    def save(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / FILE_NAME))
        np.save(directory / OWNER_FILE, self._windows.owner)

    def __len__(self) -> int:
        return self._windows.passages

    # ------------------------------------------------------------------ search
    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        n = int(self._index.ntotal)
        windows = self._windows
        selector, bitmap, allowed, want = None, None, n, min(k, windows.passages)
        if mask is not None:
            window_mask = np.repeat(mask, np.diff(windows.starts))
            allowed = int(window_mask.sum())
            want = min(k, int(mask.sum()))
            # ``bitmap`` must outlive the search: FAISS keeps only a raw pointer.
            bitmap = np.packbits(window_mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        if want <= 0 or allowed == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        fetch = min(allowed, int(k * windows.per_passage * 1.25) + 8)
        exhaustive = self._kind == "flat" or allowed <= EXACT_WINDOWS
        while True:  # widen until enough distinct passages, or every allowed window is seen
            scores, ids = self._run(q, fetch, selector, exhaustive)
            rows, best = windows.first_hits(ids[0], scores[0], k)
            ran_out = bool((ids[0] < 0).any())
            if len(rows) >= want or (fetch >= allowed and (exhaustive or not ran_out)):
                return rows, best
            if ran_out and not exhaustive:
                exhaustive = True  # the ANN walk met too few allowed windows
            else:
                fetch = min(allowed, fetch * 2)

    def _run(
        self, q: np.ndarray, fetch: int, selector: faiss.IDSelector | None, exhaustive: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        # A query is one vector: FAISS's OpenMP team only adds barrier waits (flat search
        # of 32 k windows: 6.2 ms on one thread, 17-24 ms on two while another process
        # ran), and concurrent queries use every core through the request threads.
        # OpenMP keeps the thread count per calling thread, so each search sets it.
        faiss.omp_set_num_threads(1)
        index = self._index
        if self._kind == "ivf":
            nprobe = index.nlist if exhaustive else index.nprobe
            return index.search(
                q, fetch, params=faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            )
        if self._kind == "hnsw":
            if not exhaustive:
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
                return index.search(q, fetch, params=params)
            index = faiss.downcast_index(index.storage)  # the same vectors, scanned in full
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        return index.search(q, fetch, params=params)

    def similarity(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self._index.d)
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(queries)), np.float32)
        ids, offsets = self._windows.of(rows)
        return self._windows.best(self._index.reconstruct_batch(ids) @ queries.T, offsets)


def _train_size(index: faiss.Index, n: int) -> int:
    lists = index.nlist if isinstance(index, faiss.IndexIVF) else 256
    return min(n, max(lists * TRAIN_PER_LIST, 10_000))


def _sample(vectors: np.ndarray, size: int) -> np.ndarray:
    """A fixed random sample, copied row by row (``vectors`` may be a memory map)."""
    rows = sorted(random.Random(0).sample(range(len(vectors)), size))
    return np.ascontiguousarray(vectors[rows], np.float32)
