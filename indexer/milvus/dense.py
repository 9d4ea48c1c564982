"""Dense backend on Milvus: window vectors in a collection, through ``pymilvus.MilvusClient``.

Each index version gets its own collection, named in the version's
``milvus.json``, so a re-index never touches what is being served; removing a
version drops its collection. A collection holds one entity per window: its
position (primary key), its passage row and its float32 vector; a filter
becomes a scalar expression over ``row`` applied inside the search.

Nominees are rescored exactly. A build's own folder has a float32 copy of the
vectors, memory-mapped as the FAISS backends do, so rescoring never waits on
the network; a replica that serves from Milvus alone (no copy) reads the
windows' vectors back from the collection. Milvus Lite allows one process per
data file: a build beside a running service needs ``milvus-lite server`` or a
real server.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from indexer.dense.base import (
    OWNER_FILE,
    BackendSpec,
    BackendUnavailable,
    Connection,
    UnknownBackend,
    Windows,
    load_vectors,
    read_rows,
    save_vectors,
    top_rows,
)
from indexer.milvus.client import MAX_LIMIT, client, loaded_call, query_rows, reaching, row_filter

if TYPE_CHECKING:
    from pymilvus import MilvusClient

POINTER_FILE = "milvus.json"
#: Index types this backend builds, with their build parameters; search parameters
#: (``ef``, ``nprobe``) come from the spec.
INDEX_PARAMS: dict[str, dict[str, int]] = {
    "FLAT": {},
    "HNSW": {"M": 16, "efConstruction": 200},
    "IVF_FLAT": {"nlist": 1024},
    "IVF_SQ8": {"nlist": 1024},
}
_INSERT_CHUNK = 4_096
#: Index types whose search distances are exact inner products of the float vectors.
EXACT_DISTANCES = frozenset({"FLAT", "HNSW", "IVF_FLAT"})
#: Filters keeping up to this many passages are rescored exactly from their vectors when
#: the index walk returns fewer than asked (an HNSW walk can miss inside a tight filter).
_EXACT_PASSAGES = 20_000


class MilvusBackend:
    """A version's window vectors in one Milvus collection."""

    def __init__(
        self,
        milvus: MilvusClient,
        uri: str,
        collection: str,
        owner: np.ndarray,
        spec: BackendSpec,
        vectors: np.ndarray | None,
    ) -> None:
        self.spec = spec
        self._client = milvus
        self._uri = uri
        self._collection = collection
        self._windows = Windows(owner)
        self._vectors = vectors

    @classmethod
    def build(
        cls,
        spec: BackendSpec,
        vectors: np.ndarray,
        owner: np.ndarray,
        connection: Connection,
    ) -> Self:
        if spec.index not in INDEX_PARAMS:
            raise UnknownBackend(
                f"milvus cannot build {spec.index!r}: use {', '.join(INDEX_PARAMS)}"
            )
        from pymilvus import DataType, MilvusClient

        milvus = client(connection)
        name = f"govspeech_{uuid.uuid4().hex[:16]}"
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("window", DataType.INT64, is_primary=True)
        schema.add_field("row", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
        index = milvus.prepare_index_params()
        index.add_index(
            field_name="vector",
            index_type=spec.index,
            metric_type="IP",
            params=INDEX_PARAMS[spec.index],
        )
        index.add_index(field_name="row", index_type="INVERTED")
        with reaching(connection.uri):
            milvus.create_collection(name, schema=schema, index_params=index)
        try:
            with reaching(connection.uri):
                cls._fill(milvus, name, vectors, owner)
        except Exception:
            with contextlib.suppress(Exception):  # never leave half a collection behind
                milvus.drop_collection(name)
            raise
        return cls(milvus, connection.uri, name, np.asarray(owner, np.int64), spec, vectors)

    @staticmethod
    def _fill(milvus: MilvusClient, name: str, vectors: np.ndarray, owner: np.ndarray) -> None:
        for start in range(0, len(vectors), _INSERT_CHUNK):
            chunk = np.asarray(vectors[start : start + _INSERT_CHUNK], np.float32)
            milvus.insert(
                name,
                [
                    {"window": start + i, "row": int(owner[start + i]), "vector": v}
                    for i, v in enumerate(chunk)
                ],
            )
        milvus.flush(name)  # Lite searches unflushed data slowly (~0.5 s a query)
        milvus.load_collection(name)

    @classmethod
    def load(cls, directory: Path, spec: BackendSpec, connection: Connection) -> Self:
        pointer = json.loads((directory / POINTER_FILE).read_text(encoding="utf-8"))
        milvus = client(connection)
        name = str(pointer["collection"])
        with reaching(connection.uri):
            if not milvus.has_collection(name):
                raise BackendUnavailable(f"Milvus at {connection.uri} has no collection {name}")
            milvus.load_collection(name)
        owner = np.load(directory / OWNER_FILE)
        return cls(milvus, connection.uri, name, owner, spec, load_vectors(directory))

    @classmethod
    def remove(cls, directory: Path, connection: Connection) -> None:
        """Drop the collection a removed version points to."""
        pointer = directory / POINTER_FILE
        if pointer.is_file():
            name = str(json.loads(pointer.read_text(encoding="utf-8"))["collection"])
            with reaching(connection.uri):
                client(connection).drop_collection(name)

    def save(self, directory: Path) -> None:
        text = json.dumps({"collection": self._collection})
        (directory / POINTER_FILE).write_text(text, encoding="utf-8")
        np.save(directory / OWNER_FILE, self._windows.owner)
        if self._vectors is not None:
            save_vectors(directory, self._vectors)

    def __len__(self) -> int:
        return self._windows.passages

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        windows = self._windows
        want = min(k, windows.passages if mask is None else int(mask.sum()))
        if want <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        allowed = None if mask is None else np.flatnonzero(mask)
        q = np.asarray(query, np.float32).ravel()
        expression = "" if allowed is None else row_filter(allowed)
        fetch = min(MAX_LIMIT, int(k * windows.per_passage * 1.25) + 8)
        while True:  # widen until enough distinct passages, or Milvus has no more
            params = dict(self.spec.search)
            if "ef" in params:  # a server refuses an HNSW beam narrower than the answer
                params["ef"] = max(params["ef"], fetch)
            hits = self._search(
                data=[q.tolist()],
                anns_field="vector",
                limit=fetch,
                filter=expression,
                search_params={"metric_type": "IP", "params": params},
            )[0]
            ids = np.array([h["window"] for h in hits], np.int64)
            rows = np.unique(windows.owner[ids])
            if len(rows) >= want or len(ids) < fetch or fetch == MAX_LIMIT:
                break
            fetch = min(MAX_LIMIT, fetch * 2)
        if len(rows) < want and allowed is not None and len(allowed) <= _EXACT_PASSAGES:
            rows = allowed  # the walk missed some inside a tight filter: score them all
        return top_rows(rows, self.similarity(q, rows)[:, 0], want)

    def _search(self, **request: Any) -> Any:
        return loaded_call(
            self._client,
            self._uri,
            self._collection,
            lambda: self._client.search(self._collection, **request),
        )

    def similarity(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """From the local float32 copy when there is one: fetching vectors back from Milvus
        Lite costs ~0.2 ms each (hybrid rescores ~500 windows a query), reading the memory
        map microseconds. Without one, Milvus scores the rows' windows itself."""
        if self._vectors is not None:
            return self._windows.scores(queries, rows, lambda ids: read_rows(self._vectors, ids))
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(queries)), np.float32)
        ids, offsets = self._windows.of(rows)
        cosines = np.stack([self._cosines(q, rows, ids) for q in queries], axis=1)
        return self._windows.best(cosines, offsets)

    def _cosines(self, query: np.ndarray, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` with windows ``ids`` (those of passages ``rows``).

        A search restricted to the rows returns every window's exact distance
        when the index keeps float vectors (Milvus scans so small a filter
        exhaustively): the request carries the query, not the vectors. What it
        does not return, and every window of a compressed index, is scored from
        vectors read back.
        """
        got: dict[int, float] = {}
        if self.spec.index in EXACT_DISTANCES:
            ordered = np.unique(rows)
            per_passage = len(ids) / max(len(ordered), 1)
            step = max(1, int(MAX_LIMIT / per_passage) - 1)
            for start in range(0, len(ordered), step):
                chunk = ordered[start : start + step]
                limit = min(MAX_LIMIT, int(self._windows.counts[chunk].sum()))
                params = dict(self.spec.search)
                if "ef" in params:
                    params["ef"] = max(params["ef"], limit)
                hits = self._search(
                    data=[query.tolist()],
                    anns_field="vector",
                    limit=limit,
                    filter=row_filter(chunk),
                    search_params={"metric_type": "IP", "params": params},
                )[0]
                got.update((int(h["window"]), float(h["distance"])) for h in hits)
        out = np.array([got.get(int(i), np.nan) for i in ids], dtype=np.float32)
        missing = np.flatnonzero(np.isnan(out))
        if missing.size:
            out[missing] = self._remote_vectors(ids[missing]) @ query
        return out

    def _remote_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of window ``ids`` from the collection, in the order of ``ids``."""
        found = query_rows(
            self._client, self._uri, self._collection, ids, ["window", "vector"], key="window"
        )
        by_id = {int(e["window"]): e["vector"] for e in found}
        return np.array([by_id[int(i)] for i in ids], dtype=np.float32).reshape(len(ids), -1)
