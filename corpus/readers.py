"""One reader per file format: bytes on disk become :class:`RawRecord` objects.

A reader only knows its format: how to find the text, the title the format
states (a Markdown ``#`` line, an HTML ``<title>``, a Word "Title" paragraph)
and the fields a record carries. Cleaning, field mapping, metadata inference
and ids happen once, for all formats, in :mod:`corpus.read`.

Headings survive as Markdown heading lines (``## 一、总体要求``) whatever the
input format, so the chunker can find section boundaries in Word and HTML
files too; see FORMATS.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.encoding import DecodeError, decode_bytes
from corpus.metadata import FIELD_ALIASES, as_text, is_field_name, parse_date

__all__ = ["READERS", "RawRecord", "ReadError", "missing_parsers", "page_meta", "read_sidecar"]


class ReadError(Exception):
    """A whole file could not be read; the message is shown to people as is."""


@dataclass(slots=True)
class RawRecord:
    """What a reader found for one document before cleaning and mapping.

    ``key`` is the record key inside a multi-record file (``None`` for
    one-document files); ``fields`` the record's own fields (or front matter)
    under their source names; ``text`` the body when it is not a field;
    ``hints`` format-derived defaults (``title``, ``date``, ``doc_type``) that
    the record's fields override; ``error`` makes the record a failure.
    """

    key: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    hints: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _decode(path: Path) -> str:
    try:
        text, _ = decode_bytes(path.read_bytes())
    except DecodeError as e:
        raise ReadError(str(e)) from None
    return text


# ------------------------------------------------------------------- front matter

_FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading ``---`` block of flat ``key: value`` lines from the body.

    Only flat pairs are supported (what a person types above a speech); quotes
    around values are removed and ``#`` lines are comments. A block that does
    not parse as such pairs is left in the text rather than guessed at.
    """
    m = _FRONT_MATTER_RE.match(text)
    if not m:
        return {}, text
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        key, sep, value = s.partition(":")
        if not sep or not key.strip():
            return {}, text
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip()] = value
    return fields, text[m.end() :]


# --------------------------------------------------------------------- txt / md

_H1_RE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPH_RE = re.compile(r"(\*\*|__)(.+?)\1")
_FILE_DATE_RE = re.compile(r"[(（](\d{4}-\d{2}-\d{2})[)）]\s*$")
_INFO_END = "<!-- INFO END -->"


def read_text(path: Path) -> list[RawRecord]:
    """A ``.txt`` file is one speech; an optional front-matter block gives its metadata."""
    fields, body = split_front_matter(_decode(path))
    return [RawRecord(key=None, fields=fields, text=body)]


def _markdown_body(body: str, hints: dict[str, str]) -> str:
    """Take the first ``# `` heading as the title and drop Markdown inline markup.

    Links keep their text (``[第一条](url)`` -> ``第一条``), images go,
    ``**bold**`` loses its stars; ``##`` headings, lists and tables stay.
    """
    m = _H1_RE.search(body)
    if m and not body[: m.start()].strip():  # a title heading, not one deep in the text
        hints.setdefault("title", m.group(1).strip())
        body = body[m.end() :]
    body = _MD_LINK_RE.sub(lambda mm: "" if mm.group(0).startswith("!") else mm.group(1), body)
    return _MD_EMPH_RE.sub(r"\2", body)


def read_markdown(path: Path) -> list[RawRecord]:
    """A Markdown file is one document: ``# title``, optional front matter.

    LawRefBook laws (``# title``, promulgation lines, ``<!-- INFO END -->``) are
    recognised by that marker: they get ``doc_type`` 法律法规 and, when the file
    name carries no ``(YYYY-MM-DD)`` version date, the latest date in the
    promulgation lines (the version the text is).
    """
    fields, body = split_front_matter(_decode(path))
    hints: dict[str, str] = {}
    if m := _FILE_DATE_RE.search(path.stem):
        hints["date"] = m.group(1)
    if _INFO_END in body:
        hints["doc_type"] = "法律法规"
        if "date" not in hints:
            info = body.split(_INFO_END, 1)[0]
            dates = sorted(d for line in info.splitlines() if (d := parse_date(line)))
            if dates:
                hints["date"] = dates[-1]
    return [RawRecord(key=None, fields=fields, text=_markdown_body(body, hints), hints=hints)]


# ------------------------------------------------------------------ jsonl / csv


def _title_of(record: dict[str, Any]) -> str | None:
    for alias in FIELD_ALIASES["title"]:
        for name, value in record.items():
            if str(name).strip().lower() == alias and (t := as_text(value)):
                return t
    return None


def _assign_keys(entries: list[tuple[int, dict[str, Any] | None, str | None]]) -> list[RawRecord]:
    """Key each record by its title when unique in the file, else by its row number.

    ``entries`` are ``(row, record, error)`` in file order. Titles make
    readable, edit-stable sources ("reports.jsonl#2019年…报告"); row numbers are
    the fallback for untitled or repeated titles and for unreadable rows.
    """
    titles = Counter(t for _, rec, _ in entries if rec is not None and (t := _title_of(rec)))
    out = []
    for row, rec, error in entries:
        if rec is None:
            out.append(RawRecord(key=str(row), error=error))
            continue
        t = _title_of(rec)
        out.append(RawRecord(key=t if t and titles[t] == 1 else str(row), fields=rec))
    return out


def read_jsonl(path: Path) -> list[RawRecord]:
    """One JSON object per line; a bad line becomes a failure, the others are read."""
    entries: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for lineno, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            msg = f"JSON error on line {lineno}: {e.msg} (column {e.colno})"
            entries.append((lineno, None, msg))
            continue
        if isinstance(rec, dict):
            entries.append((lineno, rec, None))
        else:
            entries.append((lineno, None, f"line {lineno} is not a JSON object"))
    return _assign_keys(entries)


def read_csv(path: Path) -> list[RawRecord]:
    """One row per record, header row first; comma, tab or semicolon separated."""
    text = _decode(path)
    csv.field_size_limit(1 << 30)
    first = text.split("\n", 1)[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
        rows: list[tuple[int, dict[str, Any] | None, str | None]] = []
        for n, row in enumerate(reader, start=1):
            rec = {k: v for k, v in row.items() if k is not None}
            if row.get(None):  # more cells than header names
                rec["_extra_cells"] = json.dumps(row[None], ensure_ascii=False)
            rows.append((n, rec, None))
    except csv.Error as e:
        raise ReadError(f"CSV error on line {reader.line_num}: {e}") from None
    if reader.fieldnames is None:
        raise ReadError("empty file")
    header = {str(name).strip().lower() for name in reader.fieldnames}
    if not header & set(FIELD_ALIASES["text"]):
        raise ReadError(
            f"no text column: the header has {', '.join(map(str, reader.fieldnames))}; "
            f"name the column with the speech text one of {', '.join(FIELD_ALIASES['text'])}"
        )
    return _assign_keys(rows)


# ------------------------------------------------------------------------- html


#: Meta tags kept beside the canonical ones (FIELD_ALIASES): what a CMS says about
#: the page that a person may filter or cite by. Compared in lower case.
_PAGE_EXTRA = frozenset(
    {"keywords", "description", "columnname", "columntype", "contentsource", "sitename", "author"}
)


def page_meta(html: str) -> dict[str, str]:
    """A page's own metadata, as record fields: its meta tags and canonical link.

    Government CMS pages state title, date and address in meta tags
    (``ArticleTitle``, ``PubDate``, ``Url``, ``ColumnName``), other sites in
    Open Graph (``og:url``, ``article:published_time``), Dublin Core (``DC.date``)
    or ``<link rel="canonical">``. Tags whose names are field names
    (:data:`~corpus.metadata.FIELD_ALIASES`) or in :data:`_PAGE_EXTRA` are
    kept under their own names, the first of each name winning.
    """
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return {}
    out: dict[str, str] = {}
    for tag in tree.iter("meta"):
        name = (tag.get("name") or tag.get("property") or tag.get("itemprop") or "").strip()
        content = (tag.get("content") or "").strip()
        if name and content and (is_field_name(name) or name.lower() in _PAGE_EXTRA):
            out.setdefault(name, content)
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel and (href := (link.get("href") or "").strip()):
            out.setdefault("canonical", href)
    return out


def _extract_html(html: str) -> str | None:
    """The page's main text; trafilatura's precise extraction when it loses none of the text.

    On a page whose article is short, trafilatura's default extraction falls
    back to the whole page (menus, breadcrumb, share links, one per line); its
    precise mode keeps the article only, but on other pages it can drop real
    paragraphs. So the precise result is taken when it keeps the default's
    prose and headings, else the default is.
    """
    import trafilatura

    def extract(precise: bool) -> str | None:
        return trafilatura.extract(
            html,
            output_format="markdown",
            include_comments=False,
            include_tables=True,
            favor_precision=precise,
        )

    default = extract(False)
    if not default:
        return default
    precise = extract(True)
    if not precise:
        return default
    kept = _prose_chars(precise) >= 0.9 * _prose_chars(default)
    headings = _headings(default) <= _headings(precise)
    return precise if kept and headings else default


def _prose_chars(text: str) -> int:
    return sum(len(line) for line in text.split("\n") if _PROSE_MARK_RE.search(line))


def _headings(text: str) -> set[str]:
    return {line.strip() for line in text.split("\n") if line.startswith("#")}


_PROSE_MARK_RE = re.compile(r"[，。；！？]")


def read_html(path: Path) -> list[RawRecord]:
    """Main text via trafilatura (as Markdown: paragraphs and headings kept), metadata from the page.

    The page's meta tags are the record's fields (:func:`page_meta`); what
    trafilatura finds (the ``<title>``, htmldate's date, a URL) and the
    article's own ``<h1>`` are format hints below them.
    """
    import trafilatura

    html = _decode(path)
    body = _extract_html(html)
    if not body or not body.strip():
        raise ReadError("no main text found in the HTML page")
    hints: dict[str, str] = {}
    meta = trafilatura.extract_metadata(html)
    if meta is not None:
        if meta.title:
            hints["title"] = meta.title.strip()
        if meta.date and (d := parse_date(meta.date)):
            hints["date"] = d
        if meta.url:
            hints["url"] = meta.url
    h1 = _H1_RE.search(body)
    if h1 and not body[: h1.start()].strip():  # the article's own heading beats <title>
        hints["title"] = h1.group(1).strip()
        body = body[h1.end() :]
    return [
        RawRecord(key=None, fields=page_meta(html), text=_markdown_body(body, hints), hints=hints)
    ]


#: A page trafilatura must be able to read: probes that HTML reading works at all.
_PROBE_PAGE = (
    "<html><head><title>t</title></head><body><article>"
    + "<p>各位代表，现在我代表省人民政府向大会报告工作，请予审议。</p>" * 3
    + "</article></body></html>"
)


def _probe_html() -> None:
    _extract_html(_PROBE_PAGE)


def _probe_docx() -> None:
    import docx  # noqa: F401


def _probe_pdf() -> None:
    import pypdf  # noqa: F401


#: Suffix -> a call that raises ImportError when the format's parser cannot run here.
_PROBES: dict[str, Callable[[], None]] = {
    ".html": _probe_html,
    ".htm": _probe_html,
    ".shtml": _probe_html,
    ".xhtml": _probe_html,
    ".docx": _probe_docx,
    ".pdf": _probe_pdf,
}
#: What to install when a probe fails (the packages the parsers import).
_INSTALL = {".docx": "python-docx", ".pdf": "pypdf"}


def missing_parsers(suffixes: Iterable[str]) -> dict[str, str]:
    """Formats among ``suffixes`` whose parser cannot run here, each with why and what to install.

    A missing library fails every file of its format the same way; a build
    asks this once before reading, so it stops with one clear message instead
    of skipping (and so dropping from the index) every such file.
    """
    out: dict[str, str] = {}
    for suffix in sorted(set(suffixes)):
        probe = _PROBES.get(suffix)
        if probe is None:
            continue
        try:
            probe()
        except ImportError as e:
            needs = _INSTALL.get(suffix, "trafilatura lxml_html_clean")
            out[suffix] = f"{type(e).__name__}: {e}; install it with: pip install {needs}"
    return out


# ------------------------------------------------------------------------- docx

_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def read_docx(path: Path) -> list[RawRecord]:
    """Paragraphs in order; Heading-styled ones become ``#`` heading lines, tables become rows.

    A paragraph in the "Title" style is the title; otherwise the document
    properties' title is a hint. Word's built-in heading styles are reported
    in English ("Heading 2") even in Chinese Word; "标题 2" is accepted too.
    """
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ReadError(f"not a valid .docx file ({type(e).__name__})") from None
    hints: dict[str, str] = {}
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [c.text.strip().replace("\n", " ") for c in row.cells]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style.lower() in ("title", "标题") and "title" not in hints:
            hints["title"] = text
            continue
        m = _HEADING_STYLE_RE.match(style.strip())
        lines.append(f"{'#' * int(m.group(1))} {text}" if m else text)
        lines.append("")
    core_title = (document.core_properties.title or "").strip()
    if core_title:
        hints.setdefault("title", core_title)
    return [RawRecord(key=None, text="\n".join(lines), hints=hints)]


# -------------------------------------------------------------------------- pdf

_PDF_END = set("。！？；：…!?;:”」』）)")
_PDF_HEADING_RE = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|第.{1,4}[章节条])"
)


def _reflow_pdf(lines: list[str]) -> str:
    """Undo the PDF's hard line wrapping: a line that fills the page width continues.

    pypdf returns one line per printed line. A paragraph ends at a blank line,
    after a line clearly shorter than the page's typical line, or before an
    indented line or a numbered heading. A full-width line that ends a
    sentence exactly at the margin still continues unless the next line is
    indented: Chinese paragraphs are indented, wrapped lines are not.
    """
    stripped = [s.strip() for s in lines]
    lengths = sorted(len(s) for s in stripped if len(s) >= 8)
    typical = lengths[int(len(lengths) * 0.75)] if lengths else 0
    out: list[str] = []
    last_len = 0  # length of the previous printed line (not of the paragraph so far)
    for raw, s in zip(lines, stripped, strict=True):
        if not s:
            last_len = 0
            out.append("")
            continue
        indented = len(raw) - len(raw.lstrip(" \t\u3000")) >= 2
        full = typical > 0 and last_len >= 0.85 * typical
        exact = typical > 0 and last_len >= 0.97 * typical
        if (
            out
            and out[-1]
            and full
            and not indented
            and not _PDF_HEADING_RE.match(s)
            and (out[-1][-1] not in _PDF_END or exact)
        ):
            out[-1] += s
        else:
            out.append(s)
        last_len = len(s)
    return "\n".join(out)


def read_pdf(path: Path) -> list[RawRecord]:
    """Text-based PDFs via pypdf, page text reflowed into paragraphs; scanned PDFs fail clearly."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except PdfReadError as e:
        raise ReadError(f"not a valid PDF ({e})") from None
    lines = [s.rstrip() for page in pages for s in page.splitlines()]
    if not any(s.strip() for s in lines):
        raise ReadError("PDF has no text layer (scanned image?)")
    hints = {"title": meta_title.strip()} if meta_title.strip() else {}
    return [RawRecord(key=None, text=_reflow_pdf(lines), hints=hints)]


# ----------------------------------------------------------------------- sidecar


def read_sidecar(path: Path) -> dict[str, Any]:
    """A ``.meta.json`` sidecar: one JSON object of metadata fields."""
    try:
        data = json.loads(_decode(path))
    except json.JSONDecodeError as e:
        raise ReadError(f"JSON error on line {e.lineno}: {e.msg}") from None
    if not isinstance(data, dict):
        raise ReadError("sidecar is not a JSON object")
    return data


#: File suffix (lower case) -> reader.
READERS: dict[str, Callable[[Path], list[RawRecord]]] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".jsonl": read_jsonl,
    ".csv": read_csv,
    ".html": read_html,
    ".htm": read_html,
    ".shtml": read_html,  # what saving a government CMS page keeps (t20240403_11275410.shtml)
    ".xhtml": read_html,
    ".docx": read_docx,
    ".pdf": read_pdf,
}
