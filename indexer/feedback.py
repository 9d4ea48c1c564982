"""Pseudo-relevance feedback words, weighed once per passage at build time.

Hybrid search feeds the words of its best dense matches back into BM25: the
passages dense finds for a paraphrase (农民种地不再向国家交公粮) name the policy
term (农业税) that the query never says, and BM25 then finds the other passages
that use it. A word scores by its share of each passage's words, summed over
the passages, times its idf.

That score is a sum over passages, so each passage's part of it is fixed by the
index alone and is computed here by the builder. Segmenting the five passages
at query time instead cost 4.6 of the 24 ms of a hybrid query on the demo; a
lookup and a ``bincount`` cost ~0.1 ms, and a remote store (Milvus) is not asked
for their texts at all.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np

from indexer.keyword import HAN_CHARS, Feedback, TermStats, words
from indexer.version import layout

__all__ = ["FEEDBACK_MAX_SHARE", "FILES", "FOLDER", "POSTING", "FeedbackWords"]

#: a word in more passages than this share says nothing about a topic (中心, 企业, 实现);
#: dev set, hybrid nDCG@10 with the cap at 3 / 5 / 10 / no cap: 0.761 / 0.763 / 0.760 / 0.760
FEEDBACK_MAX_SHARE = 0.05
#: In a version folder: the candidate words, and each passage's (word, weight) pairs.
FOLDER = layout.Feedback.FOLDER
_WORDS, _INDPTR, _POSTINGS = layout.Feedback.WORDS, layout.Feedback.INDPTR, layout.Feedback.POSTINGS
FILES = layout.Feedback.FILES

_HAN_WORD = re.compile(rf"[{HAN_CHARS}]{{2,}}$")
#: counts and ordinals (一次, 一个, 第七个, 十二亿): facts of one passage, not vocabulary
_COUNT_WORD = re.compile(r"第?[〇零一二三四五六七八九十百千万亿两几多]")
POSTING = np.dtype([("word", "<i4"), ("weight", "<f4")])
_PROGRESS_EVERY = 1000


class FeedbackWords:
    """Each passage's feedback candidates with their weight: share of its words times idf.

    Only Chinese words of two or more characters from the precise segmenter
    count: whole words, not search-mode fragments, single characters (之, 要)
    or numbers and Latin tokens (``2007``, the ``m`` of ``1+M+N``), which are
    function words or facts of one passage rather than vocabulary. A word's
    share is taken among those words. Words found in a single passage of the
    index are never candidates, as they can only find the passage they came
    from; nor are counts (一次, 第七个) or words in more than
    :data:`FEEDBACK_MAX_SHARE` of the passages (中心, 企业).
    """

    def __init__(self, words: list[str], indptr: np.ndarray, postings: np.ndarray) -> None:
        self._words = words
        self._indptr = indptr
        self._postings = postings

    def __len__(self) -> int:
        return len(self._indptr) - 1

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        stats: TermStats,
        progress: Callable[[int], None] | None = None,
    ) -> FeedbackWords:
        """Weigh the candidates of every passage of the index ``stats`` describes."""
        n = len(stats)
        if len(texts) != n:
            raise ValueError(f"{len(texts)} texts for a keyword index of {n} passages")
        found: dict[str, tuple[int, float] | None] = {}  # word -> (id, idf); None: never fed back
        candidates: list[str] = []
        indptr = np.zeros(n + 1, dtype=np.int64)
        ids: list[int] = []
        weights: list[float] = []
        for row, text in enumerate(texts):
            counted = [
                w for w in words(text, precise=True) if w in stats.vocab and _HAN_WORD.match(w)
            ]
            for w, count in Counter(counted).items():
                if w not in found:
                    df = int(stats.df[stats.vocab[w]])
                    keep = 2 <= df <= FEEDBACK_MAX_SHARE * n and not _COUNT_WORD.match(w)
                    found[w] = (len(candidates), math.log((n + 1) / (df + 0.5))) if keep else None
                    if keep:
                        candidates.append(w)
                entry = found[w]
                if entry is not None:
                    ids.append(entry[0])
                    weights.append(count / len(counted) * entry[1])
            indptr[row + 1] = len(ids)
            if progress is not None and ((row + 1) % _PROGRESS_EVERY == 0 or row + 1 == n):
                progress(row + 1)
        postings = np.empty(len(ids), dtype=POSTING)
        postings["word"] = ids
        postings["weight"] = weights
        return cls(candidates, indptr, postings)

    def save(self, directory: Path) -> None:
        folder = directory / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self._words, ensure_ascii=False)
        (folder / _WORDS).write_text(text, encoding="utf-8")
        np.save(folder / _INDPTR, self._indptr)
        np.save(folder / _POSTINGS, self._postings)

    @staticmethod
    def stored(directory: Path) -> bool:
        """Whether the version in ``directory`` has them (versions built before do not)."""
        return all((directory / f).is_file() for f in FILES)

    @classmethod
    def load(cls, directory: Path) -> FeedbackWords | None:
        """The stored weights (postings memory-mapped), or None for a version built before them."""
        if not cls.stored(directory):
            return None
        folder = directory / FOLDER
        return cls(
            json.loads((folder / _WORDS).read_text(encoding="utf-8")),
            np.load(folder / _INDPTR),
            np.load(folder / _POSTINGS, mmap_mode="r"),
        )

    def terms(
        self, rows: Sequence[int], own: Collection[str], n_terms: int, weight: float
    ) -> Feedback:
        """The ``n_terms`` best candidates of passages ``rows`` not in ``own``, weights summing
        to ``weight``; ties go to the word that sorts first."""
        if n_terms < 1 or weight <= 0 or not len(rows):
            return {}
        pairs = self.postings(rows)
        ids, at = np.unique(pairs["word"], return_inverse=True)
        score = np.bincount(at, weights=pairs["weight"].astype(np.float64), minlength=ids.size)
        scored = [(float(s), self._words[i]) for s, i in zip(score, ids.tolist(), strict=True)]
        top = sorted((x for x in scored if x[1] not in own), key=lambda x: (-x[0], x[1]))[:n_terms]
        total = sum(v for v, _ in top)
        return {w: weight * v / total for v, w in top} if total > 0 else {}

    def postings(self, rows: Sequence[int]) -> np.ndarray:
        """The (word, weight) pairs of passages ``rows``, concatenated (:data:`POSTING`)."""
        parts = [self._postings[self._indptr[r] : self._indptr[r + 1]] for r in rows]
        return np.concatenate(parts) if parts else np.empty(0, POSTING)

    @property
    def words(self) -> list[str]:
        """The candidate words; a posting's ``word`` indexes this list."""
        return self._words
