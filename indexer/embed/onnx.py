"""The embedding model on ONNX Runtime: the same float32 vectors, two to three times faster.

On two CPU cores a short query through torch costs ~25 ms, almost all of it
per-operator dispatch rather than arithmetic; ONNX Runtime runs the exported
graph in ~9 ms. Batches of passages encode ~1.9x faster as well, so index
builds gain too. sentence-transformers still loads the model, is the
reference every export is checked against, and is the fallback.

The graph (transformer, pooling, L2 normalisation) is exported once per model
into the model cache. Every load checks it against the torch model on a few
probe texts and re-exports when they disagree, so a stale or foreign export is
never used. Models this module cannot reproduce exactly (other pooling modes,
extra modules) and machines without onnxruntime keep the torch path: the
speed-up is optional, never a requirement.

By default (``Settings.onnx_int8``) the checked export is quantised once more
to int8 weights: queries take ~5.5 ms and passages encode ~1.4x faster again,
at vectors within cosine ~0.98 of float32 and equal dev-set quality.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bumped whenever the exported graph changes, so old exports are replaced.
EXPORT_VERSION = 1
#: Texts every load encodes both ways; Chinese, mixed and padded lengths.
PROBES = (
    "query: 成果转化 措施",
    "query: 让大学的研究成果变成企业的产品",
    "query: 2025年 GDP 增长目标",
    "passage: （一）加快构建现代化产业体系。推动传统产业转型升级，培育壮大新兴产业。",
)
Precision = Literal["float32", "int8"]
#: Lowest probe cosine to the torch model that counts as the same model. float32
#: reproduces it; rounding weights to int8 moves vectors a little (0.977 at worst,
#: 0.988 on average over 640 report windows), a broken graph far more.
MIN_AGREEMENT: dict[Precision, float] = {"float32": 0.9999, "int8": 0.95}
_POOLINGS = ("mean", "cls")


class OnnxEncoder:
    """Encodes one batch of texts (prompts already applied) with an exported model."""

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        model: SentenceTransformer,
        precision: Precision = "float32",
    ) -> None:
        self.precision = precision
        self._session = session
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.precision == "int8" and len(texts) > 1:
            # int8 activations are scaled per run: one text per run keeps each vector a
            # function of its text alone (batched, it moved with its batch companions by up
            # to 0.006 in cosine, and dev nDCG@10 by 0.015). Costs ~20% of throughput.
            return np.vstack([self._run([t]) for t in texts])
        return self._run(texts)

    def _run(self, texts: list[str]) -> np.ndarray:
        batch = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="np",
        )
        feeds = {
            "input_ids": batch["input_ids"].astype(np.int64),
            "attention_mask": batch["attention_mask"].astype(np.int64),
        }
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)


def onnx_encoder(
    model: SentenceTransformer,
    name: str,
    cache_dir: Path,
    reference: Callable[[list[str]], np.ndarray],
    int8: bool = False,
) -> OnnxEncoder | None:
    """An ONNX encoder that agrees with ``model``, or None (with a log line) to keep torch.

    ``reference`` encodes prompted texts with the torch model (unit vectors);
    the export must reproduce its vectors for the probes. ``int8`` asks for the
    graph with int8 weights (see :func:`_quantise`); when that cannot be made,
    the float32 encoder is returned and its ``precision`` says so.
    """
    try:
        import onnxruntime  # noqa: F401  (optional speed-up)
    except ImportError:
        log.info("onnxruntime is not installed; the model runs on torch.")
        return None
    pooling = _pooling_mode(model)
    if pooling is None:
        log.info(
            "Model %s has a module layout the ONNX export does not cover; it runs on torch.", name
        )
        return None
    path = cache_dir / "onnx" / _slug(name) / "model.onnx"
    int8_path = path.with_name("model.int8.onnx")
    expected = reference(list(PROBES))
    if int8 and int8_path.exists() and (found := _agreeing(int8_path, model, expected, "int8")):
        return found  # the float32 graph is only needed to make it
    encoder = _checked(path, lambda tmp: _export(model, pooling, tmp), model, expected, "float32")
    if encoder is None:
        log.warning("%s runs on torch.", name)
        return None
    if not int8:
        return encoder
    found = _checked(int8_path, lambda tmp: _quantise(path, tmp), model, expected, "int8")
    if found is None:
        log.warning("%s runs in float32.", name)
    return found or encoder


def _checked(
    path: Path,
    make: Callable[[str], object],
    model: SentenceTransformer,
    expected: np.ndarray,
    precision: Precision,
) -> OnnxEncoder | None:
    """The agreeing encoder at ``path``, made (again) by ``make`` when missing, broken or off."""
    if path.exists() and (found := _agreeing(path, model, expected, precision)) is not None:
        return found
    try:
        log.info(
            "Writing the %s model for ONNX Runtime to %s (once per model) ...", precision, path
        )
        _atomic_write(path, make)
    except Exception as exc:  # exporter and quantiser gaps differ per architecture
        log.warning("Could not make %s (%s).", path, exc)
        return None
    found = _agreeing(path, model, expected, precision)
    if found is None:
        log.warning("%s does not reproduce the model.", path)
    return found


def _quantise(source: Path, target: str) -> None:
    """int8 weights by ONNX Runtime's dynamic quantisation.

    On two cores the result encodes passages ~1.4x (one text per run) and
    queries 1.6x faster than float32 and is a quarter of the size. Its vectors
    differ slightly, so an index built with it records ``int8`` in its model
    fingerprint. Activations are quantised per run, so :class:`OnnxEncoder`
    runs it one text at a time.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, weight_type=QuantType.QInt8)


def _agreeing(
    path: Path, model: SentenceTransformer, expected: np.ndarray, precision: Precision
) -> OnnxEncoder | None:
    """The encoder at ``path`` if it gives the probes the torch model's vectors."""
    try:
        encoder = OnnxEncoder(_session(path), model, precision)
    except Exception as exc:  # a truncated or foreign file: export again
        log.info("Cannot load the ONNX model at %s (%s).", path, exc)
        return None
    agreement = float(np.min(np.sum(encoder(list(PROBES)) * expected, axis=1)))
    if agreement >= MIN_AGREEMENT[precision]:
        return encoder
    log.info("ONNX model at %s disagrees with the model (cosine %.5f).", path, agreement)
    return None


def _pooling_mode(model: SentenceTransformer) -> str | None:
    """The pooling the graph must reproduce, if the model is transformer + pooling (+ normalize)."""
    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    config = model[1].get_config_dict()
    mode = config.get("pooling_mode")
    if mode not in _POOLINGS or not config.get("include_prompt", True):
        return None
    return str(mode)


def _slug(name: str) -> str:
    """A folder name per model: readable tail plus a hash of the full name or path."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rstrip("/\\").rsplit("/", 1)[-1])[:48]
    digest = hashlib.sha1(f"{EXPORT_VERSION}:{name}".encode()).hexdigest()[:10]
    return f"{tail}-{digest}"


def _export(model: SentenceTransformer, pooling: str, path: str) -> None:
    """Trace the model (transformer, pooling, normalisation) into ``path``."""
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    graph = _Graph(model[0].auto_model).eval()
    sample = model.tokenizer([PROBES[0]], return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about python ints in HF code
        torch.onnx.export(
            graph,
            (sample["input_ids"], sample["attention_mask"]),
            path,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def _atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Let ``write`` fill a temporary file, then move it to ``path``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.partial")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _session(path: Path) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    # Idle ORT threads would otherwise spin for a while after each query, stealing
    # the cores FAISS and the rest of the search need next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
