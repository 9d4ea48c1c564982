"""Benchmark: dense backends on real window vectors, and the chosen one at 1 M / 4 M windows.

On a built index (flat, or any backend that keeps the float32 vectors beside
its codes): for each backend, build seconds, bytes per window, recall@10 of
passages against exact search (unfiltered and inside filters) and search
latency p50/p95 (top-100 as hybrid nominates, plus best-window scores of 200
rows as hybrid rescores). ``--sweep`` adds IVF-SQ8 at several nprobe values.
``--scale`` then tiles the real vectors with small noise to N windows (two per
passage), streamed through a memory-mapped file, and measures the backend
``auto`` picks there, and exact search where it fits in memory.

    .venv/bin/python bench/bench_dense.py /tmp/laws [--backends "flat ivf-pq"] [--sweep]
        [--scale 1000000,4000000]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.dense import DenseBackend, build_backend, resolve  # noqa: E402
from indexer.dense.base import OWNER_FILE, VECTORS_FILE  # noqa: E402
from indexer.dense.faiss_backend import FILE_NAME  # noqa: E402
from indexer.embed import load_embedder  # noqa: E402
from indexer.filtering import scope_of  # noqa: E402
from indexer.schemas import Filters  # noqa: E402
from indexer.search import Searcher  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.versions import IndexDir  # noqa: E402

K = 10
NOMINATE = 100  # hybrid's candidate_depth
RESCORE = 200


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def exact_top(
    vectors: np.ndarray, owner: np.ndarray, q: np.ndarray, mask: np.ndarray | None
) -> tuple[set[int], float]:
    """The exact top-10 passages and the 10th score (passages tied with it count as hits)."""
    best = np.full(int(owner[-1]) + 1, -np.inf, np.float32)
    np.maximum.at(best, owner, vectors @ q)
    if mask is not None:
        best[~mask] = -np.inf
    top = [int(r) for r in np.argsort(-best)[:K] if np.isfinite(best[r])]
    return set(top), float(best[top[-1]]) if top else np.inf


def measure(
    backend: DenseBackend,
    queries: np.ndarray,
    truth: dict[str, list[tuple[set[int], float]]],
    masks: dict[str, np.ndarray | None],
    exact_scores: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        recalls, times = [], []
        for q, want in zip(queries, truth[name], strict=True):
            t0 = time.perf_counter()
            rows, _ = backend.search(q, NOMINATE, scope_of(mask))
            backend.similarity(q[None, :], rng.integers(0, len(backend), RESCORE))
            times.append((time.perf_counter() - t0) * 1000)
            top, tenth = want
            found = rows[:K]
            if exact_scores is not None and found.size:  # a tie with the 10th is a hit too
                tied = exact_scores(q[None, :], found)[:, 0] >= tenth - 1e-6
                recalls.append(min(1.0, int(tied.sum()) / max(len(top), 1)))
            else:
                recalls.append(len(set(found.tolist()) & top) / max(len(top), 1))
        out[f"{name} recall@10"] = statistics.mean(recalls)
        out[f"{name} p50 ms"] = percentile(times, 50)
        out[f"{name} p95 ms"] = percentile(times, 95)
    return out


def row(name: str, figures: dict[str, float], build_s: float, size: int, windows: int) -> str:
    cells = " | ".join(f"{v:.3f}" if "recall" in k else f"{v:.1f}" for k, v in figures.items())
    return f"| {name} | {build_s:.1f} | {size / windows:.0f} | {cells} |"


def index_bytes(backend: DenseBackend) -> int:
    with tempfile.TemporaryDirectory() as d:
        backend.save(Path(d))
        return (Path(d) / FILE_NAME).stat().st_size


def real(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    settings = Settings(index_dir=args.index_dir)
    version = IndexDir(args.index_dir).current_path()
    if (version / VECTORS_FILE).is_file():  # a compressed backend keeps the exact vectors too
        vectors = np.load(version / VECTORS_FILE)
    else:
        flat = faiss.read_index(str(version / FILE_NAME))
        if not isinstance(flat, faiss.IndexFlat):
            sys.exit("this benchmark reads exact vectors back: this index holds none")
        vectors = flat.reconstruct_n(0, flat.ntotal)
        del flat
    owner = np.load(version / OWNER_FILE)
    embedder = load_embedder(settings)
    searcher = Searcher.at(version, embedder, settings)
    texts = [t for _, t in searcher.store.passage_texts()]
    rng = random.Random(1)
    qs = [t.split("，")[0][:24] for t in rng.sample(texts, args.queries)]
    queries = embedder.encode_queries(qs)
    docs = list(searcher.store.documents())
    regions = sorted({str(d["region"]) for d in docs if d.get("region")})
    years = sorted({str(d["date"])[:4] for d in docs if d.get("date")})
    masks: dict[str, np.ndarray | None] = {"all": None}
    if regions:
        masks[f"region={regions[0]}"] = searcher.mask(Filters(region=regions[0]))
    if years:
        year = years[len(years) // 2]
        masks[f"year={year}"] = searcher.mask(Filters(year=int(year)))
    print(f"{len(texts):,} passages, {len(vectors):,} windows; {len(queries)} queries")
    for name, mask in masks.items():
        if mask is not None:
            print(f"  filter {name}: {int(mask.sum()):,} passages")
    truth = {n: [exact_top(vectors, owner, q, m) for q in queries] for n, m in masks.items()}
    header = " | ".join(f"{n} {c}" for n in masks for c in ("recall@10", "p50 ms", "p95 ms"))
    print(f"\n| backend | build s | bytes/window | {header} |")
    print("|" + "---|" * (3 + 3 * len(masks)))
    exact = build_backend("flat", vectors, owner)
    names = args.backends.split()
    if args.sweep:
        lists = resolve("ivf-sq8", len(vectors)).index.split(",")[0]
        names += [f"faiss:{lists},SQ8;nprobe={p}" for p in (8, 16, 64, 128)]
    for name in names:
        t0 = time.perf_counter()
        backend = build_backend(name, vectors, owner)
        build_s = time.perf_counter() - t0
        figures = measure(backend, queries, truth, masks, exact.similarity)
        print(
            row(
                f"{name} ({backend.spec.describe()})",
                figures,
                build_s,
                index_bytes(backend),
                len(vectors),
            ),
            flush=True,
        )
        del backend
        gc.collect()
    return vectors, owner, queries


def scaled(vectors: np.ndarray, queries: np.ndarray, n: int, work: Path) -> None:
    """Real vectors plus noise up to ``n`` windows (two per passage), via a memory map."""
    path = work / f"vectors-{n}.f32"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, vectors.shape[1]))
    rng = np.random.default_rng(0)
    for start in range(0, n, 200_000):
        stop = min(n, start + 200_000)
        base = vectors[np.arange(start, stop) % len(vectors)]
        noisy = base + rng.normal(0, 0.01, base.shape).astype(np.float32)
        mm[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    mm.flush()
    owner = np.arange(n, dtype=np.int64) // 2
    best = np.empty((n // 2, len(queries)), np.float32)  # exact passage scores, streamed
    for start in range(0, n, 400_000):
        stop = min(n, start + 400_000)
        best[start // 2 : stop // 2] = (
            (mm[start:stop] @ queries.T).reshape(-1, 2, len(queries)).max(axis=1)
        )
    truth = []
    for j in range(len(queries)):
        top = np.argpartition(-best[:, j], K)[:K]
        truth.append(({int(r) for r in top}, float(best[top, j].min())))
    del best
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name in ("auto", *(["flat"] if n <= 1_000_000 else [])):
        t0 = time.perf_counter()
        backend = build_backend(name, mm, owner)
        build_s = time.perf_counter() - t0
        figures = measure(backend, queries, {"all": truth}, {"all": None})
        size = index_bytes(backend)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            row(f"{n:,} windows, {name} ({backend.spec.describe()})", figures, build_s, size, n)
            + f" index {size / 2**30:.2f} GiB, peak RSS {peak / 2**20:.2f} GiB (before {before / 2**20:.2f})",
            flush=True,
        )
        del backend
        gc.collect()
    del mm
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("index_dir", type=Path)
    parser.add_argument(
        "--backends", default="flat hnsw ivf-sq8 ivf-pq", help="space-separated names"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument(
        "--scale", default="", help="comma-separated window counts, e.g. 1000000,4000000"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    vectors, _, queries = real(args)
    if args.scale:
        print(
            "\n| scale | build s | bytes/window | recall@10 | p50 ms | p95 ms |\n|---|---|---|---|---|---|"
        )
        for n in map(int, args.scale.split(",")):
            scaled(vectors, queries, n, args.work)


if __name__ == "__main__":
    main()
