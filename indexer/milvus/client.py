"""One way to reach Milvus: the client, its timeout, its failures as BackendUnavailable.

The same calls run against Milvus Lite (a file path) and a Milvus server or
cluster (``http://host:19530`` plus a token), through ``pymilvus.MilvusClient``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from indexer.dense.base import BackendUnavailable, Connection, UnknownBackend

if TYPE_CHECKING:
    from pymilvus import MilvusClient

#: Seconds any one Milvus call may take: a service behind an unreachable Milvus answers
#: 503 within this, it does not hang.
TIMEOUT_S = 5.0
#: Milvus answers at most this many entities per search or query.
MAX_LIMIT = 16_384
#: pymilvus's code for "collection not loaded" (a server restarted since it was loaded).
_NOT_LOADED = 101

T = TypeVar("T")
#: Calls a query made to Milvus, by collection kind (``passages``, ``windows``...): what
#: benchmarks report per query. A count, not a measurement: no lock, no timing.
CALLS: Counter[str] = Counter()


def client(connection: Connection) -> MilvusClient:
    """A client for ``connection``; UnknownBackend when pymilvus or the address is missing."""
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # an optional extra
        raise UnknownBackend("Milvus needs pymilvus: pip install 'govspeech[milvus]'") from e
    if not connection.uri:
        raise UnknownBackend("Milvus needs GOVSPEECH_MILVUS_URI (a file or a URL)")
    # its query iterator warns, on every use against Milvus Lite, that it keeps its own clock
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    if "://" not in connection.uri:  # Milvus Lite's in-process server logs, as errors, the
        # calls pymilvus makes that it does not implement (AllocTimestamp after create_index)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    with reaching(connection.uri):
        return MilvusClient(uri=connection.uri, token=connection.token, timeout=TIMEOUT_S)


@contextlib.contextmanager
def reaching(uri: str) -> Iterator[None]:
    """pymilvus's failures (connection refused, timeouts, server errors) as BackendUnavailable."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as e:
        raise BackendUnavailable(f"Milvus at {uri} did not answer: {e.message}") from e


def loaded_call(milvus: MilvusClient, uri: str, collection: str, call: Callable[[], T]) -> T:
    """``call()``; a collection a restarted server no longer holds in memory is loaded again
    first (without this, searches failed until the service restarted too)."""
    from pymilvus.exceptions import MilvusException

    _count(collection)
    with reaching(uri):
        try:
            return call()
        except MilvusException as e:
            if e.code != _NOT_LOADED:
                raise
            milvus.load_collection(collection)
            return call()


def _count(collection: str) -> None:
    CALLS["passages" if collection.endswith("_passages") else "windows"] += 1


def scan(
    milvus: MilvusClient, uri: str, collection: str, fields: list[str], expression: str = ""
) -> Iterator[dict[str, Any]]:
    """Every entity of ``collection`` that ``expression`` keeps (all: ``""``), with ``fields``.

    One query when they are at most :data:`MAX_LIMIT` (what a phrase or a rare term
    matches); more are paged by the server's query iterator, from the start.
    """
    first = loaded_call(
        milvus,
        uri,
        collection,
        lambda: milvus.query(collection, filter=expression, output_fields=fields, limit=MAX_LIMIT),
    )
    if len(first) < MAX_LIMIT:
        yield from first
        return
    pages = loaded_call(
        milvus,
        uri,
        collection,
        lambda: milvus.query_iterator(
            collection, batch_size=MAX_LIMIT // 2, filter=expression, output_fields=fields
        ),
    )
    try:
        while True:
            _count(collection)
            with reaching(uri):
                page = pages.next()
            if not page:
                return
            yield from page
    finally:
        with contextlib.suppress(Exception):
            pages.close()


def wait_indexed(milvus: MilvusClient, collection: str, timeout: float = 600.0) -> None:
    """Return once every index of ``collection`` covers all its rows.

    Until then Milvus searches the rows not yet indexed exhaustively, so the same query
    can answer differently a moment later; a version is served only once it answers the
    same every time.
    """
    deadline = time.monotonic() + timeout
    while True:
        pending = [
            name
            for name in milvus.list_indexes(collection)
            if (found := milvus.describe_index(collection, name)).get("state") != "Finished"
            or int(found.get("pending_index_rows", 0)) > 0
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"Milvus did not finish indexing {collection} ({pending})")
        time.sleep(0.2)


def query_rows(
    milvus: MilvusClient,
    uri: str,
    collection: str,
    rows: Sequence[int] | np.ndarray,
    fields: list[str],
) -> list[dict[str, Any]]:
    """The entities of passage ``rows`` (any order out), a query per :data:`MAX_LIMIT` rows."""
    ordered = np.unique(np.asarray(rows, dtype=np.int64))
    out: list[dict[str, Any]] = []
    for start in range(0, len(ordered), MAX_LIMIT):
        expression = row_filter(ordered[start : start + MAX_LIMIT])
        out += loaded_call(
            milvus,
            uri,
            collection,
            lambda e=expression: milvus.query(
                collection, filter=e, output_fields=fields, limit=MAX_LIMIT
            ),
        )
    return out


def row_filter(rows: np.ndarray) -> str:
    """A Milvus expression keeping passage ``rows`` (sorted): runs as ranges, the rest listed.

    A document's passages are consecutive rows, so filters by document
    fields (year, region, type) are a few runs, not thousands of ids.
    """
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(rows)]
    ranges, single = [], []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s >= 3:
            ranges.append(f"(row >= {rows[s]} and row <= {rows[e - 1]})")
        else:
            single += rows[s:e].tolist()
    if single:
        ranges.append(f"row in {single}")
    return " or ".join(ranges)
