"""Dense backends by name: the recipes ``GOVSPEECH_DENSE_INDEX`` names and the implementations.

``auto``, ``flat``, ``hnsw``, ``hnsw-sq8``, ``ivf-sq8``, ``ivf-pq``, ``ivf-pqfs`` and ``milvus``
are recipes; ``faiss:IVF4096,SQ8;nprobe=48`` spells a FAISS index directly. A recipe becomes a
:class:`BackendSpec` for the number of windows being indexed. Settings check a name here, and
:mod:`indexer.dense.factory` builds and opens what a spec names; this module reads no settings,
so the two do not import each other. Importing it does not import FAISS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from indexer.dense.base import BackendSpec, DenseBackend, UnknownBackend

#: ``auto`` stays exact up to this many windows: a flat scan costs ~1 ms per 10 k
#: windows here (docs/dense-backends.md), so exact stays under ~2 ms.
AUTO_EXACT_WINDOWS = 20_000
#: ... then an HNSW graph over the float32 vectors up to this many (demo, 32 k windows:
#: recall@10 0.993 in 1.4 ms against 3.8 ms exact; 1.8 KB a window, 270 MB at the limit) ...
AUTO_GRAPH_WINDOWS = 150_000
#: ... and above it IVF over 4-bit fast-scan product codes (96 bytes a window, 1/16 of
#: float32), rescored exactly. Laws, 354 k windows, a fifth of the lists probed: recall
#: 0.976 in 3.3 ms; 8-bit PQ96 codes of the same size took 9.9 ms for 0.978.
AUTO_ANN = "ivf-pqfs"
#: Share of IVF clusters probed per query, up to ``PROBE_SHARE_LISTS`` lists. Laws vectors
#: (1,024 lists, SQ8): an eighth gave recall@10 0.959 in 6.5 ms, a quarter 0.984 in 9.9 ms,
#: a fifth 0.977 in 11 ms.
IVF_PROBE_SHARE = 1 / 5
#: Beyond this many lists the probes grow with the square root of the list count, not in
#: proportion: 4 M windows, 4,096 lists: 205 probes gave recall 0.982 in 4.0 ms, 410 0.982
#: in 7.8 ms, 819 (a fifth) 0.992 in 12.7 ms (docs/dense-backends.md).
PROBE_SHARE_LISTS = 1_024
MIN_NPROBE = 16
HNSW_EF_SEARCH = 128


def _ivf_lists(windows: int) -> int:
    """About 2 sqrt(n) clusters, a power of two, with >= 39 training points each.

    Fewer clusters than FAISS's usual 4-16 sqrt(n): training and assigning 4 M
    windows to 4,096 clusters takes minutes on two cores, not a quarter hour.
    """
    target = 2 ** round(math.log2(max(2 * math.sqrt(max(windows, 1)), 1)))
    return int(max(1, min(target, 65_536, windows // 39)))


def _ivf(codes: str) -> Callable[[int], BackendSpec]:
    def recipe(windows: int) -> BackendSpec:
        lists = _ivf_lists(windows)
        proportional = min(lists, PROBE_SHARE_LISTS)
        probes = IVF_PROBE_SHARE * proportional * math.sqrt(lists / proportional)
        nprobe = min(lists, max(MIN_NPROBE, round(probes)))
        return BackendSpec("faiss", f"IVF{lists},{codes}", {"nprobe": nprobe})

    return recipe


RECIPES: dict[str, Callable[[int], BackendSpec]] = {
    "flat": lambda windows: BackendSpec("faiss", "Flat"),
    "hnsw": lambda windows: BackendSpec("faiss", "HNSW32,Flat", {"efSearch": HNSW_EF_SEARCH}),
    "hnsw-sq8": lambda windows: BackendSpec("faiss", "HNSW32,SQ8", {"efSearch": HNSW_EF_SEARCH}),
    "ivf-sq8": _ivf("SQ8"),
    "ivf-pq": _ivf("PQ96"),
    # 192 sub-quantisers of 4 bits: FAISS scores them with SIMD lookups (d must divide by 192)
    "ivf-pqfs": _ivf("PQ192x4fs"),
    # a Milvus collection (Lite file or server, GOVSPEECH_MILVUS_URI): HNSW, exact rescoring
    "milvus": lambda windows: BackendSpec("milvus", "HNSW", {"ef": HNSW_EF_SEARCH}),
}
_RAW = re.compile(r"^(?P<backend>[a-z]+):(?P<index>[^;]+)(?:;(?P<params>.*))?$")


def resolve(name: str, windows: int) -> BackendSpec:
    """The backend ``name`` stands for at ``windows`` vectors; UnknownBackend if none."""
    name = name.strip()
    if name == "auto":
        name = (
            "flat"
            if windows <= AUTO_EXACT_WINDOWS
            else "hnsw"
            if windows <= AUTO_GRAPH_WINDOWS
            else AUTO_ANN
        )
    if name in RECIPES:
        return RECIPES[name](windows)
    raw = _RAW.match(name)
    if raw is None or raw["backend"] not in _BACKENDS:
        raise UnknownBackend(
            f"unknown dense backend {name!r}: use auto, {', '.join(RECIPES)}, "
            "or faiss:<index factory string>[;nprobe=N|efSearch=N]"
        )
    params: dict[str, int] = {}
    for item in filter(None, (raw["params"] or "").split(",")):
        key, _, value = item.partition("=")
        if not value.strip().isdigit():
            raise UnknownBackend(f"dense backend parameter {item!r} is not name=integer")
        params[key.strip()] = int(value)
    return BackendSpec(raw["backend"], raw["index"].strip(), params)


def _faiss() -> type[DenseBackend]:
    from indexer.dense.faiss_backend import FaissBackend

    return FaissBackend


def _milvus() -> type[DenseBackend]:
    from indexer.milvus.dense import MilvusBackend

    return MilvusBackend


#: Implementations by the ``backend`` a spec names; each is imported when first used.
_BACKENDS: dict[str, Callable[[], type[DenseBackend]]] = {"faiss": _faiss, "milvus": _milvus}


def implementation(spec: BackendSpec) -> type[DenseBackend]:
    if spec.backend not in _BACKENDS:
        raise UnknownBackend(
            f"dense backend {spec.backend!r} is not available in this govspeech "
            f"(it has {', '.join(_BACKENDS)})"
        )
    return _BACKENDS[spec.backend]()
