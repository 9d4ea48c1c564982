"""FAISS inner-product index over L2-normalised passage vectors.

FAISS ids are passage rows (0..n-1, added in row order), so no id map is
needed.  Filtering is done inside FAISS with an ``IDSelectorBitmap``: the
top-k is taken among the allowed rows, never cut from an unfiltered top-k.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

FILE_NAME = "dense.faiss"


class DenseIndex:
    """Exact cosine search (vectors are normalised, so inner product = cosine)."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> DenseIndex:
        """Index ``vectors`` (float32 [n, dim], already normalised) in row order."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index)

    def save(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / FILE_NAME))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> DenseIndex:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(str(directory / FILE_NAME), flags))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (rows, cosines) for one query vector, restricted to ``mask`` rows."""
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if mask is not None:
            allowed = int(mask.sum())
            if allowed == 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            k = min(k, allowed)
            # ``bitmap`` must outlive the search: FAISS keeps only a raw pointer.
            bitmap = np.packbits(mask.astype(bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
            params = faiss.SearchParameters(sel=selector)
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores, rows = self._index.search(q, k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def similarity(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` with the passages at ``rows`` (to score another retriever's hits)."""
        if rows.size == 0:
            return np.empty(0, np.float32)
        vecs = self._index.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64))
        return vecs @ np.asarray(query, dtype=np.float32).reshape(-1)
