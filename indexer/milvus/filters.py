"""Document filters as Milvus expressions on fields kept beside each window and passage.

The windows and passages collections keep, on every entity, its document's filterable
fields; a search's filters then become an expression on them, run inside the search,
whatever the number of passages they keep (a row list would grow with the archive).
Each clause means what :func:`indexer.filtering.DocumentFilter` means by it:

- ``year``: unknown is 0, which no filter names (years are 1-9999);
- ``when``: the date, else the year, else ``""`` (date filters compare its prefix);
- ``region`` is a prefix, ``speaker`` a substring, ``source`` a prefix of the source or URL.

A value ``like`` cannot spell exactly (a backslash, a control character) gives no
expression: the caller filters by rows instead, never by a wider pattern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indexer.filtering import RowDocuments, Scope, when_of
from indexer.milvus.client import row_filter
from indexer.milvus.text import literal, pattern
from indexer.schemas import DocumentInfo, Filters

if TYPE_CHECKING:
    from pymilvus import CollectionSchema

#: The document fields an entity keeps, besides ``doc_id``.
FIELDS = ("year", "when", "region", "speaker", "doc_type", "source", "url")
_TEXT = 65_535


def add_fields(schema: CollectionSchema) -> None:
    """``doc_id`` and the document fields of :data:`FIELDS` on a collection's schema."""
    from pymilvus import DataType

    schema.add_field("doc_id", DataType.VARCHAR, max_length=_TEXT)
    for name in FIELDS:
        if name == "year":
            schema.add_field(name, DataType.INT64)
        else:
            schema.add_field(name, DataType.VARCHAR, max_length=_TEXT)


def fields_of(d: DocumentInfo) -> dict[str, Any]:
    """A document's values of those fields (an unknown one: 0 or ``""``)."""
    return {
        "doc_id": d.doc_id,
        "year": d.year or 0,
        "when": when_of(d) or "",
        "region": d.region or "",
        "speaker": d.speaker or "",
        "doc_type": d.doc_type or "",
        "source": d.source,
        "url": d.url or "",
    }


def row_fields(rows: RowDocuments) -> list[dict[str, Any]]:
    """Each document's fields, by document index (``rows.of`` picks a row's)."""
    return [fields_of(d) for d in rows.documents]


def where(scope: Scope | None, fields: bool = True) -> str:
    """The expression keeping ``scope``'s passages (``""``: every one): its filters on the
    document fields when they are all that chose it and the collection has the ``fields``,
    else its rows."""
    if scope is None:
        return ""
    if fields and scope.filters is not None and (said := expression(scope.filters)):
        return said
    return row_filter(scope.rows())


def expression(f: Filters) -> str | None:
    """``f`` as an expression on the document fields; None when one clause cannot be said
    exactly (the caller then filters by rows)."""
    clauses: list[str | None] = []
    if f.doc_id is not None:
        clauses.append(_equal("doc_id", f.doc_id))
    if f.year is not None:
        clauses.append(f"year == {f.year}")
    if f.year_from is not None:
        clauses.append(f"year >= {f.year_from}")
    if f.year_to is not None:
        clauses.append(f"(year >= 1 and year <= {f.year_to})")
    if f.date_from is not None:  # when[:n] >= from  <=>  when >= from
        clauses.append(f"when >= {literal(f.date_from)}")
    if f.date_to is not None:  # when[:n] <= to  <=>  when < to, or when starts with to
        starts = _like("when", f.date_to, prefix=True)
        clauses.append(f'(when != "" and (when < {literal(f.date_to)} or {starts}))')
    if f.region is not None:
        clauses.append(_like("region", f.region.strip(), prefix=True))
    if f.speaker is not None:
        clauses.append(_like("speaker", f.speaker.strip(), prefix=False))
    if f.doc_type is not None:
        value = f.doc_type.strip()
        # an empty type matches no document locally (unknown is None, not ""): rows say so
        clauses.append(_equal("doc_type", value) if value else None)
    if f.source is not None:
        prefix = f.source.strip()
        source, url = _like("source", prefix, prefix=True), _like("url", prefix, prefix=True)
        clauses.append(None if source is None or url is None else f"({source} or {url})")
    if any(c is None for c in clauses):
        return None
    return " and ".join(c for c in clauses if c) or None


def _equal(field: str, value: str) -> str | None:
    spelled = literal(value)
    return None if spelled is None else f"{field} == {spelled}"


def _like(field: str, value: str, prefix: bool) -> str | None:
    spelled = pattern(value, prefix)
    return None if spelled is None else f"{field} like {spelled}"
