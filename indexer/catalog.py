"""Where the served index version lives: the index folder, or a Milvus alias.

A build always writes its version into the index folder (the embedding cache,
incremental re-indexing and rollback work from there). The catalog is what a
service reads to find and open the served version, and what a build tells
about a new one:

- ``local`` (default): ``CURRENT`` in the index folder names it, and a
  searcher reads the version's files;
- ``milvus``: the build copies the version into Milvus collections, then
  moves one alias to them; services on any machine follow the alias and read
  from Milvus alone (:mod:`indexer.milvus.catalog`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from indexer.version.version import Version, open_version
from indexer.versions import IndexDir, IndexNotFound

if TYPE_CHECKING:
    from indexer.settings import Settings


class Catalog(Protocol):
    """Finds the served version for services; records a build's new one."""

    def current_name(self) -> str | None:
        """The served version's name (cheap: called on every request)."""
        ...

    def problem(self) -> str | None:
        """Why the backend did not answer at its last look (None: it did, or there is none):
        what ``/health`` reports while a service cannot reach its data."""
        ...

    def open(self, name: str | None) -> Version:
        """Version ``name`` (None: what :meth:`current_name` could not read); IndexNotFound
        when there is none."""
        ...

    def versions(self) -> list[str]:
        """The versions services could be pointed at, oldest first."""
        ...

    def prepare(self, version: Path) -> None:
        """Copy a built, not yet published version to where services read it."""
        ...

    def publish(self, version: Path) -> None:
        """Make a prepared version (already ``CURRENT`` in the folder) the served one."""
        ...

    def release(self, version: Path) -> None:
        """Drop what a version being deleted keeps outside its folder."""
        ...

    def sweep(self, versions: list[Path]) -> list[str]:
        """Drop what killed runs left outside the index folder that none of ``versions``
        uses; returns what was dropped."""
        ...


class LocalCatalog:
    """The index folder itself: nothing to copy, ``CURRENT`` is the pointer."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dir = IndexDir(settings.index_dir)

    def current_name(self) -> str | None:
        return self._dir.current_name()

    def problem(self) -> str | None:
        """The folder is this process's own disk: nothing to be away."""
        return None

    def open(self, name: str | None) -> Version:
        path = self._dir.versions_dir / (name or "")
        if name is None or not path.is_dir():
            self._dir.current_path()  # raises IndexNotFound with the advice
            raise IndexNotFound(f"version {name} is gone from {self._dir.root}")
        return open_version(path, self._settings)

    def versions(self) -> list[str]:
        return self._dir.versions()

    def prepare(self, version: Path) -> None:
        """A local version is served from where it was built."""

    def publish(self, version: Path) -> None:
        """``CURRENT`` already names it."""

    def release(self, version: Path) -> None:
        """Everything of a local version is inside its folder."""

    def sweep(self, versions: list[Path]) -> list[str]:
        """Nothing of a local version is outside its folder."""
        return []


def catalog(settings: Settings) -> Catalog:
    """The catalog ``GOVSPEECH_CATALOG`` names (Milvus is imported only when chosen)."""
    if settings.catalog == "milvus":
        from indexer.milvus.catalog import MilvusCatalog

        return MilvusCatalog(settings)
    return LocalCatalog(settings)
