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

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from indexer.textnorm import normalize_for_match
from indexer.version import layout

FILE_NAME = layout.CLUSTERS
ANCHORS = 6
THRESHOLD = 0.8

_PUNCT = re.compile("[" + re.escape("，。、；：！？“”‘’（）《》【】—…·,.;:!?\"'()[] \t\n") + "]")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime
_NONE = np.iinfo(np.uint64).max
_SKETCH_CHUNK = 10_000


def _grams(folded: str) -> np.ndarray:
    """Sorted unique 64-bit hashes of a folded text's 4-grams, the same in every process."""
    return np.unique(_rolling(_codes(folded)))


def _sketches(folded: Sequence[str]) -> np.ndarray:
    """``_grams(text)[:ANCHORS]`` of every folded text, padded with ``_NONE``.

    Computed over a chunk's texts at once: per text, a dozen numpy calls on ~100
    grams cost more than the grams themselves. On a chunk's joined code points,
    the grams that cross from one text into the next are dropped.
    """
    out = np.full((len(folded), ANCHORS), _NONE, dtype=np.uint64)
    for first in range(0, len(folded), _SKETCH_CHUNK):
        part = folded[first : first + _SKETCH_CHUNK]
        owner = np.repeat(np.arange(len(part)), [len(f) for f in part])
        inside = owner[:-3] == owner[3:]  # all four characters of the gram in one text
        grams, rows = _rolling(_codes("".join(part)))[inside], owner[:-3][inside]
        order = np.lexsort((grams, rows))
        grams, rows = grams[order], rows[order]
        new = np.r_[True, (rows[1:] != rows[:-1]) | (grams[1:] != grams[:-1])]
        grams, rows = grams[new], rows[new]
        at = np.arange(rows.size)
        rank = at - np.maximum.accumulate(np.where(np.r_[True, rows[1:] != rows[:-1]], at, 0))
        keep = rank < ANCHORS
        out[first + rows[keep], rank[keep]] = grams[keep]
    return out


def _fold(text: str) -> str:
    """What grams are taken of; padded with NULs to one gram, so every text has one."""
    norm = _PUNCT.sub("", normalize_for_match(text))
    return norm + "\0" * (4 - len(norm)) if len(norm) < 4 else norm


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _rolling(codes: np.ndarray) -> np.ndarray:
    """The hash of the 4-gram starting at each position (wrapping multiplication)."""
    with np.errstate(over="ignore"):
        h = codes[:-3]
        for shift in (1, 2, 3):
            h = h * _MULTIPLIER + codes[shift : codes.size - 3 + shift]
    return h


def clusters(texts: Sequence[str]) -> np.ndarray:
    """For each passage, the first row of its near-duplicate cluster (itself when unique)."""
    n = len(texts)
    folded = [_fold(t) for t in texts]  # once: candidates are checked on them too
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
            found = grams[row] = _grams(folded[row])
        return found

    for head, row in _candidate_pairs(_sketches(folded)).tolist():
        ra, rb = root(head), root(row)
        if ra != rb and _similar(hashes(head), hashes(row)):
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)], dtype=np.int32)


def _candidate_pairs(sketch: np.ndarray) -> np.ndarray:
    """(first row, other row) of every two passages that share a pair of sketch hashes,
    sorted, each pair once."""
    n = len(sketch)
    first, second = np.triu_indices(ANCHORS, 1)
    a, b = sketch[:, first], sketch[:, second]
    with np.errstate(over="ignore"):
        keys = a * _MULTIPLIER + b
    # a passage of one gram has no pair: its one hash is its key
    keys[:, 0] = np.where(b[:, 0] == _NONE, a[:, 0], keys[:, 0])
    valid = (a != _NONE) & ((b != _NONE) | (np.arange(keys.shape[1]) == 0))
    del a, b
    rows = np.repeat(np.arange(n), keys.shape[1]).reshape(keys.shape)[valid]
    keys = keys[valid]
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    del order
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    heads = np.repeat(rows[starts], np.diff(np.r_[starts, keys.size]))
    other = heads != rows
    code = np.unique(heads[other] * n + rows[other])  # sorts and drops repeats at once
    return np.stack([code // n, code % n], axis=1)


def save(directory: Path, cluster: np.ndarray) -> None:
    np.save(directory / FILE_NAME, cluster)


def load(directory: Path) -> np.ndarray | None:
    """The stored clusters, or None for a version built before they were stored."""
    path = directory / FILE_NAME
    return np.load(path) if path.is_file() else None


def of_version(directory: Path, texts: Callable[[], Iterable[tuple[int, str]]]) -> np.ndarray:
    """The clusters stored in ``directory``, else found from the passages' ``(row, text)``
    (a version built before they were stored)."""
    stored = load(directory)
    return stored if stored is not None else clusters([t for _, t in texts()])


def _similar(a: np.ndarray, b: np.ndarray) -> bool:
    """Jaccard overlap of two sorted unique gram-hash arrays is at least THRESHOLD."""
    if not a.size or not b.size:
        return False
    small, large = (a, b) if a.size <= b.size else (b, a)
    if small.size < THRESHOLD * large.size:
        return False
    common = np.intersect1d(small, large, assume_unique=True).size
    return common >= THRESHOLD * (a.size + b.size - common)
