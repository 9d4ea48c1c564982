"""BM25 keyword retrieval over jieba words, scored by bm25s.

Tokenisation (one module-level function, :func:`tokenize`, for passages and queries):

1. :func:`indexer.textnorm.normalize_for_match` (NFKC, full-width -> half-width,
   zero-width removed, lower case, traditional -> simplified), so ``社會主義``
   matches ``社会主义`` and ``１９５５`` matches ``1955``.
2. The text is split into Han runs and Latin/number runs; everything else
   (punctuation, whitespace, symbols) separates tokens and is dropped.
3. Han runs are segmented with jieba's dictionary, HMM off. Passages use *search
   mode*, which adds every dictionary sub-word of a long word (``科技成果`` ->
   ``科技``, ``成果``, ``科技成果``), so a query for ``成果转化`` reaches passages
   about ``科技成果转化``. Queries use *precise mode*: each query word counts once
   instead of once per overlapping sub-word, which on the dev set keeps the
   recall of search mode (nDCG@10 0.629 vs 0.548 with search mode on both sides
   and 0.612 with precise mode on both sides).
4. :data:`STOP_WORDS` (particles, conjunctions, interrogatives, question framing
   words) are dropped on both sides, so "哪些" alone searches nothing. Single
   characters are kept: BM25's idf already discounts common ones, and dropping
   them loses one-character terms and the pieces of words jieba does not know
   (``营改增`` -> ``营``/``改``/``增``); dropping them lowered dev nDCG@10 to 0.597.
5. Numbers and Latin words are tokens: ``2019``, ``13.2`` (from ``13.2%``: the
   sign is dropped like other symbols; also emitting ``13.2%`` lengthened
   passages and cost 0.006 dev nDCG@10), ``5g``, ``pm2.5``. Years written in Chinese numerals (``一九五五``,
   in the reports up to the 1980s) also yield ``1955``.

Why HMM off: HMM guesses new words from context, so the same string can come out
as one word in a query and as other pieces in a passage (``碳中和`` -> ``碳中``
+ ``和``); on 2,364 (policy term, passage containing it) pairs from the reports,
query tokens were missing from the passage's tokens 30 times with HMM and 7
times without, at equal dev-set quality. No user dictionary: adding 30 generic
policy terms made whole-term tokens that partial queries (``新质``) no longer
reach, and lowered dev nDCG@10 from 0.629 to 0.618.

Segmentation uses ``rjieba`` (jieba's algorithm and dictionary in Rust; output
identical to jieba on every Han run of the reports; building over the ~8k report
passages takes 1.4 s instead of 6.8 s, and start-up 0.1 s instead of 0.7 s)
when installed, else ``jieba``: the index does not depend on which.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from indexer.filtering import Scope, mask_of
from indexer.textnorm import normalize_for_match
from indexer.version import layout

__all__ = [
    "HAN_CHARS",
    "STOP_WORDS",
    "TOKENIZER",
    "Feedback",
    "KeywordHits",
    "KeywordIndex",
    "KeywordSearch",
    "TermStats",
    "tokenize",
    "words",
]

#: Extra keyword terms and their weights, added to a query's own terms (which weigh 1).
Feedback = Mapping[str, float]

_FUNCTION_WORDS = "的 地 得 了 着 和 与 及 或 等 在 是"  # particles, conjunctions, copula, 在
_INTERROGATIVES = (
    "哪 哪些 哪个 哪里 哪儿 哪一年 哪年 什么 什么样 如何 怎样 怎么 怎么样"
    " 多少 是否 为什么 为何 何时 谁 吗 呢"
)
_QUESTION_FRAMING = "提出 有关 关于"

#: Dropped from passages and queries. Function words carry no topic; the
#: interrogatives and framing words are how questions are asked, not what they
#: ask about. Kept short on purpose: BM25's idf discounts the remaining common
#: words. On the dev set a longer list of function characters changed nothing;
#: no list at all lowered question queries' nDCG@10 from 0.67 to 0.58.
STOP_WORDS: frozenset[str] = frozenset(
    f"{_FUNCTION_WORDS} {_INTERROGATIVES} {_QUESTION_FRAMING}".split()
)

#: What the index files were tokenised with; stored beside them and checked on load,
#: because a query tokenised differently from its index silently matches nothing.
TOKENIZER: dict[str, object] = {
    "version": 1,
    "normalize": "nfkc-lower-nozw-t2s",
    "passages": "jieba-search-nohmm",
    "queries": "jieba-precise-nohmm",
    "stop_words": sorted(STOP_WORDS),
}

HAN_CHARS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_TOKEN_RE = re.compile(rf"([{HAN_CHARS}]+)|([a-z0-9]+(?:\.[0-9]+)*)")
_CN_DIGITS = "〇零一二三四五六七八九"
_CN_YEAR_RE = re.compile(rf"(?<![{_CN_DIGITS}])[一二][{_CN_DIGITS}]{{3}}(?![{_CN_DIGITS}])")
_CN_DIGIT_TABLE = str.maketrans(_CN_DIGITS, "00123456789")

_META_FILE = layout.Keyword.META
_TERM_MAX_FILE = layout.Keyword.TERM_MAX
_PROGRESS_EVERY = 1000

_Segment = Callable[[str], list[str]]
_segmenter_lock = threading.Lock()
_segmenters: tuple[_Segment, _Segment] | None = None


def _load_segmenters() -> tuple[_Segment, _Segment]:
    """(precise, search) segmenters, loaded once: the dictionary takes 0.1 s (jieba: 0.7 s)."""
    global _segmenters
    if _segmenters is None:
        with _segmenter_lock:
            if _segmenters is None:
                try:
                    import rjieba

                    _segmenters = (
                        lambda s: rjieba.cut(s, False),
                        lambda s: rjieba.cut_for_search(s, False),
                    )
                except ImportError:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    jieba.initialize()
                    _segmenters = (
                        lambda s: jieba.lcut(s, HMM=False),
                        lambda s: jieba.lcut_for_search(s, HMM=False),
                    )
    return _segmenters


def han_runs(text: str) -> list[str]:
    """The runs of Han characters of ``text`` (already in matching form), in order."""
    return [m.group(1) for m in _TOKEN_RE.finditer(text) if m.group(1)]


def segment_precise(run: str) -> list[str]:
    """A Han run cut into words by the precise segmenter (HMM off), stop words kept."""
    return _load_segmenters()[0](run)


def tokenize(text: str, *, query: bool = False) -> list[str]:
    """Index terms of ``text``: search-mode words for passages, precise words for queries.

    Query terms are de-duplicated (a repeated word does not weigh more); passage
    terms keep their repetitions, which are BM25's term frequencies.
    """
    out = words(text, precise=query)
    return list(dict.fromkeys(out)) if query else out


def words(text: str, *, precise: bool) -> list[str]:
    """Terms of ``text`` in order, with repetitions, from the precise or the search segmenter."""
    precise_cut, search_cut = _load_segmenters()
    segment = precise_cut if precise else search_cut
    out: list[str] = []
    for m in _TOKEN_RE.finditer(normalize_for_match(text)):
        han, latin = m.groups()
        if han:
            out.extend(w for w in segment(han) if w not in STOP_WORDS)
            out.extend(y.translate(_CN_DIGIT_TABLE) for y in _CN_YEAR_RE.findall(han))
        else:
            out.append(latin)
    return out


@dataclass(frozen=True, slots=True)
class _Scores:
    """bm25s's precomputed BM25 score of every (term, passage), one CSC column per term."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    vocab: dict[str, int]
    num_docs: int


@dataclass(frozen=True, slots=True)
class KeywordHits:
    """A keyword query's best rows, and the BM25 score of any rows on request.

    Hybrid search fuses the keyword top-k with dense nominees whose BM25 it
    also needs: ``of`` reads them from the full score array of a local index,
    or from the rows' stored term weights of a remote one. ``full`` is that
    array where the index computes one (every passage's score), else ``None``.
    """

    rows: np.ndarray
    scores: np.ndarray
    of: Callable[[np.ndarray], np.ndarray]
    full: np.ndarray | None = None


class KeywordSearch(Protocol):
    """What the searcher asks of a keyword index, local (bm25s files) or remote (Milvus).

    It scores terms already analysed (:mod:`indexer.analysis`): the index
    never segments a query itself, so every step sees the same terms.
    """

    vocab: Mapping[str, int]
    #: passages holding each term (by term id): its idf
    df: np.ndarray

    def __len__(self) -> int: ...

    def search(
        self,
        terms: Sequence[str],
        k: int,
        scope: Scope | None = None,
        feedback: Feedback | None = None,
    ) -> KeywordHits:
        """The ``k`` best rows with score > 0 inside ``scope`` (k = 0: none, only ``of``)."""
        ...

    def max_score(self, terms: Sequence[str], feedback: Feedback | None = None) -> float: ...

    def term_scores(self, asked: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """Each indexed term's own BM25 at its rows (0 where it is not a word of a row), all
        at once: exact terms score every term of a query together."""
        ...


class TermStats:
    """Vocabulary, document frequencies and per-term maxima: scoring a query without postings.

    Shared by the local index and by indexes whose postings live elsewhere
    (Milvus sparse vectors), so both weigh queries and bound scores the same way.
    """

    def __init__(
        self, vocab: dict[str, int], df: np.ndarray, term_max: np.ndarray, num_docs: int
    ) -> None:
        self.vocab = vocab
        self.df = df
        self.term_max = term_max
        self._n = num_docs

    def __len__(self) -> int:
        return self._n

    def query_terms(self, query: str) -> list[str]:
        """Words of ``query`` that occur in the index, in query order: the plain tokenisation,
        for tools that score a raw string (searches analyse queries, :mod:`indexer.analysis`)."""
        return [t for t in tokenize(query, query=True) if t in self.vocab]

    def weights(
        self, terms: Sequence[str], feedback: Feedback | None = None
    ) -> list[tuple[int, float]]:
        """(term id, weight) of a query: its own terms weigh 1 each, feedback terms theirs."""
        if isinstance(terms, str):  # a str is a Sequence[str]: one character per term
            raise TypeError("weights() takes analysed terms, not a query string")
        own = [(self.vocab[t], 1.0) for t in terms if t in self.vocab]
        return own + [(self.vocab[t], w) for t, w in (feedback or {}).items() if t in self.vocab]

    def max_score(self, terms: Sequence[str], feedback: Feedback | None = None) -> float:
        """Upper bound of a query's scores, to map scores into [0, 1] across queries.

        It is the sum, over the query's indexed terms, of the highest score each
        term gets in any passage (feedback terms: times their weight). No passage
        can exceed it, and it is reached only by a passage that is the best match
        for every term at once. Tighter than the textbook bound sum(idf) (which
        bm25s's Lucene scores, idf * tf / (tf + k1 * norm), approach only as tf ->
        infinity), so a passage matching all terms well lands near 1 instead of
        near 0.4. 0.0 when no term is indexed.
        """
        return sum(w * float(self.term_max[tid]) for tid, w in self.weights(terms, feedback))


class KeywordIndex(TermStats):
    """BM25 (Lucene variant, k1=1.5, b=0.75) over :func:`tokenize` terms of each passage.

    Rows are passage positions in the sequence given to :meth:`build`. bm25s
    computes and saves the score matrix; searching only sums its columns, which
    is what bm25s's numpy path does too, so a search process reads bm25s's
    files itself and never imports bm25s (with numba and scipy, 0.6 s of every
    CLI start).
    """

    def __init__(self, scores: _Scores, term_max: np.ndarray, built: Any = None) -> None:
        super().__init__(scores.vocab, np.diff(scores.indptr), term_max, scores.num_docs)
        self._built = built  # the bm25s.BM25 that computed the scores, until saved
        self._data = scores.data
        self._indices = scores.indices
        self._indptr = scores.indptr

    @classmethod
    def build(
        cls, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> KeywordIndex:
        """Tokenise and index ``texts``; ``progress`` gets the number of passages tokenised so far.

        Measured: 8.4k report passages (1.7 M chars) in 1.4 s; 363k law paragraphs
        (19 M chars) in 30 s, 2/3 of it tokenising (with jieba instead of rjieba
        tokenising is ~5x slower).
        """
        if not texts:
            raise ValueError("cannot build a keyword index over no passages")
        vocab: dict[str, int] = {}
        corpus_ids: list[list[int]] = []
        for i, text in enumerate(texts, 1):
            corpus_ids.append([vocab.setdefault(t, len(vocab)) for t in tokenize(text)])
            if progress is not None and (i % _PROGRESS_EVERY == 0 or i == len(texts)):
                progress(i)
        bm25 = _bm25s().BM25()
        bm25.index((corpus_ids, vocab), create_empty_token=False, show_progress=False)
        found = _Scores(
            bm25.scores["data"],
            bm25.scores["indices"],
            bm25.scores["indptr"],
            bm25.vocab_dict,
            int(bm25.scores["num_docs"]),
        )
        return cls(found, _term_maxima(found.data, found.indptr), built=bm25)

    def save(self, directory: Path) -> None:
        """Write bm25s's own files plus ``keyword.json`` (tokeniser, sizes) and per-term maxima."""
        if self._built is None:
            raise ValueError("only a newly built keyword index can be saved")
        directory.mkdir(parents=True, exist_ok=True)
        self._built.save(directory, show_progress=False)
        np.save(directory / _TERM_MAX_FILE, self.term_max)
        meta = {"tokenizer": TOKENIZER, "num_passages": self._n, "num_terms": len(self.vocab)}
        (directory / _META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> KeywordIndex:
        """Open a saved index; ``mmap`` maps the score arrays instead of reading them.

        Raises ``ValueError`` when the index was tokenised differently from this
        code: it must be rebuilt, or queries would silently miss.
        """
        check_tokenizer(directory)
        mode = "r" if mmap else None
        params = json.loads((directory / layout.Keyword.PARAMS).read_text())
        if params.get("method") != "lucene":
            raise ValueError(f"keyword index in {directory} is not a Lucene BM25 index")
        found = _Scores(
            np.load(directory / layout.Keyword.DATA, mmap_mode=mode),
            np.load(directory / layout.Keyword.INDICES, mmap_mode=mode),
            np.load(directory / layout.Keyword.INDPTR, mmap_mode=mode),
            json.loads((directory / layout.Keyword.VOCAB).read_text(encoding="utf-8")),
            int(params["num_docs"]),
        )
        return cls(found, np.load(directory / _TERM_MAX_FILE, mmap_mode=mode))

    def scores(self, terms: Sequence[str], feedback: Feedback | None = None) -> np.ndarray:
        """BM25 score of every passage (float32, length ``len(self)``; 0 where no term occurs).

        Each ``feedback`` term adds its BM25 times its weight (query terms weigh 1).
        """
        out = np.zeros(self._n, dtype=np.float32)
        for tid, weight in self.weights(terms, feedback):
            lo, hi = self._indptr[tid], self._indptr[tid + 1]
            out[self._indices[lo:hi]] += weight * self._data[lo:hi]  # rows of a column are unique
        return out

    def postings(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each passage's (term ids, BM25 scores), in row order: its row of the score matrix.

        What a remote keyword index stores per passage (a sparse vector whose
        dot product with a query's weights is the passage's BM25).
        """
        tids = np.repeat(np.arange(len(self._indptr) - 1), np.diff(self._indptr))
        order = np.argsort(self._indices, kind="stable")
        rows, terms, values = self._indices[order], tids[order], self._data[order]
        bounds = np.searchsorted(rows, np.arange(self._n + 1))
        for r in range(self._n):
            lo, hi = bounds[r], bounds[r + 1]
            yield terms[lo:hi], values[lo:hi]

    def search(
        self,
        terms: Sequence[str],
        k: int,
        scope: Scope | None = None,
        feedback: Feedback | None = None,
    ) -> KeywordHits:
        """Top ``k`` rows with score > 0, best first (ties: lower row first), with their scores."""
        scores = self.scores(terms, feedback)
        rows = self.top(scores, k, mask_of(scope)) if k else np.empty(0, np.int64)
        return KeywordHits(rows, scores[rows], scores.__getitem__, scores)

    def term_scores(self, asked: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        return [self.scores([term])[np.asarray(rows, dtype=np.int64)] for term, rows in asked]

    def top(self, scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows of the ``k`` best ``scores`` above 0 (:func:`top_rows`)."""
        return top_rows(scores, k, mask)


def top_rows(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Rows of the ``k`` best ``scores`` above 0, best first (ties: lower row first).

    ``mask`` (bool, one per passage) restricts the candidates *before* the
    top-k cut, so a filter never leaves fewer than ``k`` hits when ``k``
    matching rows exist.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    keep = scores > 0
    if mask is not None:
        if mask.shape != scores.shape:
            raise ValueError(f"mask shape {mask.shape} != {scores.shape}")
        keep &= mask.astype(bool, copy=False)
    rows = np.flatnonzero(keep)  # ascending, which the stable sort keeps among ties
    if k < len(rows):
        candidate = scores[rows]
        kth = np.partition(candidate, len(rows) - k)[len(rows) - k]
        above = rows[candidate > kth]
        rows = np.concatenate([above, rows[candidate == kth][: k - len(above)]])
    return rows[np.argsort(-scores[rows], kind="stable")]


def check_tokenizer(directory: Path) -> None:
    """Refuse an index tokenised otherwise than this code: its queries would silently miss."""
    meta = json.loads((directory / _META_FILE).read_text())
    if meta["tokenizer"] != TOKENIZER:
        raise ValueError(
            f"keyword index in {directory} was built with tokenizer "
            f"v{meta['tokenizer'].get('version')}, this code uses v{TOKENIZER['version']}; "
            "rebuild the index"
        )


def _bm25s() -> ModuleType:
    """bm25s, imported when an index is built (searching never needs it)."""
    import bm25s

    # it sets its own logger to DEBUG on import ("Building index from IDs" on every build)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _term_maxima(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per-term maximum stored score from the CSC arrays (0 for a term with no postings)."""
    out = np.zeros(len(indptr) - 1, dtype=np.float32)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        out[nonempty] = np.maximum.reduceat(data, indptr[nonempty])
    return out
