"""Phrases, exclusions and exact terms matched by Milvus: a replica holds no passage text.

The passages collection keeps each passage's two matching forms (``match``: folded;
``compact``: folded, without punctuation and spaces) and their lengths. A needle is
found by a ``like`` expression on one of them, run by the server over every passage;
the rows it matches come back with their lengths, not their text; occurrences (the
term frequency exact terms score by) are counted in the text of the rows that need
them, read then: those where the term stands inside a longer word. A character a
``like`` pattern cannot say exactly (a backslash, a control character) becomes a
one-character wildcard, and the text is read to drop what the wildcard let in, so
the answer is the local :class:`~indexer.query.PassageText`'s. Quoted phrases and
exclusions together are one expression, answered by one query.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.milvus.client import loaded_call, query_rows, scan
from indexer.query import FoundText, ParsedQuery, compact_form
from indexer.textnorm import normalize_for_match

if TYPE_CHECKING:
    from pymilvus import CollectionSchema, MilvusClient

#: The two forms a passages collection keeps: field of the text, field of its length.
FORMS = {"match": "match_length", "compact": "compact_length"}
#: Rows whose length a text index keeps from the postings it read (exact terms' BM25
#: asks for the lengths of the rows it was just given); then it forgets them all.
_KNOWN = 1 << 18


def add_fields(schema: CollectionSchema) -> None:
    """The fields a collection needs for :class:`MilvusText` (besides its ``row``)."""
    from pymilvus import DataType

    for form, length in FORMS.items():
        schema.add_field(form, DataType.VARCHAR, max_length=65_535)
        schema.add_field(length, DataType.INT64)


def fields_of(text: str) -> dict[str, Any]:
    """A passage's values of those fields: each matching form and its length."""
    forms = {"match": normalize_for_match(text), "compact": compact_form(text)}
    out: dict[str, Any] = {}
    for form, length in FORMS.items():
        out[form] = forms[form]
        out[length] = len(forms[form])
    return out


def _unspellable(ch: str) -> bool:
    """A character an expression's string cannot hold as itself (Milvus Lite's ``like``
    misreads an escaped backslash; a raw control character ends the expression)."""
    return ch == "\\" or ord(ch) < 32


def _quoted(body: str) -> str:
    return '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str | None:
    """``value`` as an expression's string literal; None when it cannot be spelled."""
    return None if any(map(_unspellable, value)) else _quoted(value)


def _like_body(value: str) -> tuple[str, bool]:
    """``value`` inside a ``like`` pattern, and whether exactly (each character it cannot
    spell is then a one-character wildcard)."""
    body = "".join("_" if _unspellable(c) else "\\" + c if c in "%_" else c for c in value)
    return body, not any(map(_unspellable, value))


def pattern(value: str, prefix: bool = False) -> str | None:
    """A ``like`` pattern for text starting with (``prefix``) or containing ``value``,
    as a string literal; None when it cannot be spelled exactly."""
    body, exact = _like_body(value)
    return _quoted(("" if prefix else "%") + body + "%") if exact else None


def like(field: str, needle: str) -> tuple[str, bool]:
    """The expression keeping passages whose ``field`` contains ``needle``, and whether it is
    exact (False: a one-character wildcard stands for each character it cannot spell)."""
    body, exact = _like_body(needle)
    return f"{field} like {_quoted('%' + body + '%')}", exact


class MilvusText(FoundText):
    """:class:`~indexer.query.TextIndex` over one matching form in a passages collection."""

    def __init__(
        self,
        milvus: MilvusClient,
        uri: str,
        collection: str,
        form: str,
        passages: int,
        mean_length: float,
    ) -> None:
        super().__init__(passages)
        self._milvus = milvus
        self._uri = uri
        self._collection = collection
        self._field = form
        self._length_field = FORMS[form]
        self._mean = mean_length
        self._known: dict[int, int] = {}
        self._known_lock = threading.Lock()

    @property
    def mean_length(self) -> float:
        return self._mean

    @property
    def lengths(self) -> np.ndarray:
        """Every passage's length, read from the server (trends divide by them)."""
        out = np.zeros(self._n, np.int64)
        for e in scan(self._milvus, self._uri, self._collection, ["row", self._length_field]):
            out[int(e["row"])] = int(e[self._length_field])
        return out

    def lengths_of(self, rows: np.ndarray) -> np.ndarray:
        asked = np.asarray(rows, dtype=np.int64).tolist()
        with self._known_lock:
            known = {r: n for r in asked if (n := self._known.get(r)) is not None}
        missing = [r for r in asked if r not in known]
        if missing:
            fields = ["row", self._length_field]
            for e in query_rows(self._milvus, self._uri, self._collection, missing, fields):
                known[int(e["row"])] = int(e[self._length_field])
        return np.array([known[r] for r in asked], np.int64)

    def text(self, row: int) -> str:
        found = query_rows(self._milvus, self._uri, self._collection, [row], [self._field])
        return str(found[0][self._field]) if found else ""

    def says(self, needle: str) -> bool:
        """One row is enough (a dense search analyses its words, and needs no more)."""
        expression, exact = like(self._field, needle)
        if not needle or not exact or self._cached(needle) is not None:
            return super().says(needle)  # from the rows known, or found as locally
        one = loaded_call(
            self._milvus,
            self._uri,
            self._collection,
            lambda: self._milvus.query(
                self._collection, filter=expression, output_fields=["row"], limit=1
            ),
        )
        return bool(one)

    def _find(self, needle: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows and their lengths, no text (a common word is in thousands of passages);
        with a wildcard, the text too, to drop what it let in and count the rest."""
        expression, exact = like(self._field, needle)
        if exact:
            fields = ["row", self._length_field]
            found = scan(self._milvus, self._uri, self._collection, fields, expression)
            lengths = {int(e["row"]): int(e[self._length_field]) for e in found}
            self._remember(lengths)
            return np.array(sorted(lengths), np.int64), None
        counted: dict[int, int] = {}
        lengths = {}
        for e in scan(self._milvus, self._uri, self._collection, ["row", self._field], expression):
            text = str(e[self._field])
            if tf := text.count(needle):  # what re.finditer counts: non-overlapping
                counted[int(e["row"])] = tf
                lengths[int(e["row"])] = len(text)
        self._remember(lengths)
        rows = np.array(sorted(counted), np.int64)
        return rows, np.array([counted[r] for r in rows.tolist()], np.float32)

    def _count(self, needle: str, rows: np.ndarray) -> np.ndarray:
        """Occurrences in ``rows``, read from their text: exact terms ask only for the rows
        where the term is not a word of the keyword index (inside a longer word)."""
        found = query_rows(self._milvus, self._uri, self._collection, rows, ["row", self._field])
        counted = {int(e["row"]): str(e[self._field]).count(needle) for e in found}
        return np.array([counted.get(r, 0) for r in rows.tolist()], np.float32)

    def _remember(self, lengths: dict[int, int]) -> None:
        with self._known_lock:
            if len(self._known) + len(lengths) > _KNOWN:
                self._known = {}
            self._known.update(lengths)

    def mask(
        self, parsed: ParsedQuery, check: Callable[[], None] | None = None
    ) -> np.ndarray | None:
        """Phrases and exclusions as one expression, one query (needles ``like`` cannot
        spell exactly are matched one by one, as locally)."""
        if not parsed.restricts:
            return None
        parts = [like(self._field, p) for p in parsed.phrases]
        parts += [
            (f"not ({e})", exact) for e, exact in (like(self._field, w) for w in parsed.excluded)
        ]
        if not all(exact for _, exact in parts):
            return super().mask(parsed, check)
        keep = np.zeros(self._n, dtype=bool)
        expression = " and ".join(e for e, _ in parts)
        for e in scan(self._milvus, self._uri, self._collection, ["row"], expression):
            keep[int(e["row"])] = True
        if check is not None:
            check()
        return keep
