"""The unit that flows out of the corpus readers.

A :class:`Document` is one speech or report with the metadata its source
carries.  Everything downstream (cleaning, chunking, indexing) reads only
this type, so a new input format is a new reader and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(slots=True)
class Document:
    """One speech/report as read from a source file or record.

    ``doc_id`` is stable across runs: it is derived from the source path
    (relative to the folder given by the user) and the record key inside the
    file, never from the content, so an edited speech keeps its id.
    """

    doc_id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO yyyy-mm-dd, or yyyy-mm / yyyy when that is all we know
    year: int | None = None
    speaker: str | None = None
    region: str | None = None
    doc_type: str | None = None
    source: str = ""  # path (relative to the indexed root) plus "#record" when needed
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: Where each metadata field came from ("field:publication", "meta:PubDate", "title",
    #: "byline", "page", "text head"): what a build's summary counts. Not stored, not hashed.
    provenance: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        """Hash of text and metadata: what the incremental indexer compares."""
        h = hashlib.sha256()
        for part in (
            self.text,
            self.title,
            self.date,
            self.speaker,
            self.region,
            self.doc_type,
            self.url,
            str(self.year),
        ):
            h.update((part or "").encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()[:32]


def make_doc_id(source: str, key: str | None = None) -> str:
    """Stable short id from a source path and an optional record key."""
    raw = source if key is None else f"{source}#{key}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class ReadFailure:
    """A file (or record) the readers could not turn into a document, and why."""

    source: str
    reason: str
