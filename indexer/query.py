"""Query syntax: ``"exact phrases"`` and ``-exclusions`` around the words that rank.

A researcher who quotes ``"新质生产力"`` wants the passages that say it, not
ones about productivity in general; ``-房地产`` drops every passage that
mentions property. Both become a row mask, like a filter, so every mode ranks
only passages that pass it. Chinese input methods type “curly” quotes, so
those count as well as ``"``. A phrase is matched after the same folding as
keywords (traditional → simplified, full-width → half-width, case), and its
words also rank, so ``"新质生产力" 发展`` ranks by both words.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from indexer.textnorm import normalize_for_match

#: opening quote -> the quotes that close it
_CLOSING = {'"': '"', "“": "”", "「": "」", "『": "』"}
_STRAY = {"”", "」", "』"}
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
#: Needles whose rows :meth:`FoundText.rows` keeps (a few MB on the laws).
_CACHED = 256


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """``text`` is what the retrievers rank (``free``: its words outside quotes); phrases and
    exclusions are matched whole, in matching form."""

    text: str
    free: str = ""
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def restricts(self) -> bool:
        return bool(self.phrases or self.excluded)


def parse_query(query: str) -> ParsedQuery:
    """Split ``query`` into ranked words, required phrases and excluded words or phrases.

    Never refuses a query: an unclosed quote runs to the end, a stray closing quote
    or empty quotes are dropped, and each such repair is said in ``notes``.
    """
    parts: list[str] = []  # what ranks: runs of free text and each phrase's own words
    free: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    notes: list[str] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        at_start = i == 0 or query[i - 1].isspace()
        negated = ch == "-" and at_start and i + 1 < n and not query[i + 1].isspace()
        if negated:
            i += 1
            ch = query[i]
        if ch in _CLOSING:
            end = query.find(_CLOSING[ch], i + 1)
            if end < 0:
                end = n
                notes.append(
                    f"the closing {_CLOSING[ch]} is missing: the phrase runs to the end of the query"
                )
            raw = query[i + 1 : end]
            phrase = matching_form(raw)
            if not phrase:
                notes.append("empty quotes were ignored")
            elif negated:
                excluded.append(phrase)
            else:
                phrases.append(phrase)
                parts += [" ", raw, " "]
                free.append(" ")
            i = end + 1
        elif ch in _STRAY:
            notes.append(f"a closing {ch} without an opening quote was ignored")
            parts.append(" ")
            free.append(" ")
            i += 1
        elif negated:
            end = next((j for j in range(i, n) if query[j].isspace() or query[j] in _CLOSING), n)
            excluded.append(matching_form(query[i:end]))
            i = end
        else:
            parts.append(ch)
            free.append(ch)
            i += 1
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    if not text:
        notes.append(
            "nothing to search for: -word only excludes; add the words or a phrase to find"
        )
    return ParsedQuery(
        text,
        re.sub(r"\s+", " ", "".join(free)).strip(),
        tuple(dict.fromkeys(phrases)),
        tuple(dict.fromkeys(excluded)),
        tuple(notes),
    )


_NOT_TEXT = re.compile(r"[\W_]+")


def compact_form(text: str) -> str:
    """Matching form without punctuation and spaces: a sentence as pasted from anywhere."""
    return _NOT_TEXT.sub("", normalize_for_match(text))


def matching_form(phrase: str) -> str:
    """Matching form of a phrase; a space typed between Chinese words is not in the text."""
    folded = re.sub(r"\s+", " ", normalize_for_match(phrase)).strip()
    return re.sub(rf"(?<=[{_HAN}]) (?=[{_HAN}])", "", folded)


class TextIndex(Protocol):
    """Every passage's text in one matching form, to find phrases and exact terms in.

    In memory (:class:`PassageText`, a local version) or in a vector database's text field
    (:class:`indexer.milvus.text.MilvusText`, a replica that holds no text).
    """

    def __len__(self) -> int: ...

    @property
    def lengths(self) -> np.ndarray:
        """Characters of every passage (what trends divide by)."""
        ...

    @property
    def mean_length(self) -> float:
        """Average characters of a passage (exact terms' BM25 length norm)."""
        ...

    def lengths_of(self, rows: np.ndarray) -> np.ndarray:
        """Characters of each of ``rows``."""
        ...

    def text(self, row: int) -> str:
        """One passage in this matching form."""
        ...

    def rows(self, needle: str) -> np.ndarray:
        """Rows that contain ``needle`` anywhere, inside longer words too (ascending)."""
        ...

    def says(self, needle: str) -> bool:
        """Whether any passage contains ``needle`` (what analysing a query asks of each word)."""
        ...

    def counts(self, needle: str, rows: np.ndarray) -> np.ndarray:
        """Occurrences of ``needle`` in each of ``rows`` (non-overlapping), float32."""
        ...

    def containing(self, needle: str) -> np.ndarray:
        """Bool mask of the passages that contain ``needle``."""
        ...

    def mask(
        self, parsed: ParsedQuery, check: Callable[[], None] | None = None
    ) -> np.ndarray | None:
        """Rows holding every phrase and no excluded word; None when the query has neither."""
        ...


class FoundText:
    """What every :class:`TextIndex` derives from finding a needle (:meth:`_find`): the last
    :data:`_CACHED` needles' rows kept (a research view asks for the same terms many times,
    paging a query asks again), with their counts where finding them gave those too; masks of
    needles, phrases and exclusions."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()

    def __len__(self) -> int:
        return self._n

    def _find(self, needle: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows whose text contains ``needle`` (ascending), and its occurrences in each when
        finding them counted them (else None: :meth:`_count` counts on demand)."""
        raise NotImplementedError

    def _count(self, needle: str, rows: np.ndarray) -> np.ndarray:
        """Occurrences of ``needle`` in each of ``rows``, when finding them did not count."""
        raise NotImplementedError

    def _cached(self, needle: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """What finding ``needle`` gave, if it is still kept."""
        with self._lock:
            found = self._cache.get(needle)
            if found is not None:
                self._cache.move_to_end(needle)
            return found

    def _found(self, needle: str) -> tuple[np.ndarray, np.ndarray | None]:
        if (found := self._cached(needle)) is not None:
            return found
        found = self._find(needle) if needle else (np.empty(0, np.int64), None)
        with self._lock:
            self._cache[needle] = found
            while len(self._cache) > _CACHED:
                self._cache.popitem(last=False)
        return found

    def rows(self, needle: str) -> np.ndarray:
        """Rows whose matching form contains ``needle`` (ascending).

        Exact wherever the needle stands, inside longer words too: what keyword
        search scores a query's terms by.
        """
        return self._found(needle)[0]

    def says(self, needle: str) -> bool:
        return bool(len(self.rows(needle)))

    def counts(self, needle: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        found, tf = self._found(needle)
        if tf is None:
            return self._count(needle, rows) if rows.size else np.empty(0, np.float32)
        out = np.zeros(len(rows), np.float32)
        if len(found):
            at = np.minimum(np.searchsorted(found, rows), len(found) - 1)
            hit = found[at] == rows
            out[hit] = tf[at[hit]]
        return out

    def containing(self, phrase: str) -> np.ndarray:
        """Bool mask of the passages whose matching form contains ``phrase``."""
        out = np.zeros(self._n, dtype=bool)
        out[self.rows(phrase)] = True
        return out

    def mask(
        self, parsed: ParsedQuery, check: Callable[[], None] | None = None
    ) -> np.ndarray | None:
        """Rows holding every phrase and no excluded word; None when the query has neither.

        ``check`` runs after each phrase (a search's time budget: 128 quoted characters
        are 128 passes over the text)."""
        if not parsed.restricts:
            return None
        keep = np.ones(self._n, dtype=bool)
        for phrase in parsed.phrases:
            keep &= self.containing(phrase)
            if check is not None:
                check()
        for word in parsed.excluded:
            keep &= ~self.containing(word)
            if check is not None:
                check()
        return keep


class PassageText(FoundText):
    """Every passage in matching form, in one string, to find phrases in.

    Built on first use from the store (0.3 s and ~3 MB for the 7,945-passage
    demo; the 147 k-passage laws would take ~5 s and ~60 MB), so searches
    without quotes or exclusions never pay for it. ``str.find`` runs in C; a
    NUL, which no query holds, separates passages so no match spans two.
    """

    def __init__(
        self,
        texts: Callable[[], Iterable[tuple[int, str]]],
        n: int,
        form: Callable[[str], str] = normalize_for_match,
    ) -> None:
        """``form``: how a passage is folded before matching (``compact_form`` also drops
        punctuation and spaces, for text pasted with other punctuation)."""
        super().__init__(n)
        self._texts = texts
        self._form = form
        self._joined: str | None = None
        self._starts = np.zeros(0, np.int64)
        self._lengths: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        """Characters of each passage's matching form: the text size trends divide by, and the
        passage length exact terms' BM25 normalises by."""
        self._load()
        if self._lengths is None:
            self._lengths = np.diff(np.append(self._starts, len(self._joined or "") + 1)) - 1
        return self._lengths

    @property
    def mean_length(self) -> float:
        return float(self.lengths.mean()) if self._n else 0.0

    def lengths_of(self, rows: np.ndarray) -> np.ndarray:
        return self.lengths[np.asarray(rows, dtype=np.int64)]

    def text(self, row: int) -> str:
        """One passage's matching form."""
        joined = self._load()
        start = int(self._starts[row])
        end = int(self._starts[row + 1]) - 1 if row + 1 < self._n else len(joined)
        return joined[start:end]

    def _find(self, needle: str) -> tuple[np.ndarray, np.ndarray | None]:
        joined = self._load()
        at = np.fromiter((m.start() for m in re.finditer(re.escape(needle), joined)), np.int64)
        rows, tf = np.unique(
            np.searchsorted(self._starts, at, side="right") - 1, return_counts=True
        )
        return rows, tf.astype(np.float32)

    def _load(self) -> str:
        with self._lock:
            if self._joined is None:
                texts = [self._form(t) for _, t in self._texts()]
                lengths = np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))
                self._starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
                self._joined = "\0".join(texts)
            return self._joined
