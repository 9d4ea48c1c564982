"""The served searcher, swapped to a new index version without a restart.

Each request takes one :class:`Searcher` reference and uses only it, so a
request that started on the old version finishes on the old version; the
old searcher is dropped when the last request holding it ends.  A new
version that fails to load (e.g. built with another model) is logged and
the current one keeps serving.
"""

from __future__ import annotations

import logging
import threading

from indexer.embed import Embedder, load_embedder
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.versions import IndexDir, IndexNotFound

log = logging.getLogger(__name__)


class LiveIndex:
    """Hands out the searcher of the version ``CURRENT`` names."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.index_dir = IndexDir(settings.index_dir)
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self._loading = threading.Lock()
        self.last_error: str | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def get(self) -> Searcher:
        """The searcher for the current version; raises IndexNotFound when there is none."""
        current = self._searcher
        name = self.index_dir.current_name()
        if current is not None and (name is None or name == current.version):
            return current
        # Only one thread loads; the others keep answering from the old version meanwhile.
        if current is not None and not self._loading.acquire(blocking=False):
            return current
        if current is None:
            self._loading.acquire()
        try:
            if self._searcher is not None and self._searcher.version == name:
                return self._searcher
            try:
                self._searcher = Searcher(
                    self.index_dir.current_path(), self.embedder, self.settings
                )
                self.last_error = None
                log.info("now serving index version %s", self._searcher.version)
            except IndexNotFound:
                if self._searcher is None:
                    raise
            except Exception as e:  # keep serving what works; say why the new one did not load
                self.last_error = f"version {name} could not be loaded: {e}"
                log.error(
                    "%s; still serving %s", self.last_error, getattr(current, "version", None)
                )
                if self._searcher is None:
                    raise
            return self._searcher
        finally:
            self._loading.release()
