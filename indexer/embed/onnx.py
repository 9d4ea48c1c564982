"""The embedding model on ONNX Runtime: the same float32 vectors, two to three times faster.

On two CPU cores a short query through torch costs ~25 ms, almost all of it
per-operator dispatch rather than arithmetic; ONNX Runtime runs the exported
graph in ~9 ms. Batches of passages encode ~1.9x faster as well, so index
builds gain too. sentence-transformers loads the model once to make the
export, is the reference every export is checked against, and is the fallback.

The graph (transformer, pooling, L2 normalisation) is exported once per model
into the model cache, beside the tokenizer and an info file with the torch
model's vectors of a few probe texts. Every load re-encodes the probes and
compares them with those vectors, so a stale or foreign export is never used,
and a process that finds a good export never imports torch (importing it and
loading the model took 10-25 s of every CLI start). Models this module cannot
reproduce exactly (other pooling modes, extra modules, slow tokenizers) and
machines without onnxruntime keep the torch path: the speed-up is optional,
never a requirement.

By default (``Settings.onnx_int8``) the checked export is quantised once more
to int8 weights: queries take ~5.5 ms and passages encode ~1.4x faster again,
at vectors within cosine ~0.98 of float32 and equal dev-set quality.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from tokenizers import Tokenizer

from indexer.embed.files import atomic_write
from indexer.embed.tokens import FULL_FILE, ExportTokenizer, make_small

if TYPE_CHECKING:
    import onnxruntime
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bumped whenever the exported graph or its info file changes, so old exports are replaced.
EXPORT_VERSION = 2
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
_GRAPH_FILES: dict[Precision, str] = {"float32": "model.onnx", "int8": "model.int8.onnx"}
_INFO_FILES: dict[Precision, str] = {"float32": "model.json", "int8": "model.int8.json"}


#: Runs side by side (one core each) when a call encodes several texts.
_WORKERS = max(1, len(os.sched_getaffinity(0)))
_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="onnx")
        return _executor


class OnnxEncoder:
    """Encodes one batch of texts (prompts already applied) with an exported model.

    Needs only onnxruntime and the ``tokenizers`` library: a process that finds a
    checked export never imports torch or sentence-transformers.
    """

    def __init__(
        self,
        graph: Path,
        tokenizer: ExportTokenizer,
        info: ExportInfo,
        threads: int = 1,
    ) -> None:
        self.info = info
        self.precision: Precision = info.precision
        self.dim = info.dim
        self.graph = graph
        self._session = _session(graph, threads)
        self.tokenizer = tokenizer

    def with_threads(self, threads: int) -> OnnxEncoder:
        """The same export in a session of ``threads`` intra-op threads: the layout of the
        baseline ``bench/bench_embed.py`` compares the side-by-side runs with."""
        return OnnxEncoder(self.graph, self.tokenizer, self.info, threads)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``; several texts run side by side, one core each.

        int8 activations are scaled per run, so int8 runs one text at a time:
        each vector stays a function of its text alone (batched, it moved with
        its batch companions by up to 0.006 in cosine, and dev nDCG@10 by
        0.015). On two cores, two one-thread runs side by side embed ~1.8x the
        windows of one two-thread run, and a one-thread query is faster too
        (6.4 vs 7.7 ms): a 40-token window is too small to split across cores.
        """
        if len(texts) <= 1:
            return self._run(texts)
        if self.precision == "int8":
            parts = [[t] for t in texts]
        else:
            size = -(-len(texts) // _WORKERS)
            parts = [texts[i : i + size] for i in range(0, len(texts), size)]
        return np.vstack(list(_pool().map(self._run, parts)))

    def _run(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenizer.encode(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """What is known about a model without loading it, stored beside its export.

    ``source`` identifies the model folder the graph was exported from
    (:func:`model_identity`); ``probes`` are the torch model's own vectors of
    :data:`PROBES`, so every later load can check the graph without torch.
    """

    source: str
    precision: Precision
    dim: int
    query_prompt: str
    passage_prompt: str
    probes: list[list[float]]
    version: int = EXPORT_VERSION


def model_identity(folder: Path) -> str:
    """A cheap identity of a model folder: every file's path, size and modification time.

    Hashing gigabytes of weights on every start would cost seconds; a changed,
    replaced or re-converted model changes a size or a time, so its export is
    made again.
    """
    h = hashlib.sha1(str(folder.resolve()).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def export_dir(cache_dir: Path, name: str) -> Path:
    """Where the exports of model ``name`` live inside the model cache."""
    return cache_dir / "onnx" / _slug(name)


def export_recorded(folder: Path, source: str, precision: Precision) -> bool:
    """Whether ``folder`` records an export of ``source`` (not yet checked: see :func:`open_export`)."""
    return _recorded(folder, source, precision) is not None


def open_export(folder: Path, source: str, precision: Precision) -> OnnxEncoder | None:
    """The checked export of ``precision`` in ``folder`` if it belongs to ``source``; no torch.

    The graph must reproduce the torch vectors recorded when it was made, so a
    truncated, stale or foreign file is never used.
    """
    info = _recorded(folder, source, precision)
    return None if info is None else _agreeing(folder, info)


def _recorded(folder: Path, source: str, precision: Precision) -> ExportInfo | None:
    info = _read_info(folder / _INFO_FILES[precision])
    if info is None or info.source != source or info.version != EXPORT_VERSION:
        return None
    return info


def make_export(
    model: str, name: str, folder: Path, source: str, int8: bool = False
) -> OnnxEncoder | None:
    """Export ``model`` (a folder or hub name) into ``folder``, and quantise it with ``int8``.

    Each heavy step runs in a child process: tracing the graph peaks near 2 GB
    and quantising near 2.6 GB, and a long-lived service or build should not
    keep what torch and the exporter leave behind (torch is never imported
    here). The child checks the graph against the torch model before it
    records it. Returns None, with a log line, when the model's layout is not
    covered or the export does not reproduce it; then the model runs on torch.
    With ``int8``, the float32 graph is removed once the int8 one is checked:
    it is only needed to make it. When int8 cannot be made, the float32
    encoder is returned and its ``precision`` says so.
    """
    try:
        import onnxruntime  # noqa: F401  (optional speed-up)
    except ImportError:
        log.info("onnxruntime is not installed; the model runs on torch.")
        return None

    def export() -> bool:
        return _child("export", model, name, folder, source)

    if not int8:
        found = open_export(folder, source, "float32")
        if found is None and export():
            found = open_export(folder, source, "float32")
            _remove_older_exports(folder)
        return found
    if not export_recorded(folder, source, "float32") and not export():
        return None
    if not _child("quantise", folder) and not (export() and _child("quantise", folder)):
        # (the float32 graph may have been damaged since it was recorded: both made again)
        log.warning("%s runs in float32.", name)
        return open_export(folder, source, "float32")
    for unused in (_GRAPH_FILES["float32"], _INFO_FILES["float32"]):
        (folder / unused).unlink(missing_ok=True)
    _remove_older_exports(folder)
    return open_export(folder, source, "int8")


def _remove_older_exports(folder: Path) -> None:
    """Delete exports of the same model made by an older govspeech (another EXPORT_VERSION)."""
    tail = folder.name.rsplit("-", 1)[0]
    for other in folder.parent.iterdir():
        if other == folder or not other.is_dir() or other.name.rsplit("-", 1)[0] != tail:
            continue
        infos = [_read_info(other / f) for f in _INFO_FILES.values()]
        if not any(i is not None and i.version == EXPORT_VERSION for i in infos):
            log.info("Removing an older export of this model: %s", other)
            shutil.rmtree(other, ignore_errors=True)


#: Exit status of an export child for a model whose layout the graph does not cover.
_NOT_COVERED = 3


_STEPS = {
    "export": "Exporting the embedding model for ONNX Runtime (once per model)",
    "quantise": "Quantising it to int8 weights (once per model)",
}


def _child(step: str, *args: str | Path) -> bool:
    """Run one step of :func:`make_export` in a fresh interpreter; True when it succeeded."""
    log.info("%s ...", _STEPS[step])
    command = [sys.executable, "-m", "indexer.embed", step, *map(str, args)]
    env = {**os.environ, **child_environment()}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode == _NOT_COVERED:
        log.info("%s: the ONNX export does not cover this model; it runs on torch.", args[0])
    elif done.returncode != 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        log.warning("Preparing the model for ONNX Runtime (%s) failed: %s", step, tail)
    return done.returncode == 0


def child_environment() -> dict[str, str]:
    """Variables for a helper interpreter: this very code first on its path, libraries quiet."""
    code = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (code, os.environ.get("PYTHONPATH")) if p)
    return {
        "PYTHONPATH": path,
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }


def export_step(model_path: str, name: str, folder: Path, source: str) -> int:
    """Child: load the model with torch, export, check and record the float32 graph."""
    from sentence_transformers import SentenceTransformer

    from indexer.embed.prompts import model_prompts

    model = SentenceTransformer(model_path, device="cpu")
    pooling = _pooling_mode(model)
    tokenizer = _fast_tokenizer(model)
    if pooling is None or tokenizer is None:
        return _NOT_COVERED
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / FULL_FILE, lambda tmp: Path(tmp).write_text(tokenizer.to_str()))
    expected = np.asarray(
        model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True), np.float32
    )
    query_prompt, passage_prompt = model_prompts(model.prompts, name)
    info = ExportInfo(
        source=source,
        precision="float32",
        dim=int(expected.shape[1]),
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        probes=expected.round(6).tolist(),
    )
    with contextlib.suppress(ValueError):  # not a Unigram tokenizer: it always loads whole
        make_small(folder, (query_prompt or "", passage_prompt or ""))
    return 0 if _made(folder, info, lambda tmp: _export(model, pooling, tmp)) else 1


def quantise_step(folder: Path) -> int:
    """Child: quantise the recorded float32 graph, check and record the int8 one."""
    info = _read_info(folder / _INFO_FILES["float32"])
    if info is None:
        return 1
    made = _made(
        folder,
        replace(info, precision="int8"),
        lambda tmp: _quantise(folder / _GRAPH_FILES["float32"], tmp),
    )
    return 0 if made else 1


def _made(folder: Path, info: ExportInfo, make: Callable[[str], object]) -> OnnxEncoder | None:
    """Write the graph with ``make``, check it, then record ``info``: the info file comes last."""
    graph = folder / _GRAPH_FILES[info.precision]
    try:
        atomic_write(graph, make)
    except Exception as exc:  # exporter and quantiser gaps differ per architecture
        log.warning("Could not make %s (%s).", graph, exc)
        return None
    found = _agreeing(folder, info)
    if found is None:
        log.warning("%s does not reproduce the model.", graph)
        return None
    text = json.dumps(asdict(info))
    atomic_write(folder / _INFO_FILES[info.precision], lambda tmp: Path(tmp).write_text(text))
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

    with _quiet(None):  # its root-logger advice ("consider pre-processing") is for its developers
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)


def _agreeing(folder: Path, info: ExportInfo) -> OnnxEncoder | None:
    """The encoder in ``folder`` if it gives the probes the recorded torch vectors.

    Only the probes the small tokenizer covers are run, so that opening an
    export never loads the full vocabulary (see :mod:`indexer.embed.tokens`).
    """
    prompts = (info.query_prompt or "", info.passage_prompt or "")
    try:
        tokenizer = ExportTokenizer(folder, prompts)
        encoder = OnnxEncoder(folder / _GRAPH_FILES[info.precision], tokenizer, info)
        probes = [i for i, p in enumerate(PROBES) if tokenizer.covers(p)] or range(len(PROBES))
        got = encoder([PROBES[i] for i in probes])
    except Exception as exc:  # a truncated or foreign file: export again
        log.info("Cannot load the ONNX model in %s (%s).", folder, exc)
        return None
    expected = np.asarray(info.probes, np.float32)[list(probes)]
    agreement = float(np.min(np.sum(got * expected, axis=1)))
    if agreement >= MIN_AGREEMENT[info.precision]:
        return encoder
    log.info("ONNX model in %s disagrees with the model (cosine %.5f).", folder, agreement)
    return None


def _read_info(path: Path) -> ExportInfo | None:
    try:
        return ExportInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _fast_tokenizer(model: SentenceTransformer) -> Tokenizer | None:
    """The model's tokenizer as a ``tokenizers.Tokenizer`` set up as sentence-transformers calls it.

    sentence-transformers pads to the longest text and truncates at
    ``max_seq_length``; the same settings are saved with the export so the
    graph sees the very token ids torch saw.
    """
    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.enable_truncation(max_length=int(model.max_seq_length))
    pad = model.tokenizer.pad_token
    tokenizer.enable_padding(pad_id=int(model.tokenizer.pad_token_id), pad_token=str(pad))
    return tokenizer


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


@contextlib.contextmanager
def _quiet(logger: str | None) -> Iterator[None]:
    """Silence a library's log lines (``None``: the root logger's) and its warnings."""
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        target.setLevel(level)


def _session(path: Path, threads: int = 1) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    options.intra_op_num_threads = threads  # 1: parallel runs instead, see OnnxEncoder.__call__
    # Runs side by side share the session; its memory arena is one lock between them.
    # Without it, laws windows embed 6-8 % faster, to the same bits.
    options.enable_cpu_mem_arena = False
    # Idle ORT threads would otherwise spin for a while after each query, stealing
    # the cores FAISS and the rest of the search need next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
