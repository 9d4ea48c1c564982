"""Corpus readers: files on disk become :class:`~corpus.document.Document` objects."""

from corpus.clean import RULES, CleanResult, clean_text
from corpus.document import Document, ReadFailure, make_doc_id

__all__ = ["RULES", "CleanResult", "Document", "ReadFailure", "clean_text", "make_doc_id"]
