"""Dense backend on Milvus: window vectors in a collection, through ``pymilvus.MilvusClient``.

Each index version gets its own collection, named in the version's
``milvus.json``, so a re-index never touches what is being served; removing a
version drops its collection. A collection holds one entity per window: its
position (primary key), its passage row and its float32 vector; a filter
becomes a scalar expression over ``row`` applied inside the search.

Nominees are rescored exactly from a float32 copy of the vectors in the
version folder (a replica's is fetched from the version's meta collection),
memory-mapped as the FAISS backends do, so rescoring never waits on the
network. Milvus Lite allows one process per data file: a build beside a
running service needs ``milvus-lite server`` or a real server.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from indexer.dense.base import (
    OWNER_FILE,
    VECTORS_FILE,
    BackendSpec,
    BackendUnavailable,
    Connection,
    UnknownBackend,
    Windows,
    in_chunks,
    load_vectors,
    read_rows,
    save_vectors,
    top_rows,
)
from indexer.milvus.client import MAX_LIMIT, client, loaded_call, reaching, row_filter
from indexer.version import layout

if TYPE_CHECKING:
    from pymilvus import MilvusClient

POINTER_FILE = layout.Dense.MILVUS
#: Index types this backend builds, with their build parameters; search parameters
#: (``ef``, ``nprobe``) come from the spec.
INDEX_PARAMS: dict[str, dict[str, int]] = {
    "FLAT": {},
    "HNSW": {"M": 16, "efConstruction": 200},
    "IVF_FLAT": {"nlist": 1024},
    "IVF_SQ8": {"nlist": 1024},
}
_INSERT_CHUNK = 4_096
#: Filters keeping up to this many passages are rescored exactly from their vectors when
#: the index walk returns fewer than asked (an HNSW walk can miss inside a tight filter).
_EXACT_PASSAGES = 20_000


def collection_of(directory: Path) -> str | None:
    """The windows collection a version folder names, or None (saved before it was filled)."""
    pointer = directory / POINTER_FILE
    if not pointer.is_file():
        return None
    return str(json.loads(pointer.read_text(encoding="utf-8"))["collection"])


class MilvusBackend:
    """A version's window vectors in one Milvus collection."""

    FILES: ClassVar[tuple[str, ...]] = (POINTER_FILE, OWNER_FILE, VECTORS_FILE)

    def __init__(
        self,
        milvus: MilvusClient,
        uri: str,
        collection: str,
        owner: np.ndarray,
        spec: BackendSpec,
        vectors: np.ndarray,
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
        name = f"{connection.namespace}_{uuid.uuid4().hex[:16]}"
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
        for start, chunk in in_chunks(vectors, _INSERT_CHUNK):
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
        name = collection_of(directory)
        if name is None:
            raise UnknownBackend(f"{directory} names no Milvus collection ({POINTER_FILE})")
        milvus = client(connection)
        with reaching(connection.uri):
            if not milvus.has_collection(name):
                raise BackendUnavailable(f"Milvus at {connection.uri} has no collection {name}")
            milvus.load_collection(name)
        vectors = load_vectors(directory)
        if vectors is None:
            raise UnknownBackend(f"{directory} has no window vectors to rescore with")
        owner = np.load(directory / OWNER_FILE)
        return cls(milvus, connection.uri, name, owner, spec, vectors)

    @classmethod
    def remove(cls, directory: Path, connection: Connection) -> None:
        """Drop the collection a removed version points to."""
        name = collection_of(directory)
        if name is not None:
            with reaching(connection.uri):
                client(connection).drop_collection(name)

    def save(self, directory: Path) -> None:
        text = json.dumps({"collection": self._collection})
        (directory / POINTER_FILE).write_text(text, encoding="utf-8")
        np.save(directory / OWNER_FILE, self._windows.owner)
        self._vectors = save_vectors(directory, self._vectors)

    def __len__(self) -> int:
        return self._windows.passages

    def problem(self) -> str | None:
        """Whether Milvus answers for this version's collection now (one round trip)."""
        try:
            with reaching(self._uri):
                self._client.has_collection(self._collection)
        except BackendUnavailable:
            return "the vector database (Milvus) does not answer; searches wait for it"
        return None

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
        """From the local float32 copy: fetching vectors back from Milvus Lite costs ~0.1 ms
        each (hybrid rescores ~500 windows a query), reading the memory map microseconds."""
        return self._windows.scores(queries, rows, lambda ids: read_rows(self._vectors, ids))
