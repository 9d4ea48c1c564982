"""BM25 of exact terms: every passage that contains a term scores for it.

An exact term (:mod:`indexer.analysis`) is scored with Lucene's BM25 as bm25s
computes it (k1 = 1.5, b = 0.75): idf times a term-frequency part. The idf
counts every passage whose matching form contains the term, wherever it
stands. The term-frequency part is the keyword index's own where the
segmenter made the term a word of the passage (so ordinary queries rank as
they did), and is computed from the text where the term stands inside a
longer word, which a word index cannot see (代表大会 in 全国人民代表大会):
occurrences as the term frequency, the passage's characters relative to the
average as its length. So a one-term query's hits are exactly the passages
that contain it. Figures: ``docs/keyword-terms.md``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from indexer.keyword import KeywordSearch
from indexer.query import TextIndex

__all__ = ["ExactTerms"]

K1 = 1.5
B = 0.75
#: Terms whose scores are kept (paging, a research view's repeated terms).
_CACHED = 256


def idf(n: int, df: int) -> float:
    """Lucene's idf, as bm25s computes it."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


class ExactTerms:
    """Scores of exact terms over one version's passage text and keyword index."""

    def __init__(self, text: TextIndex, words: KeywordSearch | None = None) -> None:
        self._text = text
        self._words = words
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows containing ``term`` (ascending) and each one's BM25 for it."""
        return self._postings([term])[0]

    def _postings(self, terms: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`postings` of each of ``terms``; those not known are scored together."""
        found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with self._lock:
            for term in terms:
                if (known := self._cache.get(term)) is not None:
                    self._cache.move_to_end(term)
                    found[term] = known
        missing = [t for t in dict.fromkeys(terms) if t not in found]
        if missing:
            scored = dict(zip(missing, self._score(missing), strict=True))
            found.update(scored)
            with self._lock:
                self._cache.update(scored)
                while len(self._cache) > _CACHED:
                    self._cache.popitem(last=False)
        return [found[t] for t in terms]

    def _score(self, terms: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Rows of each term (one text search each), the keyword index's BM25 of those that
        are its words (one request for them all), the text's counts where they are not."""
        n = len(self._text)
        words = self._words
        found = [self._text.rows(term) for term in terms]
        indexed = [np.zeros(len(rows), np.float32) for rows in found]
        if words is not None:
            # where the term is a word of the keyword index: its BM25 there, without the idf
            asked = [
                (i, tid)
                for i, term in enumerate(terms)
                if len(found[i]) and (tid := words.vocab.get(term)) is not None
            ]
            scores = words.term_scores([(terms[i], found[i]) for i, _ in asked])
            for (i, tid), score in zip(asked, scores, strict=True):
                indexed[i] = score / idf(n, int(words.df[tid]))
        out = []
        for term, rows, part in zip(terms, found, indexed, strict=True):
            part = part.astype(np.float64)
            # where the term stands only inside longer words: occurrences over the length norm
            nested = np.flatnonzero(part <= 0)
            if len(rows) and nested.size:
                tf = self._text.counts(term, rows[nested])
                lengths = self._text.lengths_of(rows[nested])
                norm = K1 * (1.0 - B + B * lengths / max(self._text.mean_length, 1.0))
                part[nested] = tf / (tf + norm)
            out.append((rows, (idf(n, len(rows)) * part).astype(np.float32)))
        return out

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each passage's summed BM25 over ``terms`` (0 where none occurs), float32."""
        out = np.zeros(len(self._text), np.float32)
        for rows, score in self._postings(terms):
            out[rows] += score
        return out

    def max_score(self, terms: Sequence[str]) -> float:
        """Upper bound of :meth:`scores`: each term at its best passage (as the keyword index's)."""
        return sum(float(s.max()) for _, s in self._postings(terms) if len(s))
