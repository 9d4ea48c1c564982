"""One way to reach Milvus: the client, its timeout, its failures as BackendUnavailable.

The same calls run against Milvus Lite (a file path) and a Milvus server or
cluster (``http://host:19530`` plus a token), through ``pymilvus.MilvusClient``.
"""

from __future__ import annotations

import contextlib
import logging
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


def client(connection: Connection) -> MilvusClient:
    """A client for ``connection``; UnknownBackend when pymilvus or the address is missing."""
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # an optional extra
        raise UnknownBackend("Milvus needs pymilvus: pip install 'govspeech[milvus]'") from e
    if not connection.uri:
        raise UnknownBackend("Milvus needs GOVSPEECH_MILVUS_URI (a file or a URL)")
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

    with reaching(uri):
        try:
            return call()
        except MilvusException as e:
            if e.code != _NOT_LOADED:
                raise
            milvus.load_collection(collection)
            return call()


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
