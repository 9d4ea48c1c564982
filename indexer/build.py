"""Build (or incrementally rebuild) an index version from corpus folders.

One run: read and clean documents, cut passages, compare with the served
version, embed only text the cache has not seen, write a complete new
version beside the old one, verify it, then switch ``CURRENT`` to it.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus import list_sources, read_corpus
from corpus.coverage import MetadataCoverage
from corpus.document import Document, ReadFailure
from corpus.readers import missing_parsers
from corpus.sitewide import strip_site_furniture
from indexer import dedup
from indexer.cache import (
    EmbeddingCache,
    load_window_keys,
    model_key,
    save_window_keys,
    text_key,
)
from indexer.catalog import Catalog, catalog
from indexer.chunk import CHUNKER_VERSION, ChunkConfig, chunk_document, sentence_windows
from indexer.dense import (
    BackendSpec,
    BackendUnavailable,
    Connection,
    DenseBackend,
    build_backend,
    connection,
    load_backend,
    remove_backend,
    resolve,
)
from indexer.dense.base import Windows, read_rows, release, reserved_memmap
from indexer.embed import Embedder, load_embedder
from indexer.embed.distributed import PassageEncoder, passage_encoder
from indexer.errors import UserError
from indexer.feedback import FeedbackWords
from indexer.filtering import RowDocuments
from indexer.fusion import DenseCalibration
from indexer.keyword import KeywordIndex
from indexer.manifest import Manifest, model_mismatch
from indexer.passage import Passage
from indexer.settings import Settings
from indexer.store import Store, write_store
from indexer.terms import LearnedTerms, learn_terms
from indexer.version import layout
from indexer.versions import IndexDir

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the builder tells a progress display (the CLI renders it with rich)."""

    def stage(self, name: str, total: int | None, unit: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None, unit: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class _Increments:
    """Adapts the embedder's "n done so far" callback to ``Progress.advance(n)``."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._done = 0

    def __call__(self, done: int) -> None:
        self._progress.advance(done - self._done)
        self._done = done


class BuildError(UserError, RuntimeError):
    """The run could not produce a valid version; the served one is untouched."""


@dataclass(slots=True)
class BuildReport:
    """What a run did, in numbers a cron mail can show."""

    version: str | None
    full: bool
    full_reason: str | None
    documents: int = 0
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    vectors_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    roots: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    no_change: bool = False
    cache_pruned: int = 0
    #: window vectors in the version (a passage has one per sentence window)
    windows: int = 0
    #: the served version's folder and the embedding cache on disk, once the run is done
    version_bytes: int = 0
    cache_bytes: int = 0
    #: per-field coverage of the documents read (:class:`corpus.coverage.MetadataCoverage`)
    metadata: dict[str, object] = field(default_factory=dict)
    #: lines removed as site furniture (repeated on many pages of one site), by site
    furniture: dict[str, list[str]] = field(default_factory=dict)
    #: documents cut at ``max_document_chars``: source and their length before the cut
    truncated: list[dict[str, object]] = field(default_factory=list)
    max_document_chars: int = 0

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0

    @property
    def windows_per_second(self) -> float:
        """The embedding rate of this run's new windows."""
        return self.vectors_embedded / self.embed_seconds if self.embed_seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["passages_per_second"] = round(self.passages_per_second, 1)
        d["windows_per_second"] = round(self.windows_per_second, 1)
        d["metadata_summary"] = self.metadata_lines()
        return d

    def skipped(self, shown: int = 3) -> list[str]:
        """The skipped files, in lines a person reads; :attr:`failed` keeps every one.

        Files that share a reason are counted in one line once there are more than
        ``shown`` of them: the laws' 27 empty ``_index.md`` files were 27 lines on
        every run, and a reason that is news (a broken file) drowned among them.
        """
        by_reason: dict[str, list[str]] = {}
        for f in self.failed:
            by_reason.setdefault(f["reason"], []).append(f["source"])
        lines = []
        for reason, sources in by_reason.items():
            if len(sources) <= shown:
                lines += [f"{source}: {reason}" for source in sources]
            else:
                first = ", ".join(sources[:shown])
                more = len(sources) - shown
                lines.append(f"{len(sources)} files, {reason}: {first} and {more} more")
        return lines

    def metadata_lines(self) -> list[str]:
        """What the documents say about themselves, and what the build could not find."""
        if not self.metadata:
            return []
        coverage = MetadataCoverage(**self.metadata)  # type: ignore[arg-type]
        lines = [coverage.line(), *coverage.notes()]
        if self.truncated:
            shown = ", ".join(
                f"{t['source']} ({t['chars']:,} characters)" for t in self.truncated[:3]
            )
            more = len(self.truncated) - 3
            lines.append(
                f"cut {len(self.truncated)} document(s) to their first {self.max_document_chars:,} "
                f"characters (GOVSPEECH_MAX_DOCUMENT_CHARS): {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
        for site, removed in self.furniture.items():
            shown = "; ".join(removed[:3]) + (
                f" and {len(removed) - 3} more" if len(removed) > 3 else ""
            )
            lines.append(f"site furniture removed from {site.removeprefix('folder:')}: {shown}")
        return lines

    def measure_disk(self, version: Path, cache: Path) -> None:
        """Record what the version and the cache (with SQLite's side files) take on disk."""
        self.version_bytes = sum(f.stat().st_size for f in version.rglob("*") if f.is_file())
        self.cache_bytes = sum(f.stat().st_size for f in cache.parent.glob(cache.name + "*"))


def chunk_config(settings: Settings) -> ChunkConfig:
    return ChunkConfig.from_settings(settings)


def chunking_fingerprint(settings: Settings) -> dict[str, object]:
    """Settings that change passages or what is embedded: a change forces a full rebuild."""
    cfg: dict[str, object] = {"chunker": CHUNKER_VERSION, **asdict(chunk_config(settings))}
    cfg["embed_context"] = settings.embed_context
    cfg["embed_window_chars"] = settings.embed_window_chars
    return cfg


def embedding_units(passage: Passage, doc: Document, settings: Settings) -> list[str]:
    """The texts embedded for one passage: its sentence windows.

    A passage is cut into windows of whole sentences up to ``embed_window_chars``
    (0 = the whole passage) and the passage's dense score is its best window's:
    one averaged vector for a 300-character paragraph blurs the one sentence a
    query is about. Measured on the dev set, nDCG@10 dense-only / hybrid
    (paraphrase queries in brackets): whole passages with their heading 0.52;
    120-character windows with the heading 0.60. Text-only windows, float32
    weights: 80 characters 0.695 / 0.742 (0.384), 60 (the default) 0.672 / 0.749
    (0.430), 40 0.649 / 0.741 (0.397); int8 weights (the default) at 60: 0.658 /
    0.750 (0.435). Shorter windows serve paraphrases, longer ones exact terms.
    Differences of 0.01-0.02 are noise here: int8 vectors that moved by under
    0.006 in cosine (batched runs) gave 0.747-0.762 (0.430-0.443) at 60
    characters and 0.748-0.764 (0.433-0.466) at 40.
    ``embed_context`` can still put the section heading (and title) in front.
    """
    context = settings.embed_context
    if context == "text" or not passage.section:
        head = doc.title if context == "title_section" else ""
    else:
        last = passage.section.split(" > ")[-1]
        head = f"{doc.title} {last}" if context == "title_section" else last
    return [
        f"{head}\n{w}" if head else w
        for w in sentence_windows(passage.text, settings.embed_window_chars)
    ]


def corpus_roots(
    paths: Sequence[Path] | None, previous: Manifest | None, replace: bool
) -> list[Path]:
    """The folders and files the new version indexes.

    An index remembers its roots: no paths re-reads them; new paths are added
    to them (a path inside a root only re-reads that root); ``replace`` makes
    the given paths the whole corpus. A remembered root that has gone missing
    is an error rather than a silent deletion of everything it held.
    """
    old = [Path(r) for r in previous.corpus_roots] if previous else []
    if not paths:
        if not old:
            raise BuildError("no corpus given: name the folders or files to index")
        given: list[Path] = []
    else:
        given = [Path(p).expanduser().resolve() for p in paths]
    roots = given if replace or not old else [*old, *given]
    kept: list[Path] = []
    for root in dict.fromkeys(roots):
        if any(root != other and root.is_relative_to(other) for other in roots):
            continue  # covered by a root above it
        kept.append(root)
    gone = [r for r in kept if not r.exists()]
    if gone:
        raise BuildError(
            f"corpus path {', '.join(map(str, gone))} no longer exists; restore it, or index "
            "the paths you want with `govspeech index --replace PATH...` to drop it"
        )
    return kept


def build_index(
    paths: Sequence[Path] | None,
    settings: Settings,
    *,
    full: bool = False,
    replace: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Run one (re-)index into ``settings.index_dir``; see :func:`corpus_roots` for ``paths``.

    A run that finds nothing changed writes no new version. Raises IndexLocked
    when another run holds the index, BuildError when no document could be
    read or a remembered corpus path is gone; in both cases the served version
    is untouched.
    """
    progress = progress or _Silent()
    index_dir = IndexDir(settings.index_dir)
    served = catalog(settings)
    with index_dir.lock("govspeech index " + " ".join(map(str, paths or []))):
        _clean_up_interrupted(index_dir, served, settings)
        embedder = embedder or load_embedder(settings)
        started = time.perf_counter()  # the model's one-time preparation is not indexing
        previous = index_dir.current_manifest()
        roots = corpus_roots(paths, previous, replace)
        reembed = full  # only when asked: a first build or a new chunking reuses cached vectors
        full, reason = _needs_full(previous, embedder, settings, full)
        log.info("%s", f"full build: {reason}" if full else "incremental update")
        report = BuildReport(
            version=None,
            full=full,
            full_reason=reason,
            roots=[str(r) for r in roots],
            max_document_chars=settings.max_document_chars,
        )

        docs = _read(roots, settings, progress, report)
        fingerprint = _corpus_fingerprint(docs)
        _diff(index_dir if previous and not full else None, docs, report)
        if (
            previous is not None
            and not full
            and _unchanged(previous, fingerprint, report, settings, index_dir)
        ):
            return _still_served(previous, report, index_dir, served, started)
        chunked = _chunk(docs, settings, progress)
        rows = [(p, d) for d, ps in chunked for p in ps]
        owners = np.repeat(np.arange(len(chunked)), [len(ps) for _, ps in chunked])
        report.passages = len(rows)
        _log_read(report)
        try:
            encoder = passage_encoder(settings, embedder)
            vectors, owner, keys = _embed(
                rows, embedder, encoder, index_dir, settings, reembed, progress, report
            )
        except (OSError, sqlite3.Error) as e:
            raise _cache_error(e) from e

        name, partial = index_dir.new_partial()
        try:
            progress.stage("writing index", None, "steps")
            stored = write_store(partial / layout.STORE, chunked)
            # the later stages read passage texts only; the documents and passages go
            # (laws: ~230 MB, the share of a build's memory that grew with the corpus)
            texts, documents, passages = [p.text for p, _ in rows], len(docs), len(rows)
            del docs, chunked, rows
            windows = len(vectors)
            dense, calibration = _write_dense(
                partial, vectors, owner, texts, embedder, settings, progress
            )
            # what the keyword stages do not need leaves this process's memory: the backend
            # now reads the saved file, where queries look
            save_window_keys(partial, keys)
            del vectors, keys  # laws: 34 MB of key strings
            keyword_rows = _write_keyword_parts(partial, texts, owners, progress)
            _verify(
                partial, dense.spec.as_dict(), connection(settings), stored, passages, keyword_rows
            )
            Manifest(
                version=name,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                model=embedder.fingerprint(),
                chunking=chunking_fingerprint(settings),
                documents=documents,
                passages=passages,
                corpus_roots=report.roots,
                corpus_fingerprint=fingerprint,
                build_seconds=round(time.perf_counter() - started, 2),
                dense_calibration=calibration.as_dict(),
                dense=dense.spec.as_dict(),
                windows=windows,
            ).save(partial)
            served.prepare(partial)
        except (OSError, sqlite3.Error, RuntimeError) as e:  # faiss reports write errors so
            index_dir.discard(partial, _releaser(settings, served))
            raise BuildError(
                f"could not write the new version ({_os_reason(e)}); it was removed and the "
                "served version is unchanged"
            ) from e
        return _serve_new(name, partial, windows, report, index_dir, served, settings, started)


def _clean_up_interrupted(index_dir: IndexDir, served: Catalog, settings: Settings) -> None:
    """Remove what killed runs left: partial folders, and collections no version uses."""
    for name in index_dir.remove_partials(_releaser(settings, served)):
        log.warning("removed %s left by an interrupted run", name)
    kept = [index_dir.versions_dir / name for name in index_dir.versions()]
    for name in _swept(served, kept):
        log.warning("dropped Milvus collection %s left by an interrupted run", name)


def _unchanged(
    previous: Manifest,
    fingerprint: str,
    report: BuildReport,
    settings: Settings,
    index_dir: IndexDir,
) -> bool:
    """The served version already is what this run would build: the same documents from
    the same folders, and every part this code writes, with the backend the settings name."""
    served = index_dir.current_path()
    return (
        previous.corpus_fingerprint == fingerprint
        and previous.corpus_roots == report.roots
        and previous.windows > 0  # older versions did not record it, nor their backend
        and FeedbackWords.stored(served)  # nor feedback words
        and LearnedTerms.stored(served)  # nor learned terms
        and BackendSpec.from_dict(previous.dense) == resolve(settings.dense_index, previous.windows)
    )


def _still_served(
    previous: Manifest, report: BuildReport, index_dir: IndexDir, served: Catalog, started: float
) -> BuildReport:
    """Nothing changed: no new version; the report says what is served."""
    report.version, report.no_change = previous.version, True
    report.passages = report.reused = previous.passages
    report.windows = previous.windows
    report.measure_disk(index_dir.current_path(), index_dir.cache_path)
    _publish(served, index_dir.current_path())  # a run killed before its alias moved
    report.seconds = time.perf_counter() - started
    log.info("nothing changed; still serving version %s", previous.version)
    _log_metadata(report)
    return report


def _log_read(report: BuildReport) -> None:
    log.info(
        "read %d documents (%d added, %d changed, %d deleted, %d files skipped), cut %d passages",
        report.documents,
        report.added,
        report.changed,
        report.deleted,
        len(report.failed),
        report.passages,
    )


def _cache_error(e: OSError | sqlite3.Error) -> BuildError:
    return BuildError(
        f"could not use the embedding cache ({_os_reason(e)}); vectors stored so far "
        "are kept for the next run, and the served version is unchanged"
    )


def _write_dense(
    partial: Path,
    vectors: np.ndarray,
    owner: np.ndarray,
    texts: list[str],
    embedder: Embedder,
    settings: Settings,
    progress: Progress,
) -> tuple[DenseBackend, DenseCalibration]:
    """The dense index of the window vectors, saved, and the calibration of its scores."""
    spec = resolve(settings.dense_index, len(vectors))
    progress.stage(f"dense index ({spec.describe()}, {len(vectors):,} windows)", None, "steps")
    store = Store(partial / layout.STORE)  # each passage's document: what filters read
    try:
        documents = RowDocuments.of_store(store)
    finally:
        store.close()
    dense = build_backend(settings.dense_index, vectors, owner, connection(settings), documents)
    calibration = _calibrate(embedder, Windows(owner), texts, vectors)
    dense.save(partial)
    return dense, calibration


def _write_keyword_parts(
    partial: Path, texts: list[str], owners: np.ndarray, progress: Progress
) -> int:
    """Duplicate clusters, BM25 postings, feedback words and learned terms; returns the
    passages the keyword index holds."""
    progress.stage("finding near-duplicate passages", None, "steps")
    dedup.save(partial, dedup.clusters(texts))
    progress.stage("keyword index", len(texts), "passages")
    keyword = KeywordIndex.build(texts, progress=_Increments(progress))
    keyword.save(partial / layout.Keyword.FOLDER)
    progress.stage("feedback words", len(texts), "passages")
    FeedbackWords.build(texts, keyword, _Increments(progress)).save(partial)
    progress.stage("learning the archive's terms", None, "steps")
    learned, counts = learn_terms(texts, owners)
    learned.save(partial, counts)
    log.info("learned %d terms the archive uses as units", len(learned.terms))
    return len(keyword)


def _serve_new(
    name: str,
    partial: Path,
    windows: int,
    report: BuildReport,
    index_dir: IndexDir,
    served: Catalog,
    settings: Settings,
    started: float,
) -> BuildReport:
    """Publish the new version, drop what is no longer kept, and finish the report."""
    _publish(served, index_dir.publish(name, partial))
    log.info("now serving version %s from %s", name, settings.index_dir)
    for old in index_dir.prune(settings.keep_versions, _releaser(settings, served)):
        log.info("removed old version %s", old)
    report.cache_pruned = _prune_cache(index_dir)
    report.version, report.windows = name, windows
    report.measure_disk(index_dir.versions_dir / name, index_dir.cache_path)
    report.seconds = time.perf_counter() - started
    _log_metadata(report)
    return report


def _log_metadata(report: BuildReport) -> None:
    """End the log with what the documents said about themselves and what was not found."""
    for line in report.metadata_lines():
        log.info("%s", line)


def _os_reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
    return str(error)  # sqlite: "database or disk is full", "attempt to write a readonly database"


def _prune_cache(index_dir: IndexDir) -> int:
    """Drop cached vectors that no kept version uses; returns how many went.

    Versions written before window keys were recorded cannot say what they
    use, so while one is kept nothing is dropped.
    """
    keep: dict[str, set[bytes]] = {}
    for name in index_dir.versions():
        directory = index_dir.versions_dir / name
        keys = load_window_keys(directory)
        if keys is None:
            return 0
        keep.setdefault(model_key(Manifest.load(directory).model), set()).update(keys)
    cache = EmbeddingCache(index_dir.cache_path)
    try:
        removed = cache.retain(keep)
    finally:
        cache.close()
    if removed:
        log.info("removed %d cached vectors no kept version uses", removed)
    return removed


def _needs_full(
    previous: Manifest | None, embedder: Embedder, settings: Settings, full: bool
) -> tuple[bool, str | None]:
    if full:
        return True, "asked for (--full)"
    if previous is None:
        return True, "no index yet"
    if diff := model_mismatch(previous.model, embedder.fingerprint()):
        return True, f"embedding model changed ({diff})"
    if previous.chunking != chunking_fingerprint(settings):
        return True, "chunking changed (its settings or this version's rules)"
    return False, None


def _read(
    paths: Sequence[Path], settings: Settings, progress: Progress, report: BuildReport
) -> list[Document]:
    """Every document of ``paths``, cleaned, with site furniture gone; failures and coverage
    go on the report. A format whose parser cannot run here stops the run before reading."""
    sources = list_sources(paths)
    _check_parsers(sources)
    progress.stage("reading documents", len(sources), "files")
    docs: list[Document] = []
    seen: set[str] = set()
    last_source = None
    for item in read_corpus(paths, fields=settings.fields, max_chars=settings.max_document_chars):
        if isinstance(item, ReadFailure):
            report.failed.append({"source": item.source, "reason": item.reason})
            file_of = item.source.split("#", 1)[0]
        else:
            if item.doc_id in seen:
                report.failed.append({"source": item.source, "reason": "duplicate document id"})
                continue
            seen.add(item.doc_id)
            docs.append(item)
            file_of = item.source.split("#", 1)[0]
        if file_of != last_source:
            progress.advance()
            last_source = file_of
    for line in report.skipped():
        log.warning("skipped %s", line)
    if not docs:
        raise BuildError(
            "no document could be read from "
            + ", ".join(map(str, paths))
            + (f" ({len(report.failed)} failed)" if report.failed else " (no supported files)")
        )
    report.documents = len(docs)
    report.truncated = [
        {"source": d.source, "chars": int(d.extra["truncated_from"])}
        for d in docs
        if "truncated_from" in d.extra
    ]
    report.furniture = strip_site_furniture(docs)
    report.metadata = MetadataCoverage.of(docs, settings.fields).as_dict()
    return docs


def _check_parsers(sources: Sequence[Path]) -> None:
    """Stop when a whole format cannot be read here: skipped, its documents would leave the index."""
    counts: dict[str, int] = {}
    for path in sources:
        counts[path.suffix.lower()] = counts.get(path.suffix.lower(), 0) + 1
    broken = missing_parsers(counts)
    if broken:
        raise BuildError(
            "cannot read "
            + "; ".join(f"the {counts[s]:,} {s} files ({why})" for s, why in broken.items())
            + ". Nothing was indexed and the served version is unchanged."
        )


def _chunk(
    docs: list[Document], settings: Settings, progress: Progress
) -> list[tuple[Document, list[Passage]]]:
    cfg = chunk_config(settings)
    progress.stage("cutting passages", len(docs), "documents")
    out = []
    for doc in docs:
        out.append((doc, chunk_document(doc, cfg)))
        progress.advance()
    return out


def _diff(index_dir: IndexDir | None, docs: list[Document], report: BuildReport) -> None:
    if index_dir is None:
        report.added = len(docs)
        return
    store = Store(index_dir.current_path() / layout.STORE)
    try:
        old = list(store.documents())
    finally:
        store.close()
    before = {str(d["doc_id"]): d["content_hash"] for d in old}
    now = {d.doc_id: d.content_hash for d in docs}
    report.added = sum(1 for k in now if k not in before)
    report.removed = [f"{d['title']} ({d['source']})" for d in old if d["doc_id"] not in now]
    report.deleted = len(report.removed)
    report.changed = sum(1 for k, h in now.items() if k in before and before[k] != h)
    report.unchanged = len(now) - report.added - report.changed


def _embed(
    rows: list[tuple[Passage, Document]],
    embedder: Embedder,
    encoder: PassageEncoder,
    index_dir: IndexDir,
    settings: Settings,
    reembed: bool,
    progress: Progress,
    report: BuildReport,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Vectors of every passage's units (from the cache where possible), owner rows, text keys.

    The vectors come back as a memory map of ``index_dir``'s scratch file, filled from the
    cache once everything is embedded: memory holds a chunk of them at a time, never the
    corpus's vectors (twice, as a dict and a stacked copy, before).
    """
    units = [embedding_units(p, d, settings) for p, d in rows]
    texts = [t for u in units for t in u]
    owner = np.repeat(np.arange(len(units), dtype=np.int64), [len(u) for u in units])
    keys = [text_key(t) for t in texts]
    cache = EmbeddingCache(index_dir.cache_path)
    model = model_key(embedder.fingerprint())
    try:
        cached = set() if reembed else cache.present(model, keys, embedder.dim)
        # In corpus order: each flush sorts its own windows by length (``encode_passages``),
        # so batches still pad little, while the rate and ETA stay steady (sorted over the
        # whole run, the longest windows came first and the laws build started at a third
        # of its rate) and an interrupted run has cached a prefix of the corpus.
        missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
        stale = {int(r) for r, k in zip(owner, keys, strict=True) if k not in cached}
        report.embedded = len(stale)
        report.reused = len(rows) - len(stale)
        report.vectors_embedded = len(missing)
        if missing and cached:
            log.info(
                "%s: %s of %s windows already embedded",
                "resuming" if index_dir.current_name() is None else "cache",
                f"{len(keys) - len(missing):,}",
                f"{len(keys):,}",
            )
        progress.stage("embedding passages", len(missing), "windows")
        t0 = time.perf_counter()
        if missing:
            for i in range(0, len(missing), encoder.chunk):  # cached chunk by chunk
                part = missing[i : i + encoder.chunk]
                vecs = encoder.encode_passages(
                    [t for _, t in part],
                    batch_size=settings.batch_size,
                    progress=_Increments(progress),
                )
                cache.put_many(model, ((k, v) for (k, _), v in zip(part, vecs, strict=True)))
        report.embed_seconds = time.perf_counter() - t0
        if missing:
            log.info(
                "embedded %d passages (%d windows) in %.0f s, %.1f passages/s; reused %d",
                report.embedded,
                len(missing),
                report.embed_seconds,
                report.embedded / max(report.embed_seconds, 1e-9),
                report.reused,
            )
        if not keys:
            return np.empty((0, embedder.dim), np.float32), owner, keys
        progress.stage("reading vectors", None, "steps")
        try:
            vectors = reserved_memmap(index_dir.scratch_vectors, (len(keys), embedder.dim))
        except OSError as e:
            raise BuildError(
                f"could not write the new version ({_os_reason(e)}); the vectors embedded are "
                "kept in the cache for the next run, and the served version is unchanged"
            ) from e
        for rows, found in cache.in_key_order(model, keys, embedder.dim):
            vectors[rows] = found
            release(vectors)  # written pages go to the file, not this process's memory
        vectors.flush()
    finally:
        cache.close()
    return vectors, owner, keys


#: Passages each calibration pseudo-query is scored against (all of a smaller corpus).
CALIBRATION_PASSAGES = 20_000
_CALIBRATION_PART = 200
_CLAUSE = re.compile(r"[，。；：、！？,;:]")


def _calibrate(
    embedder: Embedder, windows: Windows, texts: list[str], vectors: np.ndarray
) -> DenseCalibration:
    """Measure where this model's cosines sit on this corpus.

    Pseudo-queries are the opening clauses of a fixed sample of passages: short,
    topical, with a known good answer in the index, like real queries. They are
    scored against their own passages and a fixed sample of others
    (``CALIBRATION_PASSAGES``): typical and best cosines of a large corpus are
    read well from a sample, and memory then does not grow with it. Scored a
    part at a time, from the vectors in hand (exactly what every backend's
    ``similarity`` gives; asking a Milvus server for 200 x 20,000 best windows
    took minutes), with the pages of ``vectors`` let go after each
    (:func:`~indexer.dense.base.gather` says why): 20,000 random passages at once
    mapped nearly the whole laws file (589 MB).
    """
    rng = random.Random(0)
    sources = rng.sample(range(len(texts)), min(200, len(texts)))
    queries = embedder.encode_queries(
        [_CLAUSE.split(texts[i])[0][:24] or texts[i][:24] for i in sources]
    )
    others = rng.sample(range(len(texts)), min(CALIBRATION_PASSAGES, len(texts)))
    rows = np.array(sorted(set(sources) | set(others)), dtype=np.int64)
    scores = []
    for part in np.array_split(rows, max(1, -(-len(rows) // _CALIBRATION_PART))):
        scores.append(windows.scores(queries, part, lambda ids: read_rows(vectors, ids)))
        release(vectors)
    return DenseCalibration.measure(np.concatenate(scores))


def rollback_index(settings: Settings) -> str:
    """Serve the previous complete version again; returns its name."""
    index_dir = IndexDir(settings.index_dir)
    with index_dir.lock("govspeech index --rollback"):
        name = index_dir.rollback()
        _publish(catalog(settings), index_dir.versions_dir / name)
    return name


def _publish(served: Catalog, version: Path) -> None:
    """Point the catalog at ``version`` (already ``CURRENT`` in the folder)."""
    try:
        served.publish(version)
    except BackendUnavailable as e:
        raise BuildError(
            f"version {version.name} is ready in {version.parent.parent}, but services still "
            f"serve the one before: {e}. Run the same command again once it answers."
        ) from e


def _swept(served: Catalog, kept: list[Path]) -> list[str]:
    try:
        return served.sweep(kept)
    except BackendUnavailable as e:  # an unreachable server must not stop a build
        log.warning("could not look for what interrupted runs left in Milvus: %s", e)
        return []


def _releaser(settings: Settings, served: Catalog) -> Callable[[Path], None]:
    """Drops what a version being deleted keeps outside its directory (Milvus collections)."""

    def release(version: Path) -> None:
        try:
            found = Manifest.load(version).dense if (version / layout.MANIFEST).is_file() else None
            record = found if found is not None else resolve(settings.dense_index, 0).as_dict()
            remove_backend(version, record, connection(settings))
            served.release(version)
        except Exception as e:  # an unreachable server must not stop a build from pruning
            log.warning("could not release what %s keeps outside it: %s", version.name, e)

    return release


def _verify(
    partial: Path,
    dense: dict[str, object],
    where: Connection,
    stored: int,
    expected: int,
    keyword: int,
) -> None:
    """The saved version reads back whole: store, dense backend and keyword index agree."""
    vectors = len(load_backend(partial, dense, where))
    if not stored == expected == keyword == vectors:
        raise BuildError(
            f"new version is inconsistent (passages: store {stored}, dense {vectors}, "
            f"keyword {keyword}, expected {expected}); the served version is unchanged"
        )


def _corpus_fingerprint(docs: list[Document]) -> str:
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.doc_id):
        h.update(f"{d.doc_id}:{d.content_hash}\n".encode())
    return h.hexdigest()[:32]
