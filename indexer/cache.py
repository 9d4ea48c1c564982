"""Embedding cache: vectors keyed by model fingerprint and embedded-text hash.

Re-indexing embeds only text it has never embedded with this model; every
other vector is read back from here.  A different model (or prompt) has a
different key, so vectors of two models never mix.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 900  # stay below SQLite's bound-parameter limit


def model_key(fingerprint: dict[str, Any]) -> str:
    """Short stable key for a model fingerprint."""
    raw = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    """Key of one embedded text (prompt excluded: the model key covers it)."""
    return hashlib.sha1(text.encode()).hexdigest()


class EmbeddingCache:
    """SQLite-backed map (model, text hash) -> float32 vector."""

    def __init__(self, path: Path, model: str, dim: int) -> None:
        self._con = sqlite3.connect(path)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, "
            "PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        self._model = model
        self._dim = dim

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors found for ``keys`` (missing keys are simply absent)."""
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            rows = self._con.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})",
                (self._model, *part),
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == self._dim:
                    found[key] = vec
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        self._con.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
            ((self._model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items),
        )
        self._con.commit()

    def close(self) -> None:
        self._con.close()
