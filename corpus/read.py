"""Walk the user's paths, read every file, and turn records into clean :class:`Document`s.

This is the one place where a record becomes a document: fields are mapped to
canonical names, the text is cleaned, sidecar / front-matter metadata is
applied, missing metadata is inferred, and the id is made from the source path
and record key. One bad file or record never stops the batch: it becomes a
:class:`ReadFailure` with a reason a person understands.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from corpus.clean import _ENUM_RE, _GREETING_RE, clean_text
from corpus.document import Document, ReadFailure, make_doc_id
from corpus.metadata import (
    as_text,
    date_from_title,
    infer_doc_type,
    infer_region,
    infer_speech_date,
    is_alias,
    map_fields,
    parse_date,
    parse_year,
    year_from_title,
)
from corpus.readers import READERS, RawRecord, ReadError, read_sidecar
from corpus.speakers import OCCASION_RE, Speaker, infer_speaker, speaker_from_title

__all__ = ["list_sources", "read_corpus"]

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".meta.json"
#: Notes that travel with a corpus but are not speeches (compared case-insensitively).
NOTES_FILES = frozenset({"readme.md", "readme.txt", "readme", "source.txt", "source.md"})


def _skipped(rel_parts: tuple[str, ...]) -> bool:
    name = rel_parts[-1]
    return (
        any(p.startswith(".") for p in rel_parts)
        or name.lower().endswith(SIDECAR_SUFFIX)
        or name.lower() in NOTES_FILES
    )


def _walk(paths: Sequence[Path]) -> Iterator[tuple[Path, str] | ReadFailure]:
    """Files to read, each with its source name, in a stable order; missing paths as failures."""
    for root in map(Path, paths):
        if root.is_file():
            if not _skipped((root.name,)):
                yield root, root.name
        elif root.is_dir():
            found: list[tuple[str, Path]] = []
            for p in root.rglob("*"):
                rel = p.relative_to(root)
                if not _skipped(rel.parts) and not (p.is_dir() and not p.is_symlink()):
                    found.append((rel.as_posix(), p))
            inside = root.resolve()
            for rel_s, p in sorted(found):
                if p.is_file() and not _escapes(p, inside):
                    yield p, rel_s
                else:
                    yield ReadFailure(rel_s, _not_read(p))
        else:
            yield ReadFailure(source=str(root), reason="no such file or folder")


def _escapes(path: Path, root: Path) -> bool:
    """A link whose target lies outside the corpus folder: indexing it would make that file
    public through search, though nobody named it."""
    return path.is_symlink() and not path.resolve().is_relative_to(root)


def _not_read(path: Path) -> str:
    """Why a folder entry that is not a regular file is skipped, in words."""
    if path.is_symlink():
        if path.is_dir():
            return "link to a folder, not followed: name that folder itself to index it"
        if path.exists():
            return (
                "link to a file outside the corpus folder, not followed: copy the file in, or "
                "name it itself to index it"
            )
        return "broken link: it points to nothing (or, through a loop, to itself)"
    return "not a regular file (a pipe, socket or device)"


def list_sources(paths: Sequence[Path]) -> list[Path]:
    """The files :func:`read_corpus` would open, in the order it opens them.

    Folders are walked recursively; hidden files and folders, ``*.meta.json``
    sidecars and notes files (README.md, SOURCE.txt) are skipped. Files of an
    unsupported type are listed (read_corpus reports them as failures), so the
    list serves as a progress total and for incremental diffing.

    Parameters
    ----------
    paths : files and/or folders, as given to :func:`read_corpus`.

    Returns
    -------
    list of Path, sorted by relative path within each argument.
    """
    return [item[0] for item in _walk(paths) if not isinstance(item, ReadFailure)]


def read_corpus(
    paths: Sequence[Path],
    *,
    clean: bool = True,
    fields: Mapping[str, str] | None = None,
    max_chars: int | None = None,
) -> Iterator[Document | ReadFailure]:
    """Read files and folders into documents, yielding a failure for anything unreadable.

    ``source`` is the path relative to the folder named in ``paths`` (a file
    argument: its name), plus ``#key`` for records of JSONL/CSV files; ids
    derive from it, so they are stable across runs and independent of the
    text. One bad file or record never stops the batch.

    Parameters
    ----------
    paths : files and/or folders (folders are read recursively).
    clean : apply the cleaning rules (:data:`corpus.clean.RULES`); ``False``
        keeps the text as read (only stripped), to see what the rules do.
    fields : canonical field -> the source's own field name (``{"date":
        "发文时间"}``), ranked above the built-in names (``--field``).
    max_chars : the most text one document keeps (cut at a line end before
        cleaning; ``extra["truncated_from"]`` says how long it was); None: no bound.

    Yields
    ------
    Document or ReadFailure, in :func:`list_sources` order, records of one
    file in file order.
    """
    seen: set[str] = set()
    for item in _walk(paths):
        if isinstance(item, ReadFailure):
            yield item
            continue
        path, rel = item
        for out in _read_file(path, rel, clean=clean, fields=fields, max_chars=max_chars):
            if isinstance(out, Document):
                if out.doc_id in seen:  # e.g. two named folders both holding "a/x.txt"
                    out = ReadFailure(
                        f"{path}" + (out.source[len(rel) :] if out.source != rel else ""),
                        f"duplicate source {out.source!r}: another file was read under the same "
                        "relative path; name folders whose contents have distinct paths",
                    )
                else:
                    seen.add(out.doc_id)
            yield out


def _read_file(
    path: Path,
    rel: str,
    *,
    clean: bool,
    fields: Mapping[str, str] | None,
    max_chars: int | None = None,
) -> Iterator[Document | ReadFailure]:
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        yield ReadFailure(rel, f"unsupported file type {suffix or '(no extension)'}")
        return
    try:
        records = reader(path)
    except ReadError as e:
        yield ReadFailure(rel, str(e))
        return
    except OSError as e:
        yield ReadFailure(rel, f"cannot open: {e.strerror or e}")
        return
    except Exception as e:  # a parser library choking on a malformed file
        log.debug("reader failed on %s", path, exc_info=True)
        yield ReadFailure(rel, f"could not parse {suffix} file ({type(e).__name__}: {e})")
        return
    sidecar: dict[str, Any] = {}
    for candidate in (
        path.with_name(path.name + ".meta.json"),
        path.with_name(path.stem + ".meta.json"),
    ):
        if candidate.is_file():
            sidecar_rel = rel[: len(rel) - len(path.name)] + candidate.name
            try:
                sidecar = read_sidecar(candidate)
            except ReadError as e:
                yield ReadFailure(sidecar_rel, f"sidecar ignored: {e}")
            break
    for rec in records:
        source = rel if rec.key is None else f"{rel}#{rec.key}"
        if rec.error is not None:
            yield ReadFailure(source, rec.error)
            continue
        try:
            yield build_document(
                rec, rel, sidecar, clean=clean, stem=path.stem, named=fields, max_chars=max_chars
            )
        except Exception as e:  # never let one record stop the batch
            log.debug("building %s failed", source, exc_info=True)
            yield ReadFailure(source, f"could not build document ({type(e).__name__}: {e})")


_BYLINE_RE = re.compile(r"^(?:[（(—―-]|\d|[〇○一二三四五六七八九]{4}年)")


def _title_line(line: str) -> bool:
    """Whether a first line reads like a title: short, not a sentence, not a greeting or byline."""
    s = line.strip()
    return (
        0 < len(s) <= 50
        and s[-1] not in "。！？；，、,;!?：:"
        and not _GREETING_RE.match(s)
        and not (OCCASION_RE.match(s) and _BYLINE_RE.match(s))
        and not _ENUM_RE.match(s)
        and not s.startswith("#")
    )


#: Record fields a CMS or crawler uses for the column a page sits in (例行记者会,
#: 领导讲话): a hint at the document type when the title gives none.
_COLUMN_FIELDS = ("columnname", "column", "栏目", "channel", "channelname", "category")


def build_document(
    rec: RawRecord,
    rel: str,
    sidecar: dict[str, Any],
    *,
    clean: bool = True,
    stem: str = "",
    named: Mapping[str, str] | None = None,
    max_chars: int | None = None,
) -> Document | ReadFailure:
    """Map, clean, merge and infer: one record becomes a Document (or a failure).

    Precedence, highest first: sidecar (for a multi-record file it only fills
    gaps), the record's fields / front matter (``named``, the user's
    ``--field`` names, before the built-in ones), what the format states
    (Markdown title, date in a law's file name, a page's title and date),
    metadata found while cleaning, and finally inference from title and
    byline. ``Document.provenance`` records which of these each field came from.
    """
    source = rel if rec.key is None else f"{rel}#{rec.key}"
    values: dict[str, Any] = dict(rec.hints)
    origin = dict.fromkeys(rec.hints, "format")
    fields, extra, names = map_fields(rec.fields, named)
    text = fields.pop("text", None)
    values.update(fields)
    origin.update((k, f"field:{names[k]}") for k in fields)
    side_fields, side_extra, side_names = map_fields(sidecar, named)
    side_fields.pop("text", None)
    for k, v in side_fields.items():
        if rec.key is None or k not in values:  # for a record file, a sidecar fills gaps
            values[k], origin[k] = v, f"sidecar:{side_names[k]}"
    for k, v in side_extra.items():
        if rec.key is None:
            extra[k] = v
        else:
            extra.setdefault(k, v)

    raw_text = as_text(text) if text is not None else rec.text
    if raw_text is None or not raw_text.strip():
        return ReadFailure(source, "record has no text" if rec.key is not None else "empty file")
    if max_chars is not None and len(raw_text) > max_chars:
        extra["truncated_from"] = str(len(raw_text))
        raw_text = _cut(raw_text, max_chars)
    if clean:
        result = clean_text(raw_text)
        body, found = result.text, result.metadata
    else:
        body, found = raw_text.strip(), {}
    lines = body.split("\n")

    title = as_text(values.get("title"))
    if title is None and lines and _title_line(lines[0]):
        title, origin["title"] = lines[0].strip(), "text head"
    if title and lines and lines[0].strip() == title:
        lines = lines[1:]
    body = "\n".join(lines).strip()
    if not body:
        return ReadFailure(source, "empty after cleaning" if clean else "empty file")
    if title is None:
        title, origin["title"] = (stem if rec.key is None else f"{stem} #{rec.key}"), "file name"

    date, year = _when(values, extra, found, lines, title, origin)
    speaker = _speaker(values, title, lines, origin)
    if speaker is not None and speaker.role:
        extra.setdefault("speaker_role", speaker.role)
    for key in ("source_org", "author", "dateline", "dateline_place"):
        if key in found:
            extra.setdefault(key, found[key])
    region = as_text(values.get("region"))
    if region is None and (region := infer_region(title)):
        origin["region"] = "title"
    doc_type = as_text(values.get("doc_type"))
    if doc_type is None:
        column = next((v for k, v in extra.items() if k.lower() in _COLUMN_FIELDS), None)
        is_law = rec.hints.get("doc_type") == "法律法规"
        if doc_type := infer_doc_type(
            title, is_law=is_law, column=column, news="dateline" in found
        ):
            origin["doc_type"] = "title"
    url = as_text(values.get("url"))

    doc = Document(
        doc_id=make_doc_id(rel, rec.key),
        text=body,
        title=title,
        date=date,
        year=year,
        speaker=speaker.name if speaker else None,
        region=region,
        doc_type=doc_type,
        source=source,
        url=url,
        extra={k: v for k, v in extra.items() if v},
    )
    doc.provenance = {k: v for k, v in origin.items() if getattr(doc, k, None)}
    return doc


def _cut(text: str, limit: int) -> str:
    """The first ``limit`` characters, ending at a line end when one is near."""
    end = text.rfind("\n", int(limit * 0.9), limit)
    return text[: end if end > 0 else limit]


def _when(
    values: dict[str, Any],
    extra: dict[str, str],
    found: dict[str, str],
    lines: list[str],
    title: str,
    origin: dict[str, str],
) -> tuple[str | None, int | None]:
    """Date and year, from the first source that states one.

    The record's date field (or, when it does not parse, another of the
    record's date fields), the byline's date, the page furniture's
    (发布时间：…), a date opening the title (2024年4月3日外交部…); the year
    field, else the date's year, else a year the title states.
    """
    date_raw = as_text(values.get("date"))
    date = parse_date(date_raw)
    if date_raw and date is None:
        extra["date_raw"] = date_raw
        for name, value in extra.items():
            if is_alias(name, "date") and (date := parse_date(value)):
                origin["date"] = f"field:{name}"
                break
    speech_date = infer_speech_date(lines)
    if speech_date:
        extra.setdefault("speech_date", speech_date)
    for fallback, where in (
        (speech_date, "byline"),
        (found.get("date"), "page"),
        (date_from_title(title), "title"),
    ):
        if date is None and fallback:
            date, origin["date"] = fallback, where
    year = parse_year(values.get("year"))
    if year is None and as_text(values.get("year")):
        extra["year_raw"] = as_text(values.get("year")) or ""
    if year is None and date:
        year, origin["year"] = int(date[:4]), origin.get("date", "date")
    if year is None and (year := year_from_title(title)):
        origin["year"] = "title"
    if date is None and year is not None:
        date, origin["date"] = f"{year:04d}", origin.get("year", "year")
    return date, year


def _speaker(
    values: dict[str, Any], title: str, lines: list[str], origin: dict[str, str]
) -> Speaker | None:
    """The speaker a field names, else the one the title or the byline names (never a guess)."""
    if named := as_text(values.get("speaker")):
        return Speaker(named)
    if found := speaker_from_title(title):
        origin["speaker"] = "title"
        return found
    # the title line heads the byline: "在…会议上的讲话" / "（2025年3月12日）" / "王明远"
    if found := infer_speaker([title, *lines]):
        origin["speaker"] = "byline"
    return found
