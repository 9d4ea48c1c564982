"""A version's passages in one Milvus collection: what a hit shows, and its BM25 postings.

Each entity is a passage row: its id, document, ordinal, section and text,
and a sparse vector of govspeech's own BM25 score for each of its terms (the
row of the local index's score matrix). A keyword query is then the sparse
vector of its term weights (feedback words included), and Milvus's inner
product is exactly the local BM25 sum: the same tokenisation, folding and
scores, filters applied inside the search. Milvus's own BM25 function would
segment and weigh text its way (per-segment statistics, its jieba) and need
the text indexed twice; this keeps keyword answers equal to the local
backend's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.feedback import POSTING, FeedbackWords
from indexer.filtering import Scope, document_info
from indexer.keyword import Feedback, KeywordHits, TermStats
from indexer.milvus.client import (
    MAX_LIMIT,
    loaded_call,
    query_rows,
    reaching,
    row_filter,
    wait_indexed,
)
from indexer.milvus.filters import add_fields as add_document_fields
from indexer.milvus.filters import fields_of as document_fields
from indexer.milvus.filters import where
from indexer.milvus.text import FORMS, add_fields, fields_of
from indexer.store import StoredPassage

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from indexer.keyword import KeywordIndex
    from indexer.store import Store

_FIELDS = ["row", "passage_id", "doc_id", "ordinal", "section", "text"]
_INSERT_CHUNK = 2_048
#: Milvus refuses an empty sparse vector; a passage without terms (only digits
#: and punctuation dropped by the tokeniser, say) gets this one, which no query has.
_NO_TERM = 2**31 - 2


@dataclass(frozen=True, slots=True)
class PassageParts:
    """What a passages collection is written from: the local version's parts."""

    store: Store
    keyword: KeywordIndex
    clusters: np.ndarray
    feedback: FeedbackWords | None


@dataclass(slots=True)
class Written:
    """What a passages collection received: passages, and characters of each matching form."""

    passages: int = 0
    characters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMS, 0))

    def mean_lengths(self) -> dict[str, float]:
        """A passage's average characters in each form (exact terms' BM25 length norm)."""
        return {f: c / self.passages if self.passages else 0.0 for f, c in self.characters.items()}


def write_passages(milvus: MilvusClient, uri: str, name: str, parts: PassageParts) -> Written:
    """Create collection ``name`` with every passage of the store, its two matching forms, its
    BM25 postings, its near-duplicate cluster and its feedback words' weights.

    A failure drops what was written.
    """
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("passage_id", DataType.VARCHAR, max_length=512)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("section", DataType.VARCHAR, max_length=65_535)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535)
    add_fields(schema)  # the matching forms phrases and exact terms are found in
    add_document_fields(schema)  # what filters are expressions on (doc_id among them)
    schema.add_field("cluster", DataType.INT64)
    schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("feedback", DataType.SPARSE_FLOAT_VECTOR)
    index = milvus.prepare_index_params()
    index.add_index(field_name="terms", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    index.add_index(field_name="feedback", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    index.add_index(field_name="passage_id", index_type="INVERTED")
    with reaching(uri):
        milvus.create_collection(name, schema=schema, index_params=index)
    try:
        with reaching(uri):
            written = _fill(milvus, name, parts)
            milvus.flush(name)  # Lite searches unflushed data slowly (~0.5 s a query)
            wait_indexed(milvus, name)
            milvus.load_collection(name)
    except Exception:
        with contextlib.suppress(Exception):  # never leave half a collection behind
            milvus.drop_collection(name)
        raise
    return written


def _fill(milvus: MilvusClient, name: str, parts: PassageParts) -> Written:
    """Insert every passage with its postings; rows are the keyword index's positions."""
    store, feedback = parts.store, parts.feedback
    batch: list[dict[str, Any]] = []
    written = Written()
    documents = {str(d["doc_id"]): document_fields(document_info(d)) for d in store.documents()}
    for row, (terms, scores) in enumerate(parts.keyword.postings()):
        pairs = feedback.postings([row]) if feedback is not None else np.empty(0, POSTING)
        batch.append(
            {
                "row": row,
                "terms": sparse_postings(terms, scores),
                "cluster": int(parts.clusters[row]),
                "feedback": sparse_postings(pairs["word"], pairs["weight"]),
            }
        )
        if len(batch) == _INSERT_CHUNK:
            _insert(milvus, name, store, batch, written, documents)
            batch = []
    if batch:
        _insert(milvus, name, store, batch, written, documents)
    return written


def _insert(
    milvus: MilvusClient,
    name: str,
    store: Store,
    batch: list[dict[str, Any]],
    written: Written,
    documents: dict[str, dict[str, Any]],
) -> None:
    """Insert ``batch`` with each passage's text, matching forms and document fields."""
    found = store.passages_by_rows([e["row"] for e in batch])
    for e in batch:
        p = found[e["row"]]
        e.update(documents[p.doc_id])
        e.update(
            passage_id=p.passage_id,
            ordinal=p.ordinal,
            section=p.section,
            text=p.text,
        )
        e.update(fields_of(p.text))
        for form, length in FORMS.items():
            written.characters[form] += e[length]
    milvus.insert(name, batch)
    written.passages += len(batch)


def sparse_postings(terms: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    """A passage's row of the BM25 score matrix (or its feedback weights) as a Milvus sparse
    vector."""
    keep = scores > 0
    out = dict(zip(terms[keep].tolist(), scores[keep].tolist(), strict=True))
    return out or {_NO_TERM: 1.0}


class MilvusStore:
    """:class:`indexer.store.PassageStore` over a passages collection.

    Documents are few and small (title, date, speaker...), so they come with the
    version's files and are held in memory; passages are fetched by row. A
    document's passages are consecutive rows, ordinals 0, 1, ..., so its
    neighbours and its whole text are row ranges, read by primary key.
    """

    def __init__(
        self, milvus: MilvusClient, uri: str, collection: str, documents: list[dict[str, object]]
    ) -> None:
        self._milvus = milvus
        self._uri = uri
        self._collection = collection
        self._docs = documents
        self._by_id = {str(d["doc_id"]): d for d in documents}
        counts = [int(str(d["n_passages"])) for d in documents]
        starts = np.r_[0, np.cumsum(counts)].tolist()
        #: each document's rows: range(first, first + its passages)
        self._span = {
            doc_id: range(starts[i], starts[i + 1]) for i, doc_id in enumerate(self._by_id)
        }
        self._rows = int(starts[-1])

    def _query(self, rows: Sequence[int] | np.ndarray) -> list[StoredPassage]:
        found = query_rows(self._milvus, self._uri, self._collection, rows, _FIELDS)
        return sorted((StoredPassage(**{f: e[f] for f in _FIELDS}) for e in found), key=_row)

    def passages_by_rows(self, rows: Sequence[int]) -> dict[int, StoredPassage]:
        return {p.row: p for p in self._query(rows)} if len(rows) else {}

    def passage_row(self, passage_id: str) -> int | None:
        found = loaded_call(
            self._milvus,
            self._uri,
            self._collection,
            lambda: self._milvus.query(
                self._collection,
                filter=f"passage_id == {json.dumps(passage_id, ensure_ascii=False)}",
                output_fields=["row"],
                limit=1,
            ),
        )
        return int(found[0]["row"]) if found else None

    def neighbours(self, doc_id: str, ordinal: int, before: int, after: int) -> list[StoredPassage]:
        span = self._span.get(doc_id, range(0))
        rows = span[max(0, ordinal - before) : ordinal + after + 1]
        return self._query(rows) if rows else []

    def document_passages(self, doc_id: str) -> list[StoredPassage]:
        span = self._span.get(doc_id, range(0))
        return self._query(span) if span else []

    def document(self, doc_id: str) -> dict[str, object] | None:
        return self._by_id.get(doc_id)

    def documents(self) -> Iterator[dict[str, object]]:
        yield from self._docs

    def passage_doc_ids(self) -> list[str]:
        return [doc_id for doc_id, span in self._span.items() for _ in span]

    def passage_texts(self) -> Iterator[tuple[int, str]]:
        for start in range(0, self._rows, MAX_LIMIT):
            rows = np.arange(start, min(start + MAX_LIMIT, self._rows))
            found = query_rows(self._milvus, self._uri, self._collection, rows, ["row", "text"])
            yield from sorted((int(e["row"]), str(e["text"])) for e in found)

    def close(self) -> None:
        """Nothing to close: the client is shared with the version's other parts."""


def _row(p: StoredPassage) -> int:
    return p.row


class MilvusKeyword(TermStats):
    """:class:`indexer.keyword.KeywordSearch` over the passages collection's BM25 postings.

    The vocabulary, document frequencies and per-term maxima come with the
    version's files, so query terms, score bounds and feedback words are the
    local index's; only the postings are read from Milvus.
    """

    #: A term in at most this many passages is scored in the one search of all such terms.
    _TOGETHER = MAX_LIMIT

    def __init__(self, stats: TermStats, milvus: MilvusClient, uri: str, collection: str) -> None:
        super().__init__(stats.vocab, stats.df, stats.term_max, len(stats))
        self._milvus = milvus
        self._uri = uri
        self._collection = collection

    def search(
        self,
        terms: Sequence[str],
        k: int,
        scope: Scope | None = None,
        feedback: Feedback | None = None,
    ) -> KeywordHits:
        """Top ``k`` rows by BM25 inside ``scope``, best first, ties by row (as locally)."""
        weights: dict[int, float] = {}
        for tid, w in self.weights(terms, feedback):  # a repeated word counts twice, as locally
            weights[tid] = weights.get(tid, 0.0) + w
        rows, scores = np.empty(0, np.int64), np.empty(0, np.float32)
        if k > 0 and weights and (scope is None or scope.count()):
            # a few more than asked, so ties at the cut are broken by row, not by Milvus
            limit = min(MAX_LIMIT, k + 16)
            hits = self._sparse([weights], limit, where(scope))[0]
            rows = np.array([h["row"] for h in hits], dtype=np.int64)
            scores = np.array([h["distance"] for h in hits], dtype=np.float32)
            order = np.lexsort((rows, -scores))[:k]
            rows, scores = rows[order], scores[order]
        return KeywordHits(rows, scores, lambda of: self._scores_of(weights, of))

    def _sparse(
        self, data: list[dict[int, float]], limit: int, expression: str = ""
    ) -> list[list[dict[str, Any]]]:
        """One sparse search of the ``terms`` postings (a query vector each in ``data``): the
        rows and their summed BM25 (the inner product), best first."""
        return loaded_call(
            self._milvus,
            self._uri,
            self._collection,
            lambda: self._milvus.search(
                self._collection,
                data=data,
                anns_field="terms",
                limit=limit,
                filter=expression,
                search_params={"metric_type": "IP"},
                output_fields=["row"],
            ),
        )

    def term_scores(self, asked: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """One sparse search, a query vector per term (nq = terms), no filter: each term's
        passages are all its hits when there are at most :attr:`_TOGETHER`; a commoner term
        is scored at its rows alone (:meth:`_scores_of`)."""
        out = [np.zeros(len(rows), np.float32) for _, rows in asked]
        indexed = [
            (i, tid)
            for i, (term, rows) in enumerate(asked)
            if len(rows) and (tid := self.vocab.get(term)) is not None
        ]
        together = [(i, tid) for i, tid in indexed if int(self.df[tid]) <= self._TOGETHER]
        if together:
            limit = max(1, max(int(self.df[tid]) for _, tid in together))
            hits = self._sparse([{tid: 1.0} for _, tid in together], limit)
            for (i, _), found in zip(together, hits, strict=True):
                score = {int(h["row"]): float(h["distance"]) for h in found}
                out[i] = np.array(
                    [score.get(r, 0.0) for r in np.asarray(asked[i][1]).tolist()], np.float32
                )
        for i, tid in indexed:
            if int(self.df[tid]) > self._TOGETHER:
                out[i] = self._scores_of({tid: 1.0}, asked[i][1])
        return out

    def _scores_of(self, weights: dict[int, float], rows: np.ndarray) -> np.ndarray:
        """BM25 of ``rows`` (the query's terms only), summed by the server: a sparse search
        restricted to them. Reading their postings back instead cost ~0.2 ms a row, and an
        exact term asks for every row that contains it."""
        out = np.zeros(len(rows), dtype=np.float32)
        if not weights or not len(rows):
            return out
        wanted = np.unique(np.asarray(rows, dtype=np.int64))
        # every passage holding one of the terms, when they are few (one search, no filter:
        # a filter listing thousands of rows costs Milvus more than the search itself)
        holding = int(sum(int(self.df[t]) for t in weights))
        parts = (
            [None] if holding <= MAX_LIMIT else np.array_split(wanted, -(-len(wanted) // MAX_LIMIT))
        )
        found: dict[int, float] = {}
        for part in parts:
            limit = max(1, holding) if part is None else len(part)
            hits = self._sparse([weights], limit, "" if part is None else row_filter(part))[0]
            found.update((int(h["row"]), float(h["distance"])) for h in hits)
        for i, row in enumerate(np.asarray(rows).tolist()):
            out[i] = found.get(row, 0.0)
        return out


class MilvusClusters:
    """:class:`indexer.version.version.Clusters` from the passages collection's ``cluster``.

    Labels read are kept (up to :data:`_KNOWN` rows, then forgotten at once): a search
    counts the clusters of every matching row, then folds its page, whose rows are among
    them, so the page costs no second call.
    """

    _KNOWN = 1 << 18

    def __init__(self, milvus: MilvusClient, uri: str, collection: str) -> None:
        self._milvus = milvus
        self._uri = uri
        self._collection = collection
        self._known: dict[int, int] = {}

    def of(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        asked = rows.tolist()
        known = self._known
        missing = [r for r in asked if r not in known]
        if len(known) + len(missing) > self._KNOWN:  # forget all, then read all these rows
            known = self._known = {}
            missing = asked
        if missing:
            fields = ["row", "cluster"]
            found = query_rows(self._milvus, self._uri, self._collection, missing, fields)
            known.update((int(e["row"]), int(e["cluster"])) for e in found)
        return np.array([known[r] for r in asked], np.int64)


class MilvusFeedback(FeedbackWords):
    """Feedback words whose per-passage weights are the passages collection's ``feedback``:
    the candidate words (global, small) come with the version's terms; a hybrid query reads
    the weights of its few best dense passages."""

    def __init__(
        self, words: list[str], passages: int, milvus: MilvusClient, uri: str, collection: str
    ) -> None:
        super().__init__(words, np.zeros(1, np.int64), np.empty(0, POSTING))
        self._passages = passages
        self._milvus = milvus
        self._uri = uri
        self._collection = collection

    def __len__(self) -> int:
        return self._passages

    def postings(self, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.empty(0, POSTING)
        found = query_rows(self._milvus, self._uri, self._collection, rows, ["row", "feedback"])
        weights = {int(e["row"]): e["feedback"] for e in found}
        pairs = [
            (word, weight)
            for row in rows
            for word, weight in sorted(weights.get(int(row), {}).items())
            if word != _NO_TERM
        ]
        return np.array(pairs, dtype=POSTING)
