"""SQLite store for documents and passages of one index version.

Passage ``row`` numbers are the positions used by the dense and keyword
indexes, so a search hit maps back to its text and document with one
primary-key lookup.  The file is written once by the builder and opened
read-only by searchers; SQLite connections are per thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from indexer.passage import Passage

if TYPE_CHECKING:
    from corpus.document import Document  # the searcher reads stores without the readers

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    date TEXT,
    year INTEGER,
    speaker TEXT,
    region TEXT,
    doc_type TEXT,
    source TEXT NOT NULL,
    url TEXT,
    extra TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    n_passages INTEGER NOT NULL
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_id, ordinal);
"""

DOC_COLUMNS = ("doc_id", "title", "date", "year", "speaker", "region", "doc_type", "source", "url")


@dataclass(slots=True, frozen=True)
class StoredPassage:
    """A passage row joined with nothing: cheap to fetch in bulk."""

    row: int
    passage_id: str
    doc_id: str
    ordinal: int
    section: str
    text: str


class PassageStore(Protocol):
    """Where a searcher reads passages and documents: this SQLite file, or a Milvus collection."""

    def passages_by_rows(self, rows: Sequence[int]) -> dict[int, StoredPassage]: ...

    def passage_row(self, passage_id: str) -> int | None: ...

    def neighbours(
        self, doc_id: str, ordinal: int, before: int, after: int
    ) -> list[StoredPassage]: ...

    def document_passages(self, doc_id: str) -> list[StoredPassage]: ...

    def document(self, doc_id: str) -> dict[str, object] | None: ...

    def documents(self) -> Iterator[dict[str, object]]: ...

    def passage_doc_ids(self) -> list[str]: ...

    def passage_texts(self) -> Iterator[tuple[int, str]]: ...

    def close(self) -> None: ...


def document_record(doc: Document, n_passages: int) -> dict[str, object]:
    """The metadata of a document as stored and as returned by the API."""
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "date": doc.date,
        "year": doc.year,
        "speaker": doc.speaker,
        "region": doc.region,
        "doc_type": doc.doc_type,
        "source": doc.source,
        "url": doc.url,
        "extra": dict(doc.extra),
        "content_hash": doc.content_hash,
        "n_passages": n_passages,
    }


def write_store(
    path: Path,
    documents: Iterable[tuple[Document, Sequence[Passage]]],
) -> int:
    """Write documents and their passages; returns the number of passages.

    Rows are numbered in iteration order, which is the order vectors and
    keyword entries must be added in.
    """
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
        row = 0
        for doc, passages in documents:
            rec = document_record(doc, len(passages))
            rec["extra"] = json.dumps(rec["extra"], ensure_ascii=False)
            con.execute(
                f"INSERT INTO documents VALUES ({','.join('?' * len(rec))})", tuple(rec.values())
            )
            con.executemany(
                "INSERT INTO passages VALUES (?,?,?,?,?,?)",
                [
                    (row + i, p.passage_id, p.doc_id, p.ordinal, p.section, p.text)
                    for i, p in enumerate(passages)
                ],
            )
            row += len(passages)
        con.commit()
        return row
    finally:
        con.close()


class Store:
    """Read-only access to one version's SQLite file, safe across threads."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"passage store missing: {path}")
        self.path = path
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            con.row_factory = sqlite3.Row
            self._local.con = con
        return con

    def passages_by_rows(self, rows: Sequence[int]) -> dict[int, StoredPassage]:
        """Fetch passages for the given rows (order not kept; look them up by row)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        cur = self._con().execute(
            f"SELECT row, passage_id, doc_id, ordinal, section, text FROM passages "
            f"WHERE row IN ({marks})",
            [int(r) for r in rows],
        )
        return {r["row"]: StoredPassage(*r) for r in cur}

    def passage_row(self, passage_id: str) -> int | None:
        """Row of a passage id, or None when the id is unknown."""
        r = (
            self._con()
            .execute("SELECT row FROM passages WHERE passage_id = ?", (passage_id,))
            .fetchone()
        )
        return None if r is None else int(r[0])

    def neighbours(self, doc_id: str, ordinal: int, before: int, after: int) -> list[StoredPassage]:
        """Passages of the same document around ``ordinal``, in order, itself included."""
        cur = self._con().execute(
            "SELECT row, passage_id, doc_id, ordinal, section, text FROM passages "
            "WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
            (doc_id, ordinal - before, ordinal + after),
        )
        return [StoredPassage(*r) for r in cur]

    def document_passages(self, doc_id: str) -> list[StoredPassage]:
        """All passages of a document in reading order."""
        cur = self._con().execute(
            "SELECT row, passage_id, doc_id, ordinal, section, text FROM passages "
            "WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        )
        return [StoredPassage(*r) for r in cur]

    def document(self, doc_id: str) -> dict[str, object] | None:
        """Document metadata, or None when the id is unknown."""
        r = self._con().execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return None if r is None else _doc_dict(r)

    def documents(self) -> Iterator[dict[str, object]]:
        """Every document's metadata, in storage order."""
        for r in self._con().execute("SELECT * FROM documents ORDER BY rowid"):
            yield _doc_dict(r)

    def passage_doc_ids(self) -> list[str]:
        """Document id of every passage, indexed by row (for the searcher's filter arrays)."""
        return [r[0] for r in self._con().execute("SELECT doc_id FROM passages ORDER BY row")]

    def passage_texts(self) -> Iterator[tuple[int, str]]:
        """(row, text) for every passage, in row order."""
        yield from self._con().execute("SELECT row, text FROM passages ORDER BY row")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def _doc_dict(r: sqlite3.Row) -> dict[str, object]:
    d = dict(r)
    d["extra"] = json.loads(d["extra"]) if d["extra"] else {}
    return d
