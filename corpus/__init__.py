"""Corpus readers: files on disk become :class:`~corpus.document.Document` objects."""
