"""FAISS inner-product index over L2-normalised window vectors, scored per passage.

Each passage is embedded as one or more sentence windows (see
:func:`indexer.build.embedding_units`); FAISS holds the window vectors in
passage-row order and ``owner`` maps each window to its passage row.  A
passage's dense score is the cosine of its best window.  Filtering is done
inside FAISS with an ``IDSelectorBitmap`` over windows: the top-k is taken
among allowed passages, never cut from an unfiltered top-k.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

FILE_NAME = "dense.faiss"
OWNER_FILE = "dense_owner.npy"


class DenseIndex:
    """Exact cosine search (vectors are normalised, so inner product = cosine)."""

    def __init__(self, index: faiss.Index, owner: np.ndarray) -> None:
        self._index = index
        self._owner = owner
        # window range of passage r: starts[r] .. starts[r + 1]
        self._starts = np.searchsorted(owner, np.arange(int(owner[-1]) + 2 if owner.size else 1))

    @classmethod
    def build(cls, vectors: np.ndarray, owner: np.ndarray) -> DenseIndex:
        """Index window ``vectors`` (float32 [n, dim], normalised); ``owner`` is ascending."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index, np.asarray(owner, dtype=np.int64))

    def save(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / FILE_NAME))
        np.save(directory / OWNER_FILE, self._owner)

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> DenseIndex:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(directory / FILE_NAME), flags)
        return cls(index, np.load(directory / OWNER_FILE))

    def __len__(self) -> int:
        """Number of passages (not windows)."""
        return len(self._starts) - 1

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` passages (rows, best-window cosines) for one query, restricted to ``mask``."""
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        n_windows = int(self._index.ntotal)
        params = None
        allowed = n_windows
        if mask is not None:
            window_mask = mask[self._owner]
            allowed = int(window_mask.sum())
            # ``bitmap`` must outlive the search: FAISS keeps only a raw pointer.
            bitmap = np.packbits(window_mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(n_windows, faiss.swig_ptr(bitmap))
            params = faiss.SearchParameters(sel=selector)
        if k <= 0 or allowed == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        per = max(1.0, n_windows / max(len(self), 1))
        fetch = min(allowed, int(k * per * 1.25) + 8)
        while True:  # widen until k distinct passages are found or every window is seen
            scores, ids = self._index.search(q, fetch, params=params)
            keep = ids[0] >= 0
            rows = self._owner[ids[0][keep]]
            _, first = np.unique(rows, return_index=True)
            if len(first) >= k or fetch >= allowed:
                break
            fetch = min(allowed, fetch * 2)
        first = np.sort(first)[:k]  # windows come best first, so a row's first hit is its best
        return rows[first], scores[0][keep][first]

    def similarity(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Best-window cosine of ``query`` with the passages at ``rows``."""
        if rows.size == 0:
            return np.empty(0, np.float32)
        lo, hi = self._starts[rows], self._starts[rows + 1]
        windows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
        vecs = self._index.reconstruct_batch(windows.astype(np.int64))
        cos = vecs @ np.asarray(query, dtype=np.float32).reshape(-1)
        return np.maximum.reduceat(cos, np.r_[0, np.cumsum(hi - lo)[:-1]])

    def similarity_all(self, queries: np.ndarray) -> np.ndarray:
        """Best-window cosines of every passage with each query: [passages, queries]."""
        cos = self._index.reconstruct_n(0, int(self._index.ntotal)) @ queries.T
        return np.maximum.reduceat(cos, self._starts[:-1], axis=0)
