"""A query, analysed once: the terms it ranks by, what it requires, what to mark.

Every step of a search (keyword scoring, feedback words, fusion, highlights,
trends, compare) reads the same :class:`Analysis`, so a query is parsed and
segmented once and the steps cannot disagree about what its terms are.

Terms are found wherever they stand: each is an **exact term**, matched as a
substring of every passage's matching form, so ``代表大会`` is found inside
``全国人民代表大会`` though the segmenter cuts that as one word. Which strings
are the terms:

- a query that is one typed word the archive contains (``营商环境``,
  ``高质量发展``) is that one term: its hits are the passages that say it;
- otherwise each typed word is cut into the archive's learned terms
  (:mod:`indexer.terms`) and the segmenter's words, so a passage that has some
  of the words scores for those (BM25's partial credit: ``引导基金`` finds
  ``引导…基金``); characters the segmenter scattered (``新 / 质 / 生产力``) are
  joined with their neighbour when the archive holds the joined string.

Single characters left over and Latin or number tokens are scored from the
keyword index's postings, where word boundaries hold (``5g`` is not inside
``15g``). The choice and its figures: ``docs/keyword-terms.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from indexer.keyword import HAN_CHARS, STOP_WORDS, TermStats, segment_precise, words
from indexer.query import ParsedQuery, matching_form, parse_query
from indexer.terms import FUNCTION_CHARS, LearnedTerms

__all__ = ["MAX_TERM_CHARS", "Analyser", "Analysis"]

#: Longest typed word kept whole as one exact term; a longer one is cut into words.
MAX_TERM_CHARS = 12
_HAN_RUN = re.compile(f"[{HAN_CHARS}]+")


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one query asks for, in matching form.

    ``units`` are exact terms (scored from the passages' text), ``tokens`` the
    terms scored from postings; ``one_term`` is set when the whole query is a
    single exact term (hybrid ranks the passages that contain it first).
    """

    query: str
    parsed: ParsedQuery
    units: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    typed_singles: tuple[str, ...] = ()
    one_term: str | None = None
    #: the query's words the archive does not contain (they score nothing, and no passage
    #: uses the query while one is missing)
    absent: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """What the dense side encodes: the query without quotes marks and exclusions."""
        return self.parsed.text

    @property
    def terms(self) -> list[str]:
        """Every term that ranks, in query order (units first)."""
        return [*self.units, *self.tokens]

    @property
    def required(self) -> list[str]:
        """What a passage must contain to use the query's words: phrases and every term (a
        word the archive lacks too: then no passage does)."""
        return list(dict.fromkeys([*self.parsed.phrases, *self.units, *self.tokens, *self.absent]))

    @property
    def typed(self) -> list[str]:
        """The phrases and words as the user typed them (for messages)."""
        return list(dict.fromkeys([*self.parsed.phrases, *self.parsed.free.split()]))

    @property
    def marked(self) -> list[str]:
        """What highlights mark: phrases and terms whole, never a lone character the
        segmenter cut from a longer word (the 新 of 新质生产力 inside 创新)."""
        singles = set(self.typed_singles)
        kept = [t for t in self.terms if len(t) > 1 or not _HAN_RUN.fullmatch(t) or t in singles]
        return list(dict.fromkeys([*self.parsed.phrases, *kept]))


@dataclass(slots=True)
class _Found:
    """What one analysis collects as it cuts the query (one per call: the analyser is shared)."""

    units: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)


class Analyser:
    """Turns a query into an :class:`Analysis` against one version: its text, vocabulary and terms.

    ``said`` tells whether any passage contains a string (the version's
    :class:`~indexer.query.TextIndex` answers); ``stats`` is the keyword index's vocabulary.
    Analysis asks only of Han strings, and the segmenter cut every Han word of the
    vocabulary out of some passage's matching form, so ``said`` is asked only of the others.
    """

    def __init__(
        self, said: Callable[[str], bool], stats: TermStats, learned: LearnedTerms
    ) -> None:
        self._ask = said
        self._stats = stats
        self._learned = learned

    def _said(self, form: str) -> bool:
        return form in self._stats.vocab or self._ask(form)

    def analyse(
        self, query: str, check: Callable[[], None] | None = None, whole: bool = True
    ) -> Analysis:
        """``check`` runs after each typed word (a search's time budget); ``whole=False``
        cuts a one-word query into its words too (origin's candidates: a sentence's words)."""
        parsed = parse_query(query)
        typed = [matching_form(t) for t in parsed.text.split()]
        found = _Found()
        one = None
        if whole and len(typed) == 1 and self._whole(typed[0]):
            found.units.append(typed[0])
            one = typed[0] if [matching_form(t) for t in parsed.free.split()] == typed else None
        else:
            for form in typed:
                self._cut(form, found)
                if check is not None:
                    check()
        units = list(dict.fromkeys(found.units))
        tokens = [t for t in dict.fromkeys(found.tokens) if t not in units]
        return Analysis(
            query.strip(),
            parsed,
            tuple(units),
            tuple(tokens),
            tuple(t for t in typed if len(t) == 1),
            one,
            tuple(dict.fromkeys(found.absent)),
        )

    def _whole(self, form: str) -> bool:
        """A typed word kept as one exact term: Han only, not a stop word, in the archive."""
        return (
            bool(_HAN_RUN.fullmatch(form))
            and 2 <= len(form) <= MAX_TERM_CHARS
            and form not in STOP_WORDS
            and self._said(form)
        )

    def _cut(self, form: str, found: _Found) -> None:
        """A typed word as terms: learned terms and words of its Han runs, its other tokens."""
        pos = 0
        for m in _HAN_RUN.finditer(form):
            found.tokens += self._indexed(form[pos : m.start()])
            self._cut_han(m.group(0), found)
            pos = m.end()
        found.tokens += self._indexed(form[pos:])

    def _indexed(self, text: str) -> list[str]:
        return [t for t in words(text, precise=True) if t in self._stats.vocab]

    def _cut_han(self, run: str, found: _Found) -> None:
        pos = 0
        # learned terms the segmenter would scatter into characters: kept whole
        spans = [
            (a, b)
            for a, b in self._learned.find(run)
            if any(len(w) == 1 for w in segment_precise(run[a:b]))
        ]
        for start, end in [*spans, (len(run), len(run))]:
            if start > pos:
                self._words(run[pos:start], found)
            if end > start and self._said(run[start:end]):
                self._repaired(run[start:end], found.units)
            pos = end
        # years in Chinese numerals (一九五五) are also indexed as 1955
        found.tokens += [t for t in self._indexed(run) if t.isdigit()]

    def _words(self, text: str, found: _Found) -> None:
        """The segmenter's words of ``text``; a run of scattered characters joined to a
        neighbouring word when the archive holds the joined string (新 + 质 + 生产力)."""
        pieces = [w for w in segment_precise(text) if w not in STOP_WORDS]
        i = 0
        while i < len(pieces):
            if len(pieces[i]) > 1:
                (found.units if self._said(pieces[i]) else found.absent).append(pieces[i])
                i += 1
                continue
            j = i
            while j < len(pieces) and len(pieces[j]) == 1:
                j += 1
            joined = self._join(pieces, i, j)
            if joined is not None:
                self._repaired("".join(pieces[joined[0] : joined[1]]), found.units)
                i = joined[1]
                continue
            found.tokens += [c for c in pieces[i:j] if c in self._stats.vocab]
            i = j

    @staticmethod
    def _repaired(term: str, units: list[str]) -> None:
        """A term the segmenter scatters counts whole, and its own words of two or more
        characters keep their partial credit (生产力 of 新质生产力, 减税 of 减税降费); only the
        lone characters it was scattered into (新, 质) count for nothing."""
        units.append(term)
        units += [w for w in segment_precise(term) if len(w) > 1 and w not in STOP_WORDS]

    def _join(self, pieces: list[str], i: int, j: int) -> tuple[int, int] | None:
        """The span of the scattered characters ``pieces[i:j]`` that the archive holds verbatim:
        alone (碳 + 达 + 峰), else with the word after them (新 + 质 + 生产力)."""
        if j - i < 2 or any(c in FUNCTION_CHARS for c in pieces[i:j]):
            return None  # one character alone (年 of 2017年政府…), or function words (让 更 多)
        for a, b in ((i, j), (i, j + 1)):
            joined = "".join(pieces[a:b])
            fits = b - a >= 2 and b <= len(pieces) and len(joined) <= MAX_TERM_CHARS
            if fits and self._said(joined):
                return a, b
        return None
