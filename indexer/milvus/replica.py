"""A version as Milvus collections, and read back from them alone: what a replica serves.

Besides its windows collection (:mod:`indexer.milvus.dense`) and its passages
collection (:mod:`indexer.milvus.passages`: text, postings, cluster, feedback
weights), a version is three small collections, all native fields:

- ``<stem>_documents``: one entity per document, its metadata as the store keeps it;
- ``<stem>_terms``: one entity per vocabulary term (id, document count, best BM25,
  feedback word number) and per learned term;
- ``<stem>_meta``: the manifest, the dense collection's name, the keyword index's
  fingerprint and the passages' mean length in each matching form, then a record written
  last whose presence says the copy is whole.

A replica reads these three when it opens a version and keeps them in memory (what
grows with the documents and the vocabulary, never with the passages or windows);
it writes nothing to disk. Passages, their text (phrases and exact terms are ``like``
expressions, :mod:`indexer.milvus.text`), postings, clusters, feedback weights and
vectors stay in Milvus and are asked for per query.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer import dedup
from indexer.dense import BackendSpec, Connection
from indexer.dense.base import BackendUnavailable
from indexer.feedback import FeedbackWords
from indexer.keyword import TOKENIZER, KeywordIndex, TermStats
from indexer.manifest import Manifest
from indexer.milvus.client import MAX_LIMIT, reaching
from indexer.milvus.dense import MilvusBackend
from indexer.milvus.passages import (
    MilvusClusters,
    MilvusFeedback,
    MilvusKeyword,
    MilvusStore,
    PassageParts,
    write_passages,
)
from indexer.milvus.text import FORMS, MilvusText
from indexer.store import Store
from indexer.terms import LearnedTerms
from indexer.version import layout
from indexer.version.version import Version, assemble
from indexer.versions import IndexNotFound

if TYPE_CHECKING:
    from pymilvus import MilvusClient

_INSERT_CHUNK = 2_048
_DONE = "#done"
_BODY = 65_535  # a VARCHAR's bytes
_TERM_FIELDS = ["term", "id", "df", "term_max", "feedback", "learned"]
#: The meta collection's records besides ``#done`` (written in this order, ``#done`` last).
_RECORDS = ("manifest", "dense", "keyword", "feedback", "text")


@dataclass(frozen=True, slots=True)
class Collections:
    """The names of one version's collections (the windows one is in its meta)."""

    passages: str

    @property
    def stem(self) -> str:
        return self.passages.removesuffix("_passages")

    @property
    def documents(self) -> str:
        return f"{self.stem}_documents"

    @property
    def terms(self) -> str:
        return f"{self.stem}_terms"

    @property
    def meta(self) -> str:
        return f"{self.stem}_meta"

    def all(self) -> list[str]:
        return [self.passages, self.documents, self.terms, self.meta]


# ---------------------------------------------------------------------------------- writing
def write_version(milvus: MilvusClient, uri: str, names: Collections, folder: Path) -> int:
    """Copy the version in ``folder`` into ``names``; the meta's last record says it is whole.

    Returns the number of passages written.
    """
    store = Store(folder / layout.STORE)
    try:
        keyword = KeywordIndex.load(folder / layout.Keyword.FOLDER, mmap=True)
        feedback = FeedbackWords.load(folder)
        clusters = dedup.of_version(folder, store.passage_texts)
        parts = PassageParts(store, keyword, clusters, feedback)
        written = write_passages(milvus, uri, names.passages, parts)
        documents = list(store.documents())
    finally:
        store.close()
    _write_documents(milvus, uri, names.documents, documents)
    terms = _write_terms(milvus, uri, names.terms, keyword, feedback, LearnedTerms.load(folder))
    pointer = json.loads((folder / layout.Dense.MILVUS).read_text(encoding="utf-8"))
    keyword_meta = json.loads((folder / layout.Keyword.FOLDER / layout.Keyword.META).read_text())
    records = {
        "manifest": Manifest.load(folder).as_dict(),
        "dense": pointer,
        "keyword": {"meta": keyword_meta, "num_docs": len(keyword)},
        "feedback": {"stored": feedback is not None},
        "text": {"mean_length": written.mean_lengths()},
        # last: its presence says every collection of the version is whole
        _DONE: {"passages": written.passages, "documents": len(documents), "terms": terms},
    }
    _write_meta(milvus, uri, names.meta, records)
    return written.passages


def _small_collection(milvus: MilvusClient, name: str, fields: list[tuple[str, Any, dict]]) -> None:
    """A collection of scalar fields (Milvus wants a vector field in every one: ``v``, unused)."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    for i, (field, kind, options) in enumerate(fields):
        schema.add_field(field, kind, is_primary=i == 0, **options)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index(field_name="v", index_type="FLAT", metric_type="IP")
    milvus.create_collection(name, schema=schema, index_params=index)


def _insert_all(milvus: MilvusClient, name: str, entities: Iterator[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    count = 0
    for entity in entities:
        batch.append({**entity, "v": [0.0, 0.0]})
        if len(batch) == _INSERT_CHUNK:
            milvus.insert(name, batch)
            count += len(batch)
            batch = []
    if batch:
        milvus.insert(name, batch)
        count += len(batch)
    milvus.flush(name)
    return count


def _write_documents(
    milvus: MilvusClient, uri: str, name: str, documents: list[dict[str, object]]
) -> None:
    from pymilvus import DataType

    fields = [
        ("doc", DataType.INT64, {}),
        ("record", DataType.VARCHAR, {"max_length": _BODY}),
    ]
    with reaching(uri):
        _small_collection(milvus, name, fields)
        _insert_all(
            milvus,
            name,
            (
                {"doc": i, "record": _body(d, f"document {d['doc_id']}")}
                for i, d in enumerate(documents)
            ),
        )


def _write_terms(
    milvus: MilvusClient,
    uri: str,
    name: str,
    keyword: KeywordIndex,
    feedback: FeedbackWords | None,
    learned: LearnedTerms,
) -> int:
    """One entity per vocabulary term and per learned term outside the vocabulary."""
    from pymilvus import DataType

    fields = [
        ("term", DataType.VARCHAR, {"max_length": 1024}),
        ("id", DataType.INT64, {}),
        ("df", DataType.INT64, {}),
        ("term_max", DataType.FLOAT, {}),
        ("feedback", DataType.INT64, {}),
        ("learned", DataType.BOOL, {}),
    ]
    fed = {w: i for i, w in enumerate(feedback.words)} if feedback is not None else {}
    df, term_max = np.asarray(keyword.df), np.asarray(keyword.term_max)

    def entities() -> Iterator[dict[str, Any]]:
        for term, tid in keyword.vocab.items():
            yield {
                "term": term,
                "id": int(tid),
                "df": int(df[tid]),
                "term_max": float(term_max[tid]),
                "feedback": fed.get(term, -1),
                "learned": term in learned,
            }
        for term in sorted(learned.terms - keyword.vocab.keys()):
            yield {
                "term": term,
                "id": -1,
                "df": 0,
                "term_max": 0.0,
                "feedback": -1,
                "learned": True,
            }

    with reaching(uri):
        _small_collection(milvus, name, fields)
        return _insert_all(milvus, name, entities())


def _write_meta(milvus: MilvusClient, uri: str, name: str, records: dict[str, Any]) -> None:
    from pymilvus import DataType

    fields = [
        ("key", DataType.VARCHAR, {"max_length": 64}),
        ("body", DataType.VARCHAR, {"max_length": _BODY}),
    ]
    with reaching(uri):
        _small_collection(milvus, name, fields)
        for key, value in records.items():  # one by one: the last lands last
            milvus.insert(name, [{"key": key, "body": _body(value, key), "v": [0.0, 0.0]}])
        milvus.flush(name)


def _body(value: object, what: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if len(text.encode()) > _BODY:
        raise ValueError(f"{what} is over {_BODY} bytes of JSON: Milvus cannot hold it")
    return text


def whole(milvus: MilvusClient, uri: str, names: Collections, passages: int) -> bool:
    """Every collection exists, the passages are all there, and the meta's last record is."""
    with reaching(uri):
        if not all(milvus.has_collection(n) for n in names.all()):
            return False
        for name in names.all():
            milvus.load_collection(name)
        counted = milvus.query(names.passages, filter="", output_fields=["count(*)"])
        done = milvus.query(names.meta, filter=f'key == "{_DONE}"', output_fields=["body"])
    return int(counted[0]["count(*)"]) == passages and bool(done)


# ---------------------------------------------------------------------------------- reading
def read_version(milvus: MilvusClient, connection: Connection, names: Collections) -> Version:
    """The version in ``names``, read from Milvus alone."""
    uri = connection.uri
    with reaching(uri):
        if milvus.has_collection(names.meta) and not milvus.has_collection(names.terms):
            raise IndexNotFound(
                f"the version in {names.passages} was published by an older govspeech (its "
                "files in chunks, read by a copy on each replica): rebuild it with "
                "GOVSPEECH_CATALOG=milvus govspeech index --full"
            )
        for name in names.all():
            if not milvus.has_collection(name):
                raise BackendUnavailable(f"Milvus has no collection {name}")
            milvus.load_collection(name)
        keys = json.dumps([*_RECORDS, _DONE])
        meta = {
            e["key"]: json.loads(e["body"])
            for e in milvus.query(
                names.meta, filter=f"key in {keys}", output_fields=["key", "body"]
            )
        }
        if _DONE not in meta:
            raise BackendUnavailable(f"Milvus collection {names.meta} is incomplete")
        if "text" not in meta:
            raise IndexNotFound(
                f"the version in {names.passages} was published by an older govspeech (its "
                "passages without their matching forms): rebuild it with "
                "GOVSPEECH_CATALOG=milvus govspeech index --full"
            )
        found = {e["doc"]: e["record"] for e in _scan(milvus, names.documents, ["doc", "record"])}
        documents = [json.loads(found[i]) for i in range(len(found))]  # in row order
        terms = list(_scan(milvus, names.terms, _TERM_FIELDS))
    if meta["keyword"]["meta"]["tokenizer"] != TOKENIZER:
        raise ValueError(
            f"the keyword postings in {names.passages} were built with another tokenizer; "
            "rebuild the index"
        )
    manifest = Manifest.from_dict(meta["manifest"], names.meta)
    n = int(meta["keyword"]["num_docs"])
    indexed = [t for t in terms if t["id"] >= 0]
    vocab = {t["term"]: int(t["id"]) for t in indexed}
    df = np.zeros(len(vocab), np.int64)
    term_max = np.zeros(len(vocab), np.float32)
    ids = np.array([t["id"] for t in indexed], np.int64)
    df[ids] = [t["df"] for t in indexed]
    term_max[ids] = [t["term_max"] for t in indexed]
    stats = TermStats(vocab, df, term_max, n)
    fed = sorted((t["feedback"], t["term"]) for t in indexed if t["feedback"] >= 0)
    feedback = (
        MilvusFeedback([w for _, w in fed], n, milvus, uri, names.passages)
        if meta["feedback"]["stored"]
        else None
    )
    dense = meta["dense"]
    spec = BackendSpec.from_dict(manifest.dense)
    return assemble(
        manifest,
        MilvusStore(milvus, uri, names.passages, documents),
        MilvusKeyword(stats, milvus, uri, names.passages),
        MilvusClusters(milvus, uri, names.passages),
        feedback,
        LearnedTerms(frozenset(t["term"] for t in terms if t["learned"])),
        *(
            MilvusText(milvus, uri, names.passages, form, n, meta["text"]["mean_length"][form])
            for form in FORMS
        ),
        lambda: MilvusBackend.open(
            dense["collection"],
            int(dense["passages"]),
            spec,
            connection,
            bool(dense.get("fields", False)),
        ),
    )


def _scan(milvus: MilvusClient, name: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Every entity of a small collection, a page at a time."""
    pages = milvus.query_iterator(name, batch_size=MAX_LIMIT // 2, output_fields=fields)
    try:
        while page := pages.next():
            yield from page
    finally:
        pages.close()
