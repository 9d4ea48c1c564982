"""Serving from Milvus: each version in collections, one alias naming the served one.

A build prepares a version by writing two collections beside its windows
collection: ``<alias>_<version>_<id>_passages`` (every passage with what a hit
shows and its BM25 postings, :mod:`indexer.milvus.passages`) and
``..._meta`` (the version's small files: manifest, documents, vocabulary,
duplicate clusters, window owners). Only after both read back whole does the
build publish the version locally and move the alias; so a build killed
halfway leaves the alias on the last complete version, and its collections
are dropped with its partial folder by the next run.

A service follows the alias. To open a version it copies the meta files into
a local cache (a few MB; nothing there is state: any replica can start
anywhere with the address alone) and reads passages, postings and vectors
from the collections.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.dense import connection
from indexer.dense.base import BackendUnavailable
from indexer.keyword import KeywordIndex, TermStats, check_tokenizer
from indexer.milvus.client import client, reaching
from indexer.milvus.dense import collection_of
from indexer.milvus.passages import MilvusKeyword, MilvusStore, write_passages
from indexer.store import Store
from indexer.version import layout
from indexer.version.version import Version, VersionParts, open_version
from indexer.versions import IndexNotFound

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from indexer.settings import Settings

log = logging.getLogger(__name__)

#: In a version folder: the names of its passages and meta collections.
PUBLISHED_FILE = layout.MILVUS_PUBLISHED
#: The version's files a replica needs besides the collections (the store and the
#: keyword postings are in them): among them the float32 copy of the vectors, which
#: rescores Milvus's nominees exactly without a round trip per window.
META_FILES = (
    layout.MANIFEST,
    layout.Dense.VECTORS,
    layout.Dense.MILVUS,
    layout.Dense.OWNER,
    layout.CLUSTERS,
    *(f"{layout.Keyword.FOLDER}/{name}" for name in layout.Keyword.STATS),
    *layout.Feedback.FILES,
)
#: Generated for the meta collection: the store's documents and the terms' document counts.
DOCUMENTS_FILE = layout.DOCUMENTS
DF_FILE = f"{layout.Keyword.FOLDER}/{layout.Keyword.DF}"
_CHUNK_BYTES = 45_000  # 60,000 characters of base64: a VARCHAR holds 65,535 bytes
_FETCH_CHUNKS = 64  # chunks a request carries (~4 MB)
_COMPLETE = ".complete"
_DONE = "#done"
#: How long a service trusts the alias it read: re-reading it on every request would add
#: a Milvus round trip to each; a swap is seen within this.
ALIAS_TTL_S = 1.0


class MilvusCatalog:
    """Versions in Milvus collections; the alias ``GOVSPEECH_MILVUS_COLLECTION`` serves one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection = connection(settings)
        self._alias = settings.milvus_collection
        self._cache = settings.index_dir.expanduser() / "replica"
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
        folder = self._download(target, _meta_name(target))
        with reaching(self._connection.uri):  # a server (or Lite file) opened afresh holds none
            self.milvus.load_collection(target)
        uri = self._connection.uri
        documents = json.loads((folder / DOCUMENTS_FILE).read_text(encoding="utf-8"))
        parts = VersionParts(
            MilvusStore(self.milvus, uri, target, documents),
            MilvusKeyword(_term_stats(folder / layout.Keyword.FOLDER), self.milvus, uri, target),
        )
        return open_version(folder, self._settings, parts)

    def versions(self) -> list[str]:
        """Versions whose passages collection is in this alias's namespace, oldest first."""
        with reaching(self._connection.uri):
            names = self.milvus.list_collections()
        mine = [n for n in names if n.startswith(f"{self._alias}_") and n.endswith("_passages")]
        return sorted(self._version_of(n) for n in mine)

    def _download(self, passages: str, meta: str) -> Path:
        """The version's files in the local cache, fetched once (the laws' 525 MB took ~80 s
        from Milvus Lite), then read from disk as the build's own folder is."""
        folder = self._cache / passages
        if (folder / _COMPLETE).is_file():
            return folder
        partial = folder.with_name(f".{passages}-{uuid.uuid4().hex[:8]}")
        with reaching(self._connection.uri):
            if not self.milvus.has_collection(meta):
                raise BackendUnavailable(f"Milvus has no collection {meta}")
            self.milvus.load_collection(meta)
            found = self.milvus.query(meta, filter=f'key == "{_DONE}"', output_fields=["body"])
            if not found:
                raise BackendUnavailable(f"Milvus collection {meta} is incomplete")
            for rel, chunks in json.loads(found[0]["body"]).items():
                path = partial / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("wb") as out:
                    for start in range(0, chunks, _FETCH_CHUNKS):
                        keys = [
                            _key(rel, i) for i in range(start, min(start + _FETCH_CHUNKS, chunks))
                        ]
                        rows = self.milvus.query(
                            meta, filter=f"key in {json.dumps(keys)}", output_fields=["key", "body"]
                        )
                        body = {r["key"]: r["body"] for r in rows}
                        for key in keys:
                            out.write(base64.b64decode(body[key]))
        (partial / _COMPLETE).touch()
        try:
            partial.rename(folder)
        except OSError:  # another worker process fetched it first
            shutil.rmtree(partial, ignore_errors=True)
            if not (folder / _COMPLETE).is_file():
                raise
        self._forget_dropped()
        return folder

    def _forget_dropped(self) -> None:
        """Delete cached versions Milvus no longer keeps (a searcher still reading one keeps
        its open files until it is done)."""
        with reaching(self._connection.uri):
            kept = set(self.milvus.list_collections())
        for old in self._cache.iterdir():
            if not old.name.startswith(".") and old.name not in kept:
                shutil.rmtree(old, ignore_errors=True)

    # --------------------------------------------------------------- builds
    def prepare(self, version: Path) -> None:
        """Write the version's passages and meta collections; both or neither remain."""
        stem = f"{self._alias}_{version.name.removeprefix('.partial-').replace('-', '_')}"
        passages = f"{stem}_{uuid.uuid4().hex[:8]}_passages"
        names = {"passages": passages, "meta": _meta_name(passages)}
        uri = self._connection.uri
        # named before they exist: a build killed while writing them leaves the names in its
        # partial folder, and the next run drops them with it
        record = version / PUBLISHED_FILE
        record.write_text(json.dumps({**names, "whole": False}), encoding="utf-8")
        store = Store(version / layout.STORE)
        try:
            keyword = KeywordIndex.load(version / layout.Keyword.FOLDER, mmap=True)
            log.info(
                "copying %s passages, their postings and the version's files to Milvus",
                f"{len(keyword):,}",
            )
            write_passages(self.milvus, uri, passages, store, keyword)
            _write_meta(self.milvus, uri, names["meta"], _meta_files(version, store, keyword))
            if not self._whole(names, len(keyword)):
                raise BackendUnavailable(f"Milvus did not keep all {len(keyword)} passages")
            record.write_text(json.dumps({**names, "whole": True}), encoding="utf-8")
        except Exception:
            with contextlib.suppress(Exception):
                self._drop(list(names.values()))
                record.unlink()
            raise
        finally:
            store.close()

    def _whole(self, names: dict[str, str], passages: int) -> bool:
        """Both collections exist, with every passage and the meta's last chunk."""
        with reaching(self._connection.uri):
            if not all(self.milvus.has_collection(n) for n in names.values()):
                return False
            for name in names.values():
                self.milvus.load_collection(name)
            counted = self.milvus.query(names["passages"], filter="", output_fields=["count(*)"])
            done = self.milvus.query(names["meta"], filter=f'key == "{_DONE}"', limit=1)
        return int(counted[0]["count(*)"]) == passages and bool(done)

    def publish(self, version: Path) -> None:
        """Move the alias to ``version``, preparing it first if it never was, or its copy was
        cut short (a version built locally before, or a run killed while copying it)."""
        record = version / PUBLISHED_FILE
        if not record.is_file() or not json.loads(record.read_text(encoding="utf-8"))["whole"]:
            if record.is_file():
                self._drop(list(_published(version).values()))
            self.prepare(version)
        passages = _published(version)["passages"]
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
        if self._target() == names["passages"]:
            log.warning("kept %s: the Milvus alias still names it", version.name)
            return
        self._drop(list(names.values()))

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
                used.update(_published(version).values())
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


def _meta_name(passages: str) -> str:
    return passages.removesuffix("_passages") + "_meta"


def _published(version: Path) -> dict[str, str]:
    """The names of a version's passages and meta collections."""
    found = json.loads((version / PUBLISHED_FILE).read_text(encoding="utf-8"))
    return {"passages": found["passages"], "meta": found["meta"]}


def _meta_files(version: Path, store: Store, keyword: KeywordIndex) -> dict[str, Path | bytes]:
    files: dict[str, Path | bytes] = {rel: version / rel for rel in META_FILES}
    files[DOCUMENTS_FILE] = json.dumps(list(store.documents()), ensure_ascii=False).encode()
    buf = io.BytesIO()
    np.save(buf, np.asarray(keyword.df))
    files[DF_FILE] = buf.getvalue()
    return files


def _key(rel: str, chunk: int) -> str:
    return f"{rel}#{chunk:06d}"


def _write_meta(milvus: MilvusClient, uri: str, name: str, files: dict[str, Path | bytes]) -> None:
    """One collection of base64 chunks, streamed (the vectors are the laws' 544 MB), then
    the table of contents, last: its presence says the copy is whole. Milvus wants a
    vector field in every collection; ``v`` is a placeholder."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("body", DataType.VARCHAR, max_length=65_535)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index(field_name="v", index_type="FLAT", metric_type="IP")
    contents: dict[str, int] = {}
    with reaching(uri):
        milvus.create_collection(name, schema=schema, index_params=index)
        for rel, source in files.items():
            count, batch = 0, []
            with source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as f:
                while chunk := f.read(_CHUNK_BYTES):
                    body = base64.b64encode(chunk).decode("ascii")
                    batch.append({"key": _key(rel, count), "body": body, "v": [0.0, 0.0]})
                    count += 1
                    if len(batch) == _FETCH_CHUNKS:
                        milvus.insert(name, batch)
                        batch = []
            if batch:
                milvus.insert(name, batch)
            contents[rel] = count
        done = {"key": _DONE, "body": json.dumps(contents), "v": [0.0, 0.0]}
        milvus.insert(name, [done])
        milvus.flush(name)


def _term_stats(directory: Path) -> TermStats:
    check_tokenizer(directory)
    params = json.loads((directory / layout.Keyword.PARAMS).read_text())
    return TermStats(
        json.loads((directory / layout.Keyword.VOCAB).read_text(encoding="utf-8")),
        np.load(directory / layout.Keyword.DF),
        np.load(directory / layout.Keyword.TERM_MAX),
        int(params["num_docs"]),
    )
