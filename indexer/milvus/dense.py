"""Dense backend on Milvus: window vectors in a collection, passages scored by the server.

Each index version gets its own collection, named in the version's
``milvus.json``, so a re-index never touches what is being served; removing a
version drops its collection. A collection holds one entity per window: its
position (primary key), its passage row, its float32 vector (twice, below) and its
document's filterable fields.

A passage's dense score is the cosine of its best window, and Milvus computes
it: each window's vector is stored twice, in ``vector`` under the chosen ANN
index (HNSW...) and in ``exact`` under a FLAT one. A search nominates passages
by a grouping search of ``vector`` on ``row`` (one hit per passage), then scores
them by a grouping search of ``exact`` restricted to their rows, which visits
every window of each: exact scores, as the FAISS backends rescore theirs, with
nothing of the vectors kept or read back by a service (neither the vectors nor
the window-to-passage table are in the version folder). Hybrid's keyword
nominees are scored the same way. Each window keeps its document's filterable fields,
so filters are an expression on them applied inside the search
(:mod:`indexer.milvus.filters`); quoted phrases narrow it to rows. Milvus Lite allows one process per data file: a build beside a running
service needs ``milvus-lite server`` or a real server.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from indexer.dense.base import (
    BackendSpec,
    BackendUnavailable,
    Connection,
    UnknownBackend,
    in_chunks,
    top_rows,
)
from indexer.filtering import RowDocuments, Scope
from indexer.milvus.client import (
    MAX_LIMIT,
    client,
    loaded_call,
    reaching,
    row_filter,
    wait_indexed,
)
from indexer.milvus.filters import add_fields as add_document_fields
from indexer.milvus.filters import row_fields, where
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
#: Filters keeping up to this many passages are scored whole when the index walk returns
#: fewer than asked.
_EXACT_PASSAGES = 4_096


def collection_of(directory: Path) -> str | None:
    """The windows collection a version folder names, or None (saved before it was filled)."""
    pointer = directory / POINTER_FILE
    if not pointer.is_file():
        return None
    return str(json.loads(pointer.read_text(encoding="utf-8"))["collection"])


class MilvusBackend:
    """A version's window vectors in one Milvus collection."""

    FILES: ClassVar[tuple[str, ...]] = (POINTER_FILE,)

    def __init__(
        self,
        milvus: MilvusClient,
        uri: str,
        collection: str,
        passages: int,
        spec: BackendSpec,
        fields: bool,
    ) -> None:
        self.spec = spec
        self._client = milvus
        self._uri = uri
        self._collection = collection
        self._passages = passages
        #: whether each window keeps its document's fields (filters as expressions on them)
        self._fields = fields

    @classmethod
    def build(
        cls,
        spec: BackendSpec,
        vectors: np.ndarray,
        owner: np.ndarray,
        connection: Connection,
        documents: RowDocuments | None = None,
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
        schema.add_field("exact", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
        if documents is not None:  # filters run on these inside the search
            add_document_fields(schema)
        index = milvus.prepare_index_params()
        index.add_index(
            field_name="vector",
            index_type=spec.index,
            metric_type="IP",
            params=INDEX_PARAMS[spec.index],
        )
        index.add_index(field_name="exact", index_type="FLAT", metric_type="IP")
        index.add_index(field_name="row", index_type="INVERTED")
        with reaching(connection.uri):
            milvus.create_collection(name, schema=schema, index_params=index)
        try:
            with reaching(connection.uri):
                cls._fill(milvus, name, vectors, owner, documents)
        except Exception:
            with contextlib.suppress(Exception):  # never leave half a collection behind
                milvus.drop_collection(name)
            raise
        passages = int(owner[-1]) + 1 if len(owner) else 0
        return cls(milvus, connection.uri, name, passages, spec, documents is not None)

    @staticmethod
    def _fill(
        milvus: MilvusClient,
        name: str,
        vectors: np.ndarray,
        owner: np.ndarray,
        documents: RowDocuments | None,
    ) -> None:
        fields = [] if documents is None else row_fields(documents)
        for start, chunk in in_chunks(vectors, _INSERT_CHUNK):
            batch = []
            rows = owner[start : start + len(chunk)]
            of = documents.of(rows).tolist() if documents is not None else []
            for i, v in enumerate(chunk.tolist()):
                entity = {"window": start + i, "row": int(rows[i]), "vector": v, "exact": v}
                if documents is not None:
                    entity.update(fields[of[i]])
                batch.append(entity)
            milvus.insert(name, batch)
        milvus.flush(name)  # Lite searches unflushed data slowly (~0.5 s a query)
        wait_indexed(milvus, name)
        milvus.load_collection(name)

    @classmethod
    def load(cls, directory: Path, spec: BackendSpec, connection: Connection) -> Self:
        pointer = directory / POINTER_FILE
        if not pointer.is_file():
            raise UnknownBackend(f"{directory} names no Milvus collection ({POINTER_FILE})")
        found = json.loads(pointer.read_text(encoding="utf-8"))
        if "passages" not in found:
            raise UnknownBackend(
                f"{directory} was built for an older Milvus layout (its vectors were rescored "
                "locally); rebuild it with `govspeech index --full`"
            )
        return cls.open(
            str(found["collection"]),
            int(found["passages"]),
            spec,
            connection,
            bool(found.get("fields", False)),
        )

    @classmethod
    def open(
        cls, name: str, passages: int, spec: BackendSpec, connection: Connection, fields: bool
    ) -> Self:
        """The collection ``name`` (what a replica, which has no version folder, is given);
        ``fields``: whether its windows keep their documents' fields."""
        milvus = client(connection)
        with reaching(connection.uri):
            if not milvus.has_collection(name):
                raise BackendUnavailable(f"Milvus at {connection.uri} has no collection {name}")
            milvus.load_collection(name)
        return cls(milvus, connection.uri, name, passages, spec, fields)

    @classmethod
    def remove(cls, directory: Path, connection: Connection) -> None:
        """Drop the collection a removed version points to."""
        name = collection_of(directory)
        if name is not None:
            with reaching(connection.uri):
                client(connection).drop_collection(name)

    def save(self, directory: Path) -> None:
        text = json.dumps(
            {"collection": self._collection, "passages": self._passages, "fields": self._fields}
        )
        (directory / POINTER_FILE).write_text(text, encoding="utf-8")

    def __len__(self) -> int:
        return self._passages

    def problem(self) -> str | None:
        """Whether Milvus answers for this version's collection now (one round trip)."""
        try:
            with reaching(self._uri):
                self._client.has_collection(self._collection)
        except BackendUnavailable:
            return "the vector database (Milvus) does not answer; searches wait for it"
        return None

    def search(
        self, query: np.ndarray, k: int, scope: Scope | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        inside = self._passages if scope is None else scope.count()
        want = min(k, inside, MAX_LIMIT)
        if want <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        q = np.asarray(query, np.float32).reshape(1, -1)
        # nominees by the index walk, a few more than asked, then each scored exactly
        nominate = min(MAX_LIMIT, want * 2 + 16)
        rows, _ = self._best_windows(q, nominate, where(scope, self._fields), "vector")[0]
        if len(rows) < want and scope is not None and inside <= _EXACT_PASSAGES:
            rows = scope.rows()  # an HNSW walk can miss inside a tight filter: score them all
        return top_rows(rows, self.similarity(q, rows)[:, 0], want)

    def similarity(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each passage's best window, computed by the server over all windows of ``rows``:
        a grouping search of the ``exact`` field (a FLAT index), restricted to them."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(queries)), np.float32)
        wanted = np.unique(rows)
        best = np.full((len(wanted), len(queries)), np.nan, np.float32)
        for start in range(0, len(wanted), MAX_LIMIT):
            part = wanted[start : start + MAX_LIMIT]
            found = self._best_windows(queries, len(part), row_filter(part), "exact")
            for j, (got, scores) in enumerate(found):
                best[np.searchsorted(wanted, got), j] = scores
        missing = int(np.isnan(best).any(axis=1).sum())
        if missing:  # a FLAT search is exhaustive: a passage without a window is a broken copy
            raise BackendUnavailable(
                f"Milvus collection {self._collection} has no window for {missing} passages"
            )
        return best[np.searchsorted(wanted, rows)]

    def _best_windows(
        self, queries: np.ndarray, limit: int, expression: str, field: str
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, up to ``limit`` passages (rows, best-window cosines) by a grouping search
        of vector ``field``."""
        params = dict(self.spec.search) if field == "vector" else {}
        if "ef" in params:  # a server refuses an HNSW beam narrower than the answer
            params["ef"] = max(params["ef"], limit)
        hits = self._call(
            lambda: self._client.search(
                self._collection,
                data=queries.tolist(),
                anns_field=field,
                limit=limit,
                filter=expression,
                group_by_field="row",
                search_params={"metric_type": "IP", "params": params},
                output_fields=["row"],
            )
        )
        return [
            (
                np.array([h["row"] for h in one], np.int64),
                np.array([h["distance"] for h in one], np.float32),
            )
            for one in hits
        ]

    def _call(self, call: Any) -> Any:
        return loaded_call(self._client, self._uri, self._collection, call)
