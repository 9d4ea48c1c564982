"""The manifest: what an index version holds and how it was built.

A searcher refuses a version whose manifest names a different embedding
model, and the builder forces a full rebuild when the model or chunking
settings differ from the previous version's, so an index is never mixed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import UserError
from indexer.version import layout

FORMAT = 1
FILE_NAME = layout.MANIFEST


class ManifestError(UserError, RuntimeError):
    """A version directory without a readable, compatible manifest."""


@dataclass(slots=True)
class Manifest:
    """Everything a reader needs to trust an index version."""

    version: str
    created: str
    model: dict[str, Any]
    chunking: dict[str, Any]
    documents: int
    passages: int
    corpus_roots: list[str]
    corpus_fingerprint: str
    build_seconds: float
    dense_calibration: dict[str, float] = field(default_factory=dict)
    #: the dense backend's type and parameters (:class:`indexer.dense.BackendSpec`);
    #: empty in versions from before backends were recorded, which are exact FAISS
    dense: dict[str, Any] = field(default_factory=dict)
    windows: int = 0
    format: int = FORMAT

    def save(self, directory: Path) -> None:
        """Write durably: the manifest is the last file of a version to appear."""
        tmp = directory / (FILE_NAME + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(asdict(self), f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / FILE_NAME)

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / FILE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ManifestError(f"{directory} is not a complete index version (no manifest)") from e
        except json.JSONDecodeError as e:
            raise ManifestError(f"manifest {path} is not valid JSON: {e}") from e
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Manifest:
        """A manifest as :meth:`save` wrote it, read from ``where`` (a file, a collection)."""
        if data.get("format") != FORMAT:
            raise ManifestError(
                f"index format {data.get('format')} in {where} is not supported "
                f"(this govspeech reads format {FORMAT}); rebuild with `govspeech index --full`"
            )
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_mismatch(built_with: dict[str, Any], running: dict[str, Any]) -> str | None:
    """Say how two model fingerprints differ, or None when vectors are compatible."""
    diffs = [
        f"{key}: index has {built_with.get(key)!r}, configured {running.get(key)!r}"
        for key in sorted(set(built_with) | set(running))
        if built_with.get(key) != running.get(key)
    ]
    return "; ".join(diffs) or None
