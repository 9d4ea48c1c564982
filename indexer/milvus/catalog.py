"""Serving from Milvus: each version in collections, one alias naming the served one.

A build prepares a version by writing its collections beside its windows
collection (:mod:`indexer.milvus.replica`): passages with their postings,
documents, terms, and a meta collection whose last record says the copy is
whole. Only then does the build publish the version locally and move the
alias; so a build killed halfway leaves the alias on the last complete
version, and its collections are dropped with its partial folder by the next
run.

A service follows the alias and reads the version from Milvus alone: it keeps
the documents, the vocabulary and the manifest in memory and nothing on disk,
so any replica can start anywhere with the address, and none grows with the
passages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.dense import connection
from indexer.dense.base import BackendUnavailable
from indexer.milvus.client import client, reaching
from indexer.milvus.dense import collection_of
from indexer.milvus.replica import Collections, read_version, whole, write_version
from indexer.version import layout
from indexer.version.version import Version
from indexer.versions import IndexNotFound

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from indexer.settings import Settings

log = logging.getLogger(__name__)

#: In a version folder: the names of its collections, and whether the copy is whole.
PUBLISHED_FILE = layout.MILVUS_PUBLISHED
#: How long a service trusts the alias it read: re-reading it on every request would add
#: a Milvus round trip to each; a swap is seen within this.
ALIAS_TTL_S = 1.0


class MilvusCatalog:
    """Versions in Milvus collections; the alias ``GOVSPEECH_MILVUS_COLLECTION`` serves one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection = connection(settings)
        self._alias = settings.milvus_collection
        self._milvus: MilvusClient | None = None
        self._seen: tuple[float, str | None] | None = None
        self._refreshing = threading.Lock()
        self._down: str | None = None  # why Milvus did not answer the last alias read

    @property
    def milvus(self) -> MilvusClient:
        if self._milvus is None:
            self._milvus = client(self._connection)
        return self._milvus

    # ------------------------------------------------------------- services
    def current_name(self) -> str | None:
        """The version the alias names, as read at most :data:`ALIAS_TTL_S` ago.

        Services ask on every request, on the event loop: only the first read
        waits for Milvus; later ones are refreshed in a background thread, so no
        request waits on a round trip, nor on a Milvus that does not answer (the
        last name read stands, and the loaded version keeps serving).
        """
        seen = self._seen
        if seen is None:
            self._refresh()
        elif time.monotonic() - seen[0] >= ALIAS_TTL_S and self._refreshing.acquire(False):
            self._refreshing.release()
            threading.Thread(target=self._refresh, daemon=True).start()
        return None if self._seen is None else self._seen[1]

    def problem(self) -> str | None:
        """Why Milvus does not answer, asked now (health polls run on a worker thread; a
        server that refuses answers at once, one that hangs within the client's timeout)."""
        self._refresh()
        return self._down

    def _refresh(self) -> None:
        with self._refreshing:
            try:
                target = self._target()
            except BackendUnavailable:  # the last name read stands; retried next interval
                self._seen = (time.monotonic(), None if self._seen is None else self._seen[1])
                self._down = "the vector database (Milvus) does not answer; searches wait for it"
                return
            self._down = None
            self._seen = (time.monotonic(), None if target is None else self._version_of(target))

    def _target(self) -> str | None:
        """The passages collection the alias names, or None when there is no alias yet."""
        with reaching(self._connection.uri):
            if self._alias not in self.milvus.list_aliases().get("aliases", []):
                return None
            return str(self.milvus.describe_alias(self._alias)["collection_name"])

    def _version_of(self, passages: str) -> str:
        """``<alias>_v00003_20261201T120000Z_<id>_passages`` -> ``v00003-20261201T120000Z``."""
        stem = passages[len(self._alias) + 1 :].rsplit("_", 2)[0]
        return stem.replace("_", "-")

    def open(self, name: str | None) -> Version:
        """The version the alias names now (``name``: what it named when last read;
        None when Milvus did not answer then, and this call says why if it still does not)."""
        target = self._target()
        if target is None:
            raise IndexNotFound(
                f"no index is published to Milvus under {self._alias!r}: build one with "
                "GOVSPEECH_CATALOG=milvus govspeech index PATH..."
            )
        return read_version(self.milvus, self._connection, Collections(target))

    def versions(self) -> list[str]:
        """Versions whose passages collection is in this alias's namespace, oldest first."""
        with reaching(self._connection.uri):
            names = self.milvus.list_collections()
        mine = [n for n in names if n.startswith(f"{self._alias}_") and n.endswith("_passages")]
        return sorted(self._version_of(n) for n in mine)

    # --------------------------------------------------------------- builds
    def prepare(self, version: Path) -> None:
        """Write the version's collections; all or none remain."""
        stem = f"{self._alias}_{version.name.removeprefix('.partial-').replace('-', '_')}"
        names = Collections(f"{stem}_{uuid.uuid4().hex[:8]}_passages")
        # named before they exist: a build killed while writing them leaves the names in its
        # partial folder, and the next run drops them with it
        record = version / PUBLISHED_FILE
        record.write_text(json.dumps({"passages": names.passages, "whole": False}), "utf-8")
        try:
            log.info("copying the version's passages, postings, documents and terms to Milvus")
            written = write_version(self.milvus, self._connection.uri, names, version)
            if not whole(self.milvus, self._connection.uri, names, written):
                raise BackendUnavailable(f"Milvus did not keep all {written} passages")
            record.write_text(json.dumps({"passages": names.passages, "whole": True}), "utf-8")
        except Exception:
            with contextlib.suppress(Exception):
                self._drop(names.all())
                record.unlink()
            raise

    def publish(self, version: Path) -> None:
        """Move the alias to ``version``, preparing it first if it never was, or its copy was
        cut short (a version built locally before, or a run killed while copying it)."""
        record = version / PUBLISHED_FILE
        if not record.is_file() or not json.loads(record.read_text(encoding="utf-8"))["whole"]:
            if record.is_file():
                self._drop(_published(version).all())
            self.prepare(version)
        passages = _published(version).passages
        with reaching(self._connection.uri):
            target = self._target()
            if target is None:
                self.milvus.create_alias(passages, self._alias)
            elif target != passages:
                self.milvus.alter_alias(passages, self._alias)
        self._seen = None
        log.info("Milvus alias %s now names version %s", self._alias, version.name)

    def release(self, version: Path) -> None:
        """Drop a deleted version's collections, never the ones the alias names."""
        if not (version / PUBLISHED_FILE).is_file():
            return
        names = _published(version)
        if self._target() == names.passages:
            log.warning("kept %s: the Milvus alias still names it", version.name)
            return
        self._drop(names.all())

    def sweep(self, versions: list[Path]) -> list[str]:
        """Drop collections of this alias's namespace that no kept version names.

        A build killed while filling its windows collection never wrote that
        collection's name anywhere; this finds it. The namespace belongs to one
        index folder, as the alias does.
        """
        used = set()
        for version in versions:
            if (windows := collection_of(version)) is not None:
                used.add(windows)
            if (version / PUBLISHED_FILE).is_file():
                used.update(_published(version).all())
        with reaching(self._connection.uri):
            target = self._target()
            names = self.milvus.list_collections()
        mine = [n for n in names if n.startswith(f"{self._alias}_")]
        left = [n for n in mine if n not in used and n != target]
        self._drop(left)
        return left

    def _drop(self, names: list[str]) -> None:
        with reaching(self._connection.uri):
            for name in names:
                if self.milvus.has_collection(name):
                    self.milvus.drop_collection(name)


def _published(version: Path) -> Collections:
    """The names of a version's collections (all but its windows one)."""
    found = json.loads((version / PUBLISHED_FILE).read_text(encoding="utf-8"))
    return Collections(found["passages"])
