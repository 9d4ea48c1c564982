"""Corpus readers: files on disk become :class:`~corpus.document.Document` objects.

Public interface::

    read_corpus(paths, *, clean=True) -> Iterator[Document | ReadFailure]
    list_sources(paths) -> list[Path]
    clean_text(text) -> CleanResult

Formats and field names are documented in ``corpus/FORMATS.md``.
"""

from corpus.clean import RULES, CleanResult, clean_text
from corpus.document import Document, ReadFailure, make_doc_id
from corpus.read import list_sources, read_corpus

__all__ = [
    "RULES",
    "CleanResult",
    "Document",
    "ReadFailure",
    "clean_text",
    "list_sources",
    "make_doc_id",
    "read_corpus",
]
