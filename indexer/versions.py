"""Index directory lifecycle: versions, the served pointer, the lock, rollback.

Layout of an index directory::

    INDEX_DIR/
      CURRENT              name of the served version (replaced atomically)
      versions/<name>/     complete versions (manifest.json written last)
      versions/.partial-*  a run in progress, or one that was killed
      embeddings.sqlite    vector cache shared by all versions
      .lock                held by the one re-index run allowed at a time

A run writes a new version into a ``.partial-*`` directory and only renames
it into place and flips ``CURRENT`` once it is complete and verified, so a
run killed at any point leaves the served version untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from indexer.dense.factory import backend_files
from indexer.errors import UserError
from indexer.manifest import Manifest, ManifestError
from indexer.version import layout

VERSION_PARTS = layout.PARTS


class IndexNotFound(RuntimeError):
    """No complete index version exists yet."""


class RollbackError(UserError, RuntimeError):
    """There is no older complete version to serve."""


class IndexLocked(RuntimeError):
    """Another re-index run holds the index directory."""


def _keep(version: Path) -> None:
    """Versions whose every part is inside their directory need no releasing."""


class IndexDir:
    """One index directory and the versions inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.current_file = self.root / "CURRENT"
        self.lock_file = self.root / ".lock"
        self.cache_path = self.root / "embeddings.sqlite"
        #: a build's window vectors while it runs (memory-mapped); the next build reuses it
        self.scratch_vectors = self.root / ".vectors-building.npy"
        self._read: tuple[tuple[int, int, int], str | None] | None = None

    # ---------------------------------------------------------------- reading
    def current_name(self) -> str | None:
        """The served version's name, or None when nothing was published yet.

        The service asks on every request; the file is read again only when its
        stat changes (publishing replaces it, so its inode changes): a stat costs
        a tenth of an open and read.
        """
        try:
            st = os.stat(self.current_file)
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._read is not None and self._read[0] == seen:
                return self._read[1]
            name = self.current_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        self._read = (seen, name)
        return name

    def current_path(self) -> Path:
        """Directory of the served version; raises IndexNotFound with advice."""
        name = self.current_name()
        if name is None or not (self.versions_dir / name).is_dir():
            raise IndexNotFound(
                f"no index in {self.root}: build one with `govspeech index PATH...`"
                + (f" (CURRENT names missing version {name})" if name else "")
            )
        return self.versions_dir / name

    def current_manifest(self) -> Manifest | None:
        """Manifest of the served version, or None when there is none."""
        try:
            return Manifest.load(self.current_path())
        except IndexNotFound:
            return None

    def versions(self) -> list[str]:
        """Complete versions, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.versions_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / layout.MANIFEST).is_file()
        )

    # ---------------------------------------------------------------- writing
    def new_partial(self) -> tuple[str, Path]:
        """Name and fresh working directory for the next version."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        existing = self.versions()
        seq = int(existing[-1].split("-")[0][1:]) + 1 if existing else 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"v{seq:05d}-{stamp}"
        partial = self.versions_dir / f".partial-{name}"
        partial.mkdir()
        return name, partial

    def publish(self, name: str, partial: Path) -> Path:
        """Move a verified partial version into place and serve it."""
        final = self.versions_dir / name
        _fsync_tree(partial)
        os.replace(partial, final)
        _fsync_dir(self.versions_dir)
        self._point_to(name)
        return final

    def rollback(self) -> str:
        """Serve the newest older version that is complete; returns its name."""
        versions = self.versions()
        current = self.current_name()
        if current not in versions or versions.index(current) == 0:
            raise RollbackError(
                f"nothing to roll back to in {self.root}: versions kept are {versions or 'none'}"
            )
        for previous in reversed(versions[: versions.index(current)]):
            problem = self.problem(previous)
            if problem is None:
                self._point_to(previous)
                return previous
            skipped = f"version {previous} is damaged ({problem})"
        raise RollbackError(f"nothing to roll back to in {self.root}: {skipped}")

    def problem(self, name: str) -> str | None:
        """What makes version ``name`` unservable (a missing or unreadable part), or None."""
        directory = self.versions_dir / name
        try:
            manifest = Manifest.load(directory)
        except ManifestError as e:
            return str(e)
        parts = (*VERSION_PARTS, *backend_files(manifest.dense))
        missing = [part for part in parts if not (directory / part).exists()]
        if missing:
            return f"missing {', '.join(missing)}"
        return _unreadable(directory, parts, manifest.passages)

    def prune(self, keep_old: int, release: Callable[[Path], None] = _keep) -> list[str]:
        """Delete versions older than the served one beyond ``keep_old``; returns removed names.

        ``release`` is called with each doomed version first, for what it keeps
        outside the directory (a Milvus collection).
        """
        versions = self.versions()
        current = self.current_name()
        if current not in versions:
            return []
        older = versions[: versions.index(current)]
        doomed = older[: max(0, len(older) - keep_old)]
        for name in doomed:
            release(self.versions_dir / name)
            # renamed first (atomic): a crash mid-delete leaves a hidden leftover that
            # remove_partials clears, never a half-deleted version that still lists
            gone = self.versions_dir / f".deleting-{name}"
            os.replace(self.versions_dir / name, gone)
            shutil.rmtree(gone, ignore_errors=True)
        return doomed

    def remove_partials(self, release: Callable[[Path], None] = _keep) -> list[str]:
        """Delete what killed runs left behind (call only while holding the lock)."""
        if not self.versions_dir.is_dir():
            return []
        removed = []
        for pattern in (".partial-*", ".deleting-*"):
            for p in self.versions_dir.glob(pattern):
                release(p)
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
        for p in self.root.glob("CURRENT.*"):  # a pointer a killed run never moved into place
            p.unlink(missing_ok=True)
            removed.append(p.name)
        return removed

    def discard(self, partial: Path, release: Callable[[Path], None] = _keep) -> None:
        """Remove a partial version a failed run wrote (it may have filled the disk)."""
        release(partial)
        shutil.rmtree(partial, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, purpose: str) -> Iterator[None]:
        """Hold the re-index lock; a second holder gets IndexLocked naming the first.

        ``flock`` is released by the kernel when the holder dies, so a run
        killed with SIGKILL never leaves a stale lock behind.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                raise IndexLocked(
                    f"another re-index run is using {self.root}: {_describe_holder(holder)}"
                ) from None
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "purpose": purpose,
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            try:
                yield
            finally:  # the holder's scratch goes with the lock (a killed run's, with the next)
                self.scratch_vectors.unlink(missing_ok=True)
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def _point_to(self, name: str) -> None:
        tmp = self.root / f"CURRENT.{os.getpid()}.{time.monotonic_ns()}"
        with tmp.open("w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.current_file)
        _fsync_dir(self.root)


def _unreadable(directory: Path, parts: Sequence[str], passages: int) -> str | None:
    """Why a version whose files are all there still cannot be served: a file that cannot be
    opened (permissions, I/O), or a store that does not read back its passages."""
    for part in parts:
        path = directory / part
        for f in path.rglob("*") if path.is_dir() else [path]:
            if f.is_file():
                try:
                    with f.open("rb") as handle:
                        handle.read(1)
                except OSError as e:
                    return f"cannot read {f.relative_to(directory)} ({e.strerror or e})"
    try:
        con = sqlite3.connect(f"file:{directory / 'store.sqlite'}?mode=ro", uri=True)
        try:
            stored = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as e:
        return f"its store cannot be read ({e})"
    return None if stored == passages else f"its store holds {stored} passages, not {passages}"


def _describe_holder(raw: str) -> str:
    try:
        info = json.loads(raw)
    except json.JSONDecodeError:
        return "holder unknown"
    return (
        f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')} "
        f"({info.get('purpose')})"
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)
