"""The HTTP service: a thin FastAPI layer over :class:`indexer.search.Searcher`."""
