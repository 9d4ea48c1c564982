"""The dense side of an index: window vectors behind one small interface.

:mod:`indexer.dense.base` says what a backend is, :mod:`indexer.dense.factory`
picks one by name and records it, :mod:`indexer.dense.faiss_backend` is the
FAISS family (exact, HNSW, IVF with scalar or product codes) and
:mod:`indexer.milvus.dense` a Milvus collection.
"""

from indexer.dense.base import (
    BackendSpec,
    BackendUnavailable,
    Connection,
    DenseBackend,
    UnknownBackend,
    Windows,
)
from indexer.dense.factory import (
    build_backend,
    connection,
    load_backend,
    remove_backend,
    resolve,
)

__all__ = [
    "BackendSpec",
    "BackendUnavailable",
    "Connection",
    "DenseBackend",
    "UnknownBackend",
    "Windows",
    "build_backend",
    "connection",
    "load_backend",
    "remove_backend",
    "resolve",
]
