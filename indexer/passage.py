"""The unit that is embedded, keyword-indexed, stored and returned by search."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Passage:
    """One paragraph-sized piece of a document.

    ``section`` is the heading path, outermost first, joined by ``" > "``;
    ``ordinal`` is the passage's position in its document (0-based) so the
    searcher can fetch neighbours for context.
    """

    passage_id: str
    doc_id: str
    ordinal: int
    text: str
    section: str = ""


def make_passage_id(doc_id: str, text: str, occurrence: int = 0) -> str:
    """Id from document and content: unchanged text keeps its id across re-indexing.

    ``occurrence`` separates identical paragraphs repeated inside one document.
    """
    h = hashlib.sha1(f"{doc_id}\x1f{occurrence}\x1f{text}".encode()).hexdigest()
    return f"{doc_id}-{h[:12]}"
