"""The served searcher, swapped to a new index version without a restart.

Each request takes one :class:`Searcher` reference and uses only it, so a
request that started on the old version finishes on the old version; the
old searcher is dropped when the last request holding it ends.  A new
version that fails to load (e.g. built with another model) is logged and
the current one keeps serving.  When nothing can be served, the reason is
kept and loading is retried with back-off, not on every request.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from indexer.catalog import catalog
from indexer.dense import BackendUnavailable
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.versions import IndexDir, IndexNotFound

if TYPE_CHECKING:
    from indexer.embed import Embedder

log = logging.getLogger(__name__)

State = Literal["starting", "ready", "degraded"]
#: Seconds before the first retry of a failed load; doubles up to the maximum.
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


class IndexUnavailable(RuntimeError):
    """No index version can be served; the message says why and what to do (no server paths)."""


@dataclass(frozen=True, slots=True)
class Health:
    """What ``/health`` reports."""

    status: State
    version: str | None
    reason: str | None


class LiveIndex:
    """Hands out the searcher of the version the catalog names (``CURRENT``, or an alias)."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, lazy: bool = False
    ) -> None:
        """``lazy``: read each part of a version when a query needs it (one-off CLI searches);
        otherwise a version is read whole before it is served, so a damaged one never is."""
        self.settings = settings
        self._lazy = lazy
        self.index_dir = IndexDir(settings.index_dir)
        self.catalog = catalog(settings)
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self._loading = threading.Lock()
        self._warmed = False
        self.last_error: str | None = None
        self._retry_at = 0.0
        self._retry_wait = RETRY_FIRST
        self._warming = threading.Lock()  # one warm-up at a time
        self._warm_at = 0.0  # when a failed warm-up may run again
        self._warm_wait = RETRY_FIRST

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from indexer.embed import load_embedder  # not needed by keyword searches

            self._embedder = load_embedder(self.settings)
        return self._embedder

    def health(self) -> Health:
        """starting (not warmed yet), ready, or degraded (with the reason), as things are now.

        A warm-up that failed (no index yet, Milvus away) is tried again, with
        back-off, whenever health is asked after its wait: a service follows
        what it can do and turns ready once it can, without a restart.
        """
        if not self._warmed and time.monotonic() >= self._warm_at and not self._warming.locked():
            threading.Thread(target=self.warm, name="warm-up", daemon=True).start()
        current = self._searcher
        away = self.catalog.problem() or (current.problem() if current is not None else None)
        if current is None:
            reason = self.last_error or away
            status: State = "degraded" if reason else "starting"
            return Health(status, None, reason)
        if self.last_error or away:
            return Health("degraded", current.version.name, self.last_error or away)
        return Health("ready" if self._warmed else "starting", current.version.name, None)

    def warm(self) -> None:
        """Load the model and the index and run one query, so the first real query is fast."""
        if not self._warming.acquire(blocking=False):
            return
        try:
            searcher = self.get()
        except IndexUnavailable as e:
            self._warming.release()
            self._warm_failed(str(e))
            return
        try:
            searcher.warm()
        except Exception as e:  # e.g. the model does not match: keyword search still works
            self.last_error = (
                f"index version {searcher.version.name} cannot be searched: {public_reason(e)}"
            )
            self._warm_failed(self.last_error)
            return
        finally:
            self._warming.release()
        self._warmed = True
        self.last_error = None
        log.info("ready: serving index version %s", searcher.version.name)

    def _warm_failed(self, reason: str) -> None:
        log.error("not ready: %s (tried again in %.0f s)", reason, self._warm_wait)
        self._warm_at = time.monotonic() + self._warm_wait
        self._warm_wait = min(self._warm_wait * 2, RETRY_MAX)

    def current(self) -> Searcher | None:
        """The loaded searcher if it serves the current version; never loads, never waits."""
        current = self._searcher
        name = self.catalog.current_name()
        return current if current is not None and name in (None, current.version.name) else None

    def get(self) -> Searcher:
        """The searcher for the current version; raises IndexUnavailable when there is none."""
        found = self.current()
        if found is not None:
            return found
        current = self._searcher
        name = self.catalog.current_name()
        # Only one thread loads; the others keep answering from the old version meanwhile.
        if current is not None and not self._loading.acquire(blocking=False):
            return current
        if current is None:
            self._loading.acquire()
        try:
            if self._searcher is not None and self._searcher.version.name == name:
                return self._searcher
            if time.monotonic() < self._retry_at:
                return self._serving_or_raise()
            self._load(name)
            return self._serving_or_raise()
        finally:
            self._loading.release()

    def _load(self, name: str | None) -> None:
        old = self._searcher
        try:
            # a loaded model is checked against the new version now; otherwise on first use
            loaded = self._embedder
            searcher = Searcher(
                self.catalog.open(name),
                loaded if loaded is not None else (lambda: self.embedder),
                self.settings,
            )
            if not self._lazy:
                searcher.dense  # noqa: B018  (read now, not by the first query)
            self._searcher = searcher
            self.last_error, self._retry_wait = None, RETRY_FIRST
            log.info("now serving index version %s", searcher.version.name)
            if old is not None:  # once its last request is done and it is gone
                weakref.finalize(old, _return_freed_memory)
                del old
        except IndexNotFound:
            self._failed("no index has been built yet: build one with `govspeech index PATH...`")
        except Exception as e:  # keep serving what works; say why the new one did not load
            what = f"index version {name}" if name else "the index"
            self._failed(f"{what} cannot be loaded: {public_reason(e)}")

    def _failed(self, reason: str) -> None:
        self.last_error = reason
        self._retry_at = time.monotonic() + self._retry_wait
        self._retry_wait = min(self._retry_wait * 2, RETRY_MAX)
        still = self._searcher.version.name if self._searcher else None
        log.error("%s; %s", reason, f"still serving {still}" if still else "nothing to serve")

    def _serving_or_raise(self) -> Searcher:
        if self._searcher is None:
            raise IndexUnavailable(self.last_error or "the index is not loaded yet")
        return self._searcher


def _return_freed_memory() -> None:
    """Give the old version's memory back to the system after a swap.

    The old searcher's arrays and caches are freed when its last request ends,
    but glibc keeps freed heap in its per-thread arenas; a soak of 8 clients
    and 3 swaps grew the server by 14% without this.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def public_reason(error: Exception) -> str:
    """An error's message as anonymous clients may see it: what went wrong, not where on disk."""
    from indexer.search import ModelMismatch

    if isinstance(error, ModelMismatch):
        return str(error)
    if isinstance(error, BackendUnavailable):  # its message names the server: kept for logs
        return "the vector database (Milvus) did not answer; it is retried shortly"
    if isinstance(error, OSError):
        return f"{error.strerror or type(error).__name__} reading its files; check the index folder"
    return f"{type(error).__name__}; rebuild it with `govspeech index --full` if this persists"
