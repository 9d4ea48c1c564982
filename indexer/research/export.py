"""Results, trends and comparisons as CSV, JSON Lines or Markdown, and hits as citations.

One table per answer (columns, then rows) written three ways, so the CLI and
the API export the same fields. CSV starts with a byte-order mark: Excel
reads a file without one as the local code page and shows Chinese as noise;
a text cell that a spreadsheet would evaluate as a formula (=, +, -, @, tab,
CR first) gets a leading apostrophe.
Writers yield pieces, so the API streams a large export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Literal

from indexer.research.schemas import CompareResponse, OriginResponse, TrendResponse
from indexer.schemas import Hit, SearchResponse

Format = Literal["csv", "jsonl", "md"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "md")
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
Table = tuple[list[str], list[list[object]]]

_HIT_COLUMNS = [
    "title", "date", "year", "speaker", "region", "doc_type", "section", "text", "passage_id",
    "url", "source", "citation",
]  # fmt: skip


def _hit_cells(hit: Hit) -> list[object]:
    d = hit.document
    return [
        d.title, d.date, d.year, d.speaker, d.region, d.doc_type, hit.section, hit.text,
        hit.passage_id, d.url, d.source, hit.citation,
    ]  # fmt: skip


def search_table(response: SearchResponse) -> Table:
    rows = [[h.rank, h.score, *_hit_cells(h)] for h in response.hits]
    return ["rank", "score", *_HIT_COLUMNS], rows


def trend_table(response: TrendResponse) -> Table:
    """One row per group; the documents without a year (region, type) last, ``recorded`` false."""
    columns = [
        response.by, "recorded", "missing", "documents_total", "passages_total", "chars",
        "documents", "passages", "per_100k_chars", "scored",
    ]  # fmt: skip
    groups = [*response.groups, *([response.unrecorded] if response.unrecorded else [])]
    rows = [
        [g.key, g.key is not None, g.missing, g.documents_total, g.passages_total, g.chars,
         g.documents, g.passages, g.per_100k_chars, g.scored]
        for g in groups
    ]  # fmt: skip
    return columns, rows


def compare_table(response: CompareResponse) -> Table:
    """One row per group, its key under ``group`` (the hit's own region or year is another
    column), the documents without one last."""
    empty = [None] * (len(_HIT_COLUMNS) + 1)
    found = [*response.rows, *([response.unrecorded] if response.unrecorded else [])]
    rows = [
        [r.key, r.label, r.says_nothing, *([r.hit.score, *_hit_cells(r.hit)] if r.hit else empty)]
        for r in found
    ]
    return ["group", "label", "says_nothing", "score", *_HIT_COLUMNS], rows


def origin_table(response: OriginResponse) -> Table:
    """One row per document that says the text: dated ones earliest first, then undated."""
    rows = [
        [n, d.match, d.similarity, " ".join(str(i + 1) for i in d.sentences), *_hit_cells(d.hit)]
        for n, d in enumerate([*response.documents, *response.undated], start=1)
    ]
    return ["order", "match", "similarity", "sentences", *_HIT_COLUMNS], rows


def write(table: Table, fmt: Format) -> Iterator[str]:
    """``table`` in ``fmt``, a piece at a time."""
    columns, rows = table
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False) + "\n"
    elif fmt == "csv":
        yield "\ufeff"
        yield _csv_line(columns)
        for row in rows:
            yield _csv_line(["" if v is None else _inert(v) for v in row])
    else:
        yield "| " + " | ".join(columns) + " |\n"
        yield "|" + "---|" * len(columns) + "\n"
        for row in rows:
            yield "| " + " | ".join(_md_cell(v) for v in row) + " |\n"


#: A spreadsheet reads a cell starting with these as a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe.

    Passages start with "--我们要…" (the 2011 report's dashes) and titles or regions come
    from files anyone can write ("=HYPERLINK(…)"); Excel and LibreOffice evaluate such a
    cell when the CSV is opened. The apostrophe is OWASP's remedy: the sheet shows the
    text, the CSV keeps it readable. Numbers are numbers and pass as they are.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_line(cells: Sequence[object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def _md_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


#: the table of each kind of answer, by the name the CLI uses
TABLES = {
    "search": search_table,
    "trend": trend_table,
    "compare": compare_table,
    "origin": origin_table,
}
