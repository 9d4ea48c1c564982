"""What every dense backend is: window vectors searched, answers given per passage.

Each passage is embedded as one or more sentence windows (see
:func:`indexer.build.embedding_units`) and its dense score is the cosine of
its best window. A backend stores window vectors in passage-row order;
:class:`Windows` maps windows to passages, so backends differ only in how
they find and score windows. Filters are passage masks applied inside the
search, so a filtered query gets the best passages inside the filter, never
what is left of an unfiltered top-k.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from indexer.errors import UserError
from indexer.filtering import RowDocuments, Scope
from indexer.version import layout

#: The float32 window vectors beside a backend's own files, memory-mapped when read.
VECTORS_FILE = layout.Dense.VECTORS
#: Each window's passage row (:class:`Windows`), saved by every backend.
OWNER_FILE = layout.Dense.OWNER
_COPY_CHUNK = 65_536


class UnknownBackend(ValueError):
    """A dense backend name or manifest record this govspeech cannot build or read."""


class BackendUnavailable(UserError, RuntimeError):
    """A backend that is a service (Milvus) cannot be reached or refused a call; may pass."""


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A backend's type and parameters, as the manifest records them.

    ``backend`` names the implementation (``faiss``); ``index`` is its own
    description (a FAISS index factory string); ``search`` holds its search
    parameters (``nprobe``, ``efSearch``).
    """

    backend: str = "faiss"
    index: str = "Flat"
    search: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackendSpec:
        """A manifest record; an empty one is a version from before backends were recorded."""
        unknown = set(data) - {"backend", "index", "search"}
        if unknown:
            raise UnknownBackend(f"dense backend record has unknown fields {sorted(unknown)}")
        return cls(
            backend=str(data.get("backend", "faiss")),
            index=str(data.get("index", "Flat")),
            search={str(k): int(v) for k, v in dict(data.get("search", {})).items()},
        )

    def describe(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in sorted(self.search.items()))
        return f"{self.backend}:{self.index}" + (f";{params}" if params else "")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where a backend that is a service lives (``MILVUS_URI``, ``MILVUS_TOKEN``).

    Settings, not the manifest, hold it: a version names its collection, the
    deployment says which server (and which secret) to reach it with.
    Backends on local files ignore it.
    """

    uri: str = ""
    token: str = ""
    #: what this deployment's collections are named after (``GOVSPEECH_MILVUS_COLLECTION``)
    namespace: str = "govspeech"


#: No service: what backends on local files are given.
LOCAL = Connection()


class DenseBackend(Protocol):
    """The dense side of an index version, as the builder and the searcher use it."""

    #: What it saves into a version folder: a version missing one cannot be served.
    FILES: ClassVar[tuple[str, ...]]
    spec: BackendSpec

    @classmethod
    def build(
        cls,
        spec: BackendSpec,
        vectors: np.ndarray,
        owner: np.ndarray,
        connection: Connection,
        documents: RowDocuments | None = None,
    ) -> Self:
        """Index window ``vectors`` (float32, unit length); ``owner[i]`` is window i's passage.

        ``documents``: each passage's document, for a backend that filters by their fields
        inside its search (the others filter by row masks)."""
        ...

    @classmethod
    def load(cls, directory: Path, spec: BackendSpec, connection: Connection) -> Self:
        """Open what :meth:`save` wrote into ``directory``."""
        ...

    @classmethod
    def remove(cls, directory: Path, connection: Connection) -> None:
        """Release what a version kept outside ``directory``, before the directory goes."""
        ...

    def save(self, directory: Path) -> None: ...

    def __len__(self) -> int:
        """Number of passages (not windows)."""
        ...

    def problem(self) -> str | None:
        """Why the backend cannot answer now (a server away), or None: what health reports."""
        ...

    def search(
        self, query: np.ndarray, k: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best passages inside ``scope`` (rows, best-window cosines), best first.

        Fewer than ``k`` only when fewer passages are inside the scope.
        """
        ...

    def similarity(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Best-window cosine of each of ``queries`` [q, dim] with passages ``rows``: [rows, q]."""
        ...


class Windows:
    """Which passage each window belongs to; windows are stored in passage order."""

    def __init__(self, owner: np.ndarray) -> None:
        self.owner = np.asarray(owner, dtype=np.int64)
        passages = int(self.owner[-1]) + 1 if self.owner.size else 0
        # windows of passage r: starts[r] .. starts[r + 1]
        self.starts = np.searchsorted(self.owner, np.arange(passages + 1))
        self.counts = np.diff(self.starts)

    @property
    def passages(self) -> int:
        return len(self.starts) - 1

    @property
    def per_passage(self) -> float:
        return max(1.0, self.owner.size / max(self.passages, 1))

    def mask(self, passages: np.ndarray) -> np.ndarray:
        """The windows of the passages a boolean passage mask keeps."""
        return np.repeat(passages, self.counts)

    def of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Window ids of passages ``rows`` and where each passage's run of windows starts."""
        lo, counts = self.starts[rows], self.counts[rows]
        offsets = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        ids = np.repeat(lo - offsets, counts) + np.arange(int(counts.sum()))
        return ids.astype(np.int64), offsets

    def best(self, cosines: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Per passage, the best of its windows' cosines ([windows, q] -> [passages, q])."""
        if offsets.size == 0:
            return np.empty((0, cosines.shape[1] if cosines.ndim == 2 else 1), np.float32)
        return np.maximum.reduceat(cosines, offsets, axis=0)

    def scores(
        self, queries: np.ndarray, rows: np.ndarray, vectors: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Best-window cosine of ``queries`` ([q, dim] or one [dim]) with passages ``rows``:
        [rows, q]; ``vectors(ids)`` gives the exact vectors of window ids, in their order."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(queries)), np.float32)
        ids, offsets = self.of(rows)
        return self.best(vectors(ids) @ queries.T, offsets)

    def first_hits(
        self, ids: np.ndarray, scores: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` passages of a best-first window list, each at its best window."""
        keep = ids >= 0
        rows = self.owner[ids[keep]]
        _, first = np.unique(rows, return_index=True)
        first = np.sort(first)[:k]
        return rows[first], scores[keep][first]


def reserved_memmap(path: Path, shape: tuple[int, int]) -> np.memmap:
    """A new float32 ``.npy`` memory map whose disk blocks are reserved at once.

    A memory map is created sparse; on a full disk, writing into it later is a
    SIGBUS that kills the process without a word. Reserving the blocks makes a
    full disk an OSError (ENOSPC) here, which callers report. The file is always
    a new one: an old file at ``path`` may be a version's vectors under a second
    name (:func:`save_vectors` links), which rewriting in place would destroy.
    """
    path.unlink(missing_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    with path.open("r+b") as f:
        os.posix_fallocate(f.fileno(), 0, path.stat().st_size)
    return out


def release(vectors: np.ndarray) -> None:
    """Let a memory map's pages leave this process; the kernel keeps them in its page cache.

    A build reads or writes every vector in passes (cache to scratch file, training,
    adding, calibration). Each page a pass touched stayed mapped, so the build's resident
    memory grew by the whole file (laws: 544 MB). Pages written through a shared map are
    not lost: the kernel writes them back in its own time. Arrays that map no file are
    left alone.
    """
    mapped = getattr(vectors, "_mmap", None)  # numpy's handle on a np.memmap and its slices
    if isinstance(mapped, mmap.mmap):
        mapped.madvise(mmap.MADV_DONTNEED)


def in_chunks(vectors: np.ndarray, size: int = _COPY_CHUNK) -> Iterator[tuple[int, np.ndarray]]:
    """Consecutive rows as (first row, float32 copy); a map's pages leave after each chunk."""
    for start in range(0, len(vectors), size):
        chunk = np.ascontiguousarray(vectors[start : start + size], np.float32)
        release(vectors)
        yield start, chunk


def gather(vectors: np.ndarray, rows: Sequence[int], part: int = 512) -> np.ndarray:
    """``vectors[rows]`` (ascending rows) as a float32 copy, a part at a time.

    The kernel maps 64 KB around each row a memory map reads, so random rows map far more
    than themselves: a training sample of 65,536 of the laws' 354 k rows mapped the whole
    file. Letting the pages go after each part of 512 rows bounds that at ~32 MB.
    """
    out = np.empty((len(rows), vectors.shape[1]), np.float32)
    for start in range(0, len(rows), part):
        out[start : start + part] = vectors[rows[start : start + part]]
        release(vectors)
    return out


def save_vectors(directory: Path, vectors: np.ndarray) -> np.ndarray:
    """Write ``vectors`` as :data:`VECTORS_FILE`; returns the saved file, mapped afresh.

    When ``vectors`` is a whole ``.npy`` file mapped (a build's scratch file, another
    version's vectors) on the same file system, the file is linked, not copied: no second
    copy on disk or in memory (a copy's written pages were 544 MB of the laws build's
    peak). Otherwise it is copied chunk by chunk. A backend then reads the fresh map, whose
    pages join its memory only where queries look, and lets the source's go.
    """
    target = directory / VECTORS_FILE
    source = _whole_file(vectors)
    if source is None or not _linked(source, target):
        out = reserved_memmap(target, vectors.shape)
        for start, chunk in in_chunks(vectors):
            out[start : start + len(chunk)] = chunk
            release(out)
        out.flush()
        del out
    return np.load(target, mmap_mode="r")


def _linked(source: str, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        return False
    return True


def _whole_file(vectors: np.ndarray) -> str | None:
    """The ``.npy`` file ``vectors`` maps in full as float32 rows, if it does."""
    if not isinstance(vectors, np.memmap) or vectors.filename is None:
        return None
    try:
        whole = np.load(vectors.filename, mmap_mode="r")
    except (OSError, ValueError):
        return None
    same = (
        whole.dtype == np.float32
        and whole.shape == vectors.shape
        and whole.offset == vectors.offset
        and vectors.flags.c_contiguous
    )
    return str(vectors.filename) if same else None


def load_vectors(directory: Path) -> np.ndarray | None:
    """The memory-mapped :data:`VECTORS_FILE` of ``directory``, or None when it has none."""
    path = directory / VECTORS_FILE
    return np.load(path, mmap_mode="r") if path.is_file() else None


def top_rows(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``rows`` by ``scores``, best first, ties by row."""
    if len(rows) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]


def read_rows(vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``vectors[ids]`` in the order of ``ids``, read in ascending order (a memory map's best)."""
    order = np.argsort(ids)
    out = np.empty((len(ids), vectors.shape[1]), np.float32)
    out[order] = vectors[ids[order]]
    return out
