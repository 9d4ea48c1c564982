"""Near-duplicate passages: the same paragraph quoted or lightly edited in two speeches.

Two passages are near-duplicates when their normalised character 4-grams
(script, width and punctuation folded) overlap by Jaccard >= 0.8. The builder
clusters the whole corpus once and stores each passage's cluster; folding a
ranked list is then a dictionary lookup per hit. (Folding at query time cost
8-75 ms per query over the 200-passage pool the searcher now folds whole, to
keep ``total`` stable while paging.)

Clustering is locality-sensitive hashing over bottom-k sketches: a passage's
sketch is the six smallest hashes of its 4-grams (as in MinHash), and two
passages are compared only when they share a *pair* of sketch hashes. At
Jaccard 0.8 a true pair shares fewer than two with probability ~0.2%
(binomial), while passages that merely share one common phrase are never
compared. Candidates are checked by exact Jaccard and joined (union-find).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.textnorm import normalize_for_match

FILE_NAME = "dedup_clusters.npy"
ANCHORS = 6
THRESHOLD = 0.8

_PUNCT = str.maketrans("", "", "，。、；：！？“”‘’（）《》【】—…·,.;:!?\"'()[] \t\n")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime
_NONE = np.iinfo(np.uint64).max


def gram_hashes(text: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of the folded text's 4-grams, the same in every process."""
    norm = normalize_for_match(text).translate(_PUNCT)
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if codes.size < 4:
        codes = np.pad(codes, (0, 4 - codes.size))
    with np.errstate(over="ignore"):  # wrapping multiplication is the hash
        h = codes[:-3]
        for shift in (1, 2, 3):
            h = h * _MULTIPLIER + codes[shift : codes.size - 3 + shift]
    return np.unique(h)


def clusters(texts: Sequence[str]) -> np.ndarray:
    """For each passage, the first row of its near-duplicate cluster (itself when unique)."""
    n = len(texts)
    sketch = np.full((n, ANCHORS), _NONE, dtype=np.uint64)
    for i, text in enumerate(texts):
        grams = gram_hashes(text)[:ANCHORS]
        sketch[i, : grams.size] = grams
    first, second = np.triu_indices(ANCHORS, 1)
    a, b = sketch[:, first], sketch[:, second]
    with np.errstate(over="ignore"):
        keys = a * _MULTIPLIER + b
    # a passage of one gram has no pair: its one hash is its key
    keys[:, 0] = np.where(b[:, 0] == _NONE, a[:, 0], keys[:, 0])
    valid = (a != _NONE) & ((b != _NONE) | (np.arange(keys.shape[1]) == 0))
    rows = np.repeat(np.arange(n), keys.shape[1]).reshape(keys.shape)[valid]
    keys = keys[valid]
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    heads = np.repeat(rows[starts], np.diff(np.r_[starts, keys.size]))
    pairs = {(int(h), int(r)) for h, r in zip(heads, rows, strict=True) if h != r}
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    grams: dict[int, np.ndarray] = {}

    def hashes(row: int) -> np.ndarray:  # each candidate's grams once (not setdefault's eager call)
        found = grams.get(row)
        if found is None:
            found = grams[row] = gram_hashes(texts[row])
        return found

    for head, row in sorted(pairs):
        ra, rb = root(head), root(row)
        if ra != rb and _similar(hashes(head), hashes(row)):
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)], dtype=np.int32)


def save(directory: Path, cluster: np.ndarray) -> None:
    np.save(directory / FILE_NAME, cluster)


def load(directory: Path) -> np.ndarray | None:
    """The stored clusters, or None for a version built before they were stored."""
    path = directory / FILE_NAME
    return np.load(path) if path.is_file() else None


def _similar(a: np.ndarray, b: np.ndarray) -> bool:
    """Jaccard overlap of two sorted unique gram-hash arrays is at least THRESHOLD."""
    if not a.size or not b.size:
        return False
    small, large = (a, b) if a.size <= b.size else (b, a)
    if small.size < THRESHOLD * large.size:
        return False
    common = np.intersect1d(small, large, assume_unique=True).size
    return common >= THRESHOLD * (a.size + b.size - common)
