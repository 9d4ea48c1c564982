"""Embedding cache: vectors keyed by model fingerprint and embedded-text hash.

Re-indexing embeds only text it has never embedded with this model; every
other vector is read back from here.  A different model (or prompt) has a
different key, so vectors of two models never mix.  Each version records the
keys it uses, and a build drops the vectors that no kept version uses.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.version import layout

_CHUNK = 900  # stay below SQLite's bound-parameter limit
KEYS_FILE = layout.WINDOW_KEYS


def model_key(fingerprint: dict[str, Any]) -> str:
    """Short stable key for a model fingerprint."""
    raw = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    """Key of one embedded text (prompt excluded: the model key covers it)."""
    return hashlib.sha1(text.encode()).hexdigest()


class EmbeddingCache:
    """SQLite-backed map (model key, text hash) -> float32 vector."""

    def __init__(self, path: Path) -> None:
        self._con = sqlite3.connect(path)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, "
            "PRIMARY KEY (model, key)) WITHOUT ROWID"
        )

    def get_many(self, model: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        """Vectors of ``model`` found for ``keys`` (missing keys are simply absent)."""
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            rows = self._con.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                (model, *part),
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    found[key] = vec
        return found

    def present(self, model: str, keys: Sequence[str], dim: int) -> set[str]:
        """Which of ``keys`` have a ``dim``-wide vector of ``model``, reading no vector.

        Asked in key order, each chunk reads neighbouring pages of the table: the laws'
        354 k keys took 4.7 s instead of 14 s in corpus order (hashes: random pages).
        """
        found: set[str] = set()
        ordered = sorted(set(keys))
        for i in range(0, len(ordered), _CHUNK):
            part = ordered[i : i + _CHUNK]
            rows = self._con.execute(
                f"SELECT key FROM vectors WHERE model = ? AND length(vec) = ? "
                f"AND key IN ({','.join('?' * len(part))})",
                (model, dim * 4, *part),
            )
            found.update(key for (key,) in rows)
        return found

    def in_key_order(
        self, model: str, keys: Sequence[str], dim: int
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """The vectors of ``keys`` a chunk at a time: (positions in ``keys``, their vectors).

        In key order, as :meth:`present` reads, so the caller (writing a memory map) never
        holds every vector twice, or at all.
        """
        order = sorted(range(len(keys)), key=keys.__getitem__)
        for i in range(0, len(order), _CHUNK):
            rows = order[i : i + _CHUNK]
            part = [keys[r] for r in rows]
            found = self.get_many(model, part, dim)
            yield rows, np.stack([found[k] for k in part])

    def put_many(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        self._con.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
            ((model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items),
        )
        self._con.commit()

    def retain(self, keep: dict[str, set[bytes]]) -> int:
        """Delete every vector not listed in ``keep`` (model key -> text digests); returns the count.

        The file shrinks too (VACUUM) once a fifth of it or more was dropped, so
        a corpus that shrank does not leave its old vectors on disk for ever.
        """
        con = self._con
        before = con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        con.execute("CREATE TEMP TABLE keep (model TEXT, key TEXT, PRIMARY KEY (model, key))")
        con.executemany(
            "INSERT OR IGNORE INTO keep VALUES (?, ?)",
            ((m, k.hex()) for m, keys in keep.items() for k in keys),
        )
        con.execute(
            "DELETE FROM vectors WHERE NOT EXISTS "
            "(SELECT 1 FROM keep WHERE keep.model = vectors.model AND keep.key = vectors.key)"
        )
        con.execute("DROP TABLE keep")
        con.commit()
        removed = before - con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        if removed and removed * 5 >= before:
            con.execute("VACUUM")
        return removed

    def close(self) -> None:
        self._con.close()


def save_window_keys(directory: Path, keys: Sequence[str]) -> None:
    """Record which cached vectors a version uses (20-byte digests), so the cache can be pruned."""
    raw = bytes.fromhex("".join(keys))
    np.save(directory / KEYS_FILE, np.frombuffer(raw, dtype=np.uint8).reshape(-1, 20))


def load_window_keys(directory: Path) -> set[bytes] | None:
    """The digests :func:`save_window_keys` wrote, or None for a version that has none."""
    path = directory / KEYS_FILE
    if not path.is_file():
        return None
    return {row.tobytes() for row in np.load(path)}
