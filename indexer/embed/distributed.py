"""Who embeds a build's passages: this process, or actors on a Ray cluster.

A build embeds only the windows its cache lacks, in chunks it stores as they
come back (:func:`indexer.build.build_index`). :class:`PassageEncoder` is all
it needs from whoever embeds them; :func:`passage_encoder` picks one from
settings. :class:`RayEncoder` sends each chunk through Ray Data: every actor
loads the model once (the same :func:`~indexer.embed.load_embedder` as a local
build, so a vector is the one this process would have made) and encodes its
batches, on a GPU when the cluster has one. The model is converted on each
node on first use, into that node's model cache.

    govspeech index CORPUS --ray local        # a Ray instance on this machine
    govspeech index CORPUS --ray auto         # the cluster this node belongs to
    govspeech index CORPUS --ray ray://head:10001
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from indexer.errors import UserError

if TYPE_CHECKING:
    from indexer.embed.embedder import Embedder
    from indexer.settings import Settings

log = logging.getLogger(__name__)


class PassageEncoder(Protocol):
    """Embeds passage texts for a build, in input order."""

    #: Texts handed over per call; the build caches each chunk's vectors as it returns.
    chunk: int

    def encode_passages(
        self,
        texts: list[str],
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray: ...


class RayUnavailable(UserError, RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def passage_encoder(settings: Settings, embedder: Embedder) -> PassageEncoder:
    """The encoder settings ask for: this process's model, or a Ray cluster's actors."""
    if not settings.ray_address:
        return embedder
    return RayEncoder(settings, embedder.dim)


class RayEncoder:
    """Passages embedded by actors of a Ray cluster, one model per actor."""

    #: Each chunk is one Ray Data job (about a second to schedule), so chunks are large.
    chunk = 8_192

    def __init__(self, settings: Settings, dim: int) -> None:
        try:
            import ray
        except ImportError as e:
            raise RayUnavailable("--ray needs Ray: pip install 'govspeech[ray]'") from e
        address = settings.ray_address
        if not ray.is_initialized():
            try:
                ray.init(
                    address=None if address == "local" else address,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise RayUnavailable(f"cannot reach the Ray cluster at {address!r}: {e}") from e
        resources = ray.cluster_resources()
        self._gpus = int(resources.get("GPU", 0))
        self._actors = max(1, self._gpus or int(resources.get("CPU", 1)))
        self._settings = settings.model_dump(mode="json")
        self._dim = dim
        log.info(
            "embedding on Ray: %d actor%s (%s)",
            self._actors,
            "s" if self._actors > 1 else "",
            f"{self._gpus} GPU" if self._gpus else "CPU",
        )

    def encode_passages(
        self,
        texts: list[str],
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts`` in input order; a batch that fails is retried by Ray, then
        raised: the build stores nothing of a chunk that did not come back whole."""
        import ray

        out = np.full((len(texts), self._dim), np.nan, np.float32)
        if not texts:
            return out
        items = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
        per_actor = -(-len(texts) // self._actors)
        embedded = items.map_batches(
            _EmbedActor,
            fn_constructor_args=(self._settings,),
            batch_size=min(per_actor, (batch_size or 32) * 8),
            concurrency=self._actors,
            num_cpus=1,
            num_gpus=1 if self._gpus else 0,
            max_restarts=2,
            max_task_retries=2,
        )
        done = 0
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            out[batch["i"]] = batch["vector"]
            done += len(batch["i"])
            if progress is not None:
                progress(done)
        if np.isnan(out).any():
            raise RayUnavailable("the Ray job returned fewer vectors than it was given")
        return out


class _EmbedActor:
    """One model per actor: loaded when the actor starts, kept for every batch it gets."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from indexer.embed.embedder import load_embedder
        from indexer.settings import Settings

        self._embedder = load_embedder(Settings(**{**settings, "ray_address": ""}))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._embedder.encode_passages([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}
