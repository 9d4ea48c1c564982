"""Benchmark: embedding throughput of the fast and the old CPU path, then one real build.

On a sample of a corpus (the laws by default; ``--limit N`` documents, drawn
with a fixed seed), cut as a build cuts them:

1. windows/s of both int8 ONNX Runtime paths on the same windows, alone, one
   after the other: *fast*, today's ``Embedder.encode_passages`` (two
   one-thread runs side by side), and *old*, the path of issue #11's baseline
   (one run at a time, one session with two threads); their ratio, and the
   largest difference between their vectors (one text per run in both, so a
   vector depends on its text alone and the two must agree);
2. ``build_index`` of the sample into a fresh folder: passages/s end to end,
   peak RSS, bytes per passage on disk (the version) and of the embedding cache;
3. with ``--eval-index DIR``: dev-set nDCG@10 of that index (hybrid and dense),
   which the old path would score the same, its vectors being equal.

    .venv/bin/python bench/bench_embed.py [--corpus ../shared/corpus/laws] [--limit 60]
        [--eval-index /tmp/demo]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import list_sources, read_corpus  # noqa: E402
from corpus.document import Document  # noqa: E402
from indexer.build import build_index, chunk_config, embedding_units  # noqa: E402
from indexer.chunk import chunk_document  # noqa: E402
from indexer.embed import Embedder, load_embedder  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.textnorm import fold_script  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "laws")
    ap.add_argument("--limit", type=int, default=60, help="documents in the sample")
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument("--eval-index", type=Path, help="an index to score on the dev set")
    args = ap.parse_args()

    settings = Settings(_env_file=None)
    embedder = load_embedder(settings)
    if embedder.onnx is None:
        sys.exit("the model runs on torch here (no ONNX export): nothing to compare")
    files = list_sources([args.corpus])
    sample = sorted(random.Random(0).sample(files, min(args.limit, len(files))))
    docs = [d for d in read_corpus(sample) if isinstance(d, Document)]
    cfg = chunk_config(settings)
    windows = [
        w for d in docs for p in chunk_document(d, cfg) for w in embedding_units(p, d, settings)
    ]
    print(f"sample: {len(docs)} documents of {args.corpus}, {len(windows):,} windows")

    embedder.encode_passages(windows[:64])  # warm both sessions
    started = time.perf_counter()
    fast = embedder.encode_passages(windows)
    fast_rate = len(windows) / (time.perf_counter() - started)
    old_rate, old = _old_path(embedder, windows)
    print(f"fast path (two one-thread runs side by side): {fast_rate:,.1f} windows/s")
    print(f"old path (one two-thread run at a time):      {old_rate:,.1f} windows/s")
    print(
        f"ratio {fast_rate / old_rate:.2f}x; largest vector difference "
        f"{float(np.abs(fast - old).max()):.2e}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        index = Settings(_env_file=None, index_dir=Path(tmp) / "index")
        report = build_index(sample, index, embedder=embedder)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"build: {report.passages:,} passages in {report.seconds:.1f} s "
            f"({report.passages / report.seconds:.1f} passages/s end to end); peak RSS "
            f"{peak:,.0f} MB; version {report.version_bytes / report.passages:,.0f} B per passage, "
            f"embedding cache {report.cache_bytes / report.passages:,.0f} B per passage"
        )
    if args.eval_index is not None:
        _score(args.eval, args.eval_index, settings)


def _old_path(embedder: Embedder, windows: list[str]) -> tuple[float, np.ndarray]:
    """Windows/s and vectors of the baseline: one session of two threads, one text per run."""
    assert embedder.onnx is not None
    old = embedder.onnx.with_threads(2)
    texts = [embedder.passage_prompt + fold_script(w) for w in windows]
    for t in texts[:32]:
        old([t])
    started = time.perf_counter()
    vectors = np.vstack([old([t]) for t in texts])
    return len(texts) / (time.perf_counter() - started), vectors


def _score(eval_file: Path, index_dir: Path, settings: Settings) -> None:
    from indexer.evaluate import evaluate_modes, load_queries
    from indexer.live import LiveIndex

    searcher = LiveIndex(settings.model_copy(update={"index_dir": index_dir})).get()
    scores, _ = evaluate_modes(searcher, load_queries(eval_file), ("hybrid", "dense"))
    for mode, by_kind in scores.items():
        print(f"dev nDCG@10 on {index_dir} ({mode}): {by_kind['all']['nDCG@10']:.3f}")


if __name__ == "__main__":
    main()
