"""Terms the archive uses as units, learned from its own text at build time.

The segmenter's dictionary predates today's formulations: it cuts 新质生产力 into
新 / 质 / 生产力 and 碳达峰 into 碳 / 达 / 峰, so a query scattered that way scores
passages for a lone 新 and the page marks every 新 of 创新. A hand-kept list would
always lag the archive; instead a build learns, from the archive, the word
sequences that behave as one term:

- frequent: the sequence (2–4 segmenter words, 3–8 characters) occurs at least
  ``MIN_COUNT`` times in at least ``MIN_DOCUMENTS`` documents;
- cohesive: at every split point its parts occur together far more often than
  chance (pointwise mutual information of at least ``MIN_PMI``);
- free at both ends: the characters before and after it vary (boundary
  entropy of at least ``MIN_ENTROPY``; an end at punctuation, as in “两个确立”,
  counts as free), so 新质生产 (always followed by 力) is no term;
- not a function-word pattern: no stop word inside, and no lone function
  character at an end (基础上, 各方面, 比上年 are phrases, not terms).

This is the classic new-word discovery of Chinese text mining (mutual
information plus left/right entropy), run over segmenter words rather than
characters, which keeps it fast and its output whole words. The figures behind
the thresholds are in ``docs/keyword-terms.md``. A large archive is learned
from a fixed sample of its passages: a term frequent enough to matter shows
up in the sample.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.keyword import STOP_WORDS, han_runs, segment_precise
from indexer.textnorm import normalize_for_match
from indexer.version import layout

__all__ = ["FILE", "LearnedTerms", "learn_terms"]

#: The version file holding the learned terms; this module owns its name.
FILE = layout.TERMS
MIN_COUNT = 5
MIN_DOCUMENTS = 2
MIN_PMI = 5.0
MIN_ENTROPY = 1.0
MIN_CHARS, MAX_CHARS = 3, 8
MAX_WORDS = 4
#: Passages learned from, at most: the laws (147 k passages) are learned from a sample.
SAMPLE = 20_000
#: A lone character at a term's end that marks a phrase, not a term (基础上, 各方面, 比上年).
FUNCTION_CHARS = frozenset(
    "上中下内外前后里间各每比居不还也都又就才再已将要会能可使把被对向从由以为于与及并等之其该此个所"
    "让更多很最太较越如"
)


@dataclass(frozen=True, slots=True)
class LearnedTerms:
    """The terms a build learned (matching form), longest first where one contains another."""

    terms: frozenset[str]
    longest: int = MAX_CHARS

    @classmethod
    def empty(cls) -> LearnedTerms:
        return cls(frozenset())

    def __contains__(self, term: object) -> bool:
        return term in self.terms

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, run: str) -> list[tuple[int, int]]:
        """Non-overlapping ``[start, end)`` spans of learned terms in ``run``, leftmost-longest."""
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(run):
            for end in range(min(len(run), i + self.longest), i + MIN_CHARS - 1, -1):
                if run[i:end] in self.terms:
                    spans.append((i, end))
                    i = end
                    break
            else:
                i += 1
        return spans

    def save(self, directory: Path, counts: dict[str, int] | None = None) -> None:
        found = sorted(self.terms, key=lambda t: (-(counts or {}).get(t, 0), t))
        (directory / FILE).write_text(
            json.dumps({"terms": found, "counts": counts or {}}, ensure_ascii=False, indent=0),
            encoding="utf-8",
        )

    @staticmethod
    def stored(directory: Path) -> bool:
        """Whether the version in ``directory`` has learned terms (older versions do not)."""
        return (directory / FILE).is_file()

    @classmethod
    def load(cls, directory: Path) -> LearnedTerms:
        """The version's learned terms; none for a version built before terms were learned."""
        path = directory / FILE
        if not path.is_file():
            return cls.empty()
        return cls(frozenset(json.loads(path.read_text(encoding="utf-8"))["terms"]))


def learn_terms(
    texts: Sequence[str], documents: Sequence[int] | None = None
) -> tuple[LearnedTerms, dict[str, int]]:
    """Terms of ``texts`` (passages as stored), and how often each occurs in the sample.

    ``documents`` gives each passage's document (any ids), for the
    ``MIN_DOCUMENTS`` rule; without it each passage counts as its own document.
    Counting runs over integer word ids in numpy (demo: ~2 s, most of it segmenting).
    """
    step = max(1, math.ceil(len(texts) / SAMPLE))
    vocab: dict[str, int] = {}
    ids: list[int] = []
    owner: list[int] = []
    for i in range(0, len(texts), step):
        doc = documents[i] if documents is not None else i
        for run in han_runs(normalize_for_match(texts[i])):
            words = segment_precise(run)
            ids.extend(vocab.setdefault(w, len(vocab)) for w in words)
            ids.append(-1)  # a run ends: no sequence crosses punctuation
            owner.extend([doc] * (len(words) + 1))
    if not vocab:
        return LearnedTerms.empty(), {}
    names = list(vocab)
    stream = _Stream(np.array(ids, np.int64), np.array(owner, np.int64), names)
    found: dict[str, int] = {}
    for k in range(2, MAX_WORDS + 1):
        for gram, count, left, right, docs in stream.candidates(k):
            if docs < MIN_DOCUMENTS or min(left, right) < MIN_ENTROPY:
                continue
            if stream.cohesion(gram, count) >= MIN_PMI:
                found["".join(names[w] for w in gram)] = count
    return LearnedTerms(frozenset(found)), found


class _Stream:
    """The sample as one array of word ids (``-1`` between runs), with the counts rules need."""

    def __init__(self, ids: np.ndarray, owner: np.ndarray, names: list[str]) -> None:
        self.ids = ids
        self.owner = owner
        self.names = names
        self.chars = np.array([len(w) for w in names], np.int64)
        self.first = np.array([ord(w[0]) for w in names], np.int64)
        self.last = np.array([ord(w[-1]) for w in names], np.int64)
        blocked = [w in STOP_WORDS or (len(w) == 1 and w in FUNCTION_CHARS) for w in names]
        self.stop = np.array([w in STOP_WORDS for w in names], bool)
        self.edge_bad = np.array(blocked, bool)
        self.unigrams = np.bincount(ids[ids >= 0], minlength=len(names))
        self.total = int(self.unigrams.sum())
        self.counts: dict[tuple[int, ...], int] = {}  # frequent sequences, for cohesion

    def _windows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Start positions and word ids of every k-word sequence inside a run, short enough."""
        n = len(self.ids) - k + 1
        if n <= 0:
            return np.empty(0, np.int64), np.empty((0, k), np.int64)
        window = np.stack([self.ids[j : j + n] for j in range(k)], axis=1)
        ok = (window >= 0).all(axis=1)
        ok[ok] &= self.chars[window[ok]].sum(axis=1) <= MAX_CHARS
        return np.flatnonzero(ok), window[ok]

    def candidates(self, k: int) -> list[tuple[tuple[int, ...], int, float, float, int]]:
        """Frequent, well-shaped k-word sequences with their count, boundary entropies, documents."""
        pos, window = self._windows(k)
        if not len(pos):
            return []
        grams, inverse, counts = np.unique(window, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        frequent = counts >= MIN_COUNT
        self.counts.update(
            (tuple(g), int(c))
            for g, c in zip(grams[frequent].tolist(), counts[frequent], strict=True)
        )
        chars = self.chars[grams].sum(axis=1)
        shaped = (
            frequent
            & (chars >= MIN_CHARS)
            & ~self.stop[grams].any(axis=1)
            & ~self.edge_bad[grams[:, 0]]
            & ~self.edge_bad[grams[:, -1]]
        )
        keep = shaped[inverse]
        gram_of, at = inverse[keep], pos[keep]
        before = self.ids[at - 1]  # the run separator (-1) before a run's first word too
        after = self.ids[at + k]
        left = np.where(before >= 0, self.last[before], -1)
        right = np.where(after >= 0, self.first[after], -1)
        out = []
        ent_left = _entropies(gram_of, left, len(grams))
        ent_right = _entropies(gram_of, right, len(grams))
        docs = np.bincount(np.unique(np.stack([gram_of, self.owner[at]], 1), axis=0)[:, 0],
                           minlength=len(grams))  # fmt: skip
        for g in np.flatnonzero(shaped):
            out.append((tuple(grams[g].tolist()), int(counts[g]), ent_left[g], ent_right[g],
                        int(docs[g])))  # fmt: skip
        return out

    def cohesion(self, gram: tuple[int, ...], count: int) -> float:
        """The weakest bond inside the sequence: min over split points of log(p(ab) / p(a) p(b))."""
        return min(
            math.log(count * self.total / (self._count(gram[:cut]) * self._count(gram[cut:])))
            for cut in range(1, len(gram))
        )

    def _count(self, gram: tuple[int, ...]) -> int:
        return int(self.unigrams[gram[0]]) if len(gram) == 1 else self.counts[gram]


def _entropies(group: np.ndarray, neighbour: np.ndarray, n: int) -> np.ndarray:
    """Per group, the entropy of its neighbouring characters; each run end (-1) counts as its own."""
    total = np.bincount(group, minlength=n).astype(np.float64)
    ends = np.bincount(group[neighbour < 0], minlength=n).astype(np.float64)
    inside = neighbour >= 0
    pairs, freq = np.unique(np.stack([group[inside], neighbour[inside]], 1), axis=0,
                            return_counts=True)  # fmt: skip
    g = pairs[:, 0]
    p = freq / total[g]
    h = np.bincount(g, weights=-p * np.log(p), minlength=n).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h += np.where(ends > 0, ends / total * np.log(np.maximum(total, 1)), 0.0)
    return h
