"""Building and opening dense backends.

A name (:mod:`indexer.dense.recipes`) becomes a :class:`BackendSpec` for the number of
windows being indexed; the manifest records the spec, so a version is always opened with
the backend that built it, whatever the settings say now. Importing this module does not
import FAISS.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from indexer.dense.base import LOCAL, BackendSpec, Connection, DenseBackend
from indexer.dense.recipes import implementation, resolve

if TYPE_CHECKING:
    import numpy as np

    from indexer.filtering import RowDocuments
    from indexer.settings import Settings


def build_backend(
    name: str,
    vectors: np.ndarray,
    owner: np.ndarray,
    connection: Connection = LOCAL,
    documents: RowDocuments | None = None,
) -> DenseBackend:
    """Index window ``vectors`` with the backend ``name`` stands for at their number
    (``documents``: each passage's, for a backend that filters by their fields)."""
    spec = resolve(name, len(vectors))
    return implementation(spec).build(spec, vectors, owner, connection, documents)


def load_backend(
    directory: Path, record: dict[str, object], connection: Connection = LOCAL
) -> DenseBackend:
    """Open a version's dense backend as its manifest ``record`` describes it."""
    spec = BackendSpec.from_dict(record)
    return implementation(spec).load(directory, spec, connection)


def backend_files(record: dict[str, object]) -> tuple[str, ...]:
    """The files a version's dense backend needs in its folder, as its manifest names it."""
    return implementation(BackendSpec.from_dict(record)).FILES


def remove_backend(
    directory: Path, record: dict[str, object], connection: Connection = LOCAL
) -> None:
    """Release what a version about to be deleted keeps outside its directory."""
    spec = BackendSpec.from_dict(record)
    implementation(spec).remove(directory, connection)


def connection(settings: Settings) -> Connection:
    """The service backends' address from settings; Milvus Lite defaults into the index dir."""
    uri = settings.milvus_uri or str(settings.index_dir.expanduser() / "milvus.db")
    return Connection(uri, settings.milvus_token or "", settings.milvus_collection)
