"""Filters read from the question: ``2019年 浙江 数字经济`` searches 数字经济 in Zhejiang's 2019.

Users type the filters into the query (`广东省政府工作报告 营商环境`, `汪文斌 芯片 出口管制`);
this module recognises years, regions, speakers and document types that the index holds and
turns them into filters, leaving the rest as the query. Precision first: a wrong filter hides
the answer, a missed one only ranks it among others. So a value becomes a filter only where
the query's own shape says it is one:

- a word of its own (between spaces): ``2019年``, ``2019``, ``2015—2020年``, ``2015年至2020年``,
  ``2018年以来``, ``浙江``, ``浙江省``, ``汪文斌``, ``政府工作报告``;
- a word that is a region or a year followed by a document type: ``广东省政府工作报告``,
  ``2019年政府工作报告``;
- the year a question names a document by (``1975年政府工作报告提出的…``, ``1958年的报告…``)
  is in doubt, since later reports restate what it asks about: it is a boost, not a filter
  (that year's documents rank higher; nothing is removed), and the answer says so.

Everything else stays text: numbers that are no years (``2300元``, ``5G``, ``十四五``), a year
inside quotes, a target year inside a sentence (``到2035年基本实现…``), and a region inside a
longer phrase (``对口支援西藏``), which is searched as a word and reported as not filtered.
Figures: ``docs/query-intent.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from indexer.query import parse_query

__all__ = ["Intent", "IntentReader", "Understood"]

_NUM = r"(?:19[4-9]\d|20\d\d)"
_DASH = r"\s*(?:—|–|-|~|～|至|到)\s*"
_YEAR_WORD = re.compile(rf"^(?P<y>{_NUM})年?$")
_RANGE_WORD = re.compile(rf"^(?P<a>{_NUM})年?{_DASH}(?P<b>{_NUM})年?$")
_SINCE_WORD = re.compile(rf"^(?P<a>{_NUM})年?(?:以来|至今|起|之后|后)$")
#: "1975年政府工作报告…", "1958年的报告…": a year that names a document, at a word's start
_DOC_YEAR = re.compile(rf"^(?P<y>{_NUM})年(?:的)?(?:(?:国务院)?政府工作报告|工作报告|报告)")
#: what a region's name may be followed by and still be a region word
_REGION_SUFFIXES = ("", "省", "市", "自治区", "特别行政区")
_MINORITY = ("壮族", "回族", "维吾尔")


@dataclass(frozen=True, slots=True)
class Understood:
    """One filter read from the query: which field, its value, the words it was read from;
    ``boost``: not a filter, its passages rank higher (a year a question names its report by)."""

    field: str
    value: str | int
    text: str
    boost: bool = False


@dataclass(frozen=True, slots=True)
class Intent:
    """What a query was understood as: the filters, the query left to search, and notes."""

    query: str
    understood: tuple[Understood, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def filters(self) -> dict[str, str | int]:
        """What restricts the search (boosts only rank)."""
        out: dict[str, str | int] = {}
        for u in self.understood:
            if not u.boost:
                out.setdefault(u.field, u.value)
        return out

    def boosts(self) -> dict[str, str | int]:
        return {u.field: u.value for u in self.understood if u.boost}


class IntentReader:
    """Reads filters from queries against what one index holds."""

    def __init__(
        self,
        regions: Iterable[str],
        speakers: Iterable[str],
        doc_types: Iterable[str],
        years: Iterable[int],
    ) -> None:
        self._regions: dict[str, str] = {}
        for region in regions:
            if region == "全国":  # a topic word far more often than a filter
                continue
            for name in _region_names(region):
                self._regions.setdefault(name, region)
        self._speakers = {s for s in speakers if len(s) >= 2}
        self._types = sorted({t for t in doc_types if t}, key=len, reverse=True)
        held = sorted(set(years))
        self._years = (held[0], held[-1]) if held else None

    def read(self, query: str) -> Intent:
        """``query`` split into filters and the words left to search."""
        parsed = parse_query(query)
        # quoted phrases and exclusions stay as typed: only free words are read
        free_words = parsed.free.split() if parsed.restricts else query.split()
        understood: list[Understood] = []
        kept: list[str] = []
        notes: list[str] = []
        used: set[str] = set()
        for word in query.split():
            if word not in free_words:
                kept.append(word)  # a quoted phrase or an exclusion stays as typed
                continue
            found = self._word(word)
            if found and not {u.field for u in found} & used:
                understood += found
                used |= {u.field for u in found}
                continue
            kept.append(word)
            if (lead := self._doc_year(word)) is not None and "year" not in used:
                understood.append(lead)  # ranked higher, not a filter: later reports restate
                used.add("year")
            notes += self._topics(word)
        rest = " ".join(kept).strip()
        if not rest:  # nothing left to search: the words were the query, not filters
            return Intent(query.strip(), (), ())
        return Intent(rest, tuple(understood), tuple(dict.fromkeys(notes)))

    # ------------------------------------------------------------------ words
    def _word(self, word: str) -> list[Understood]:
        """The filters a whole word is, or none."""
        if years := self._year_word(word):
            return years
        if word in self._regions:
            return [Understood("region", self._regions[word], word)]
        if word in self._speakers:
            return [Understood("speaker", word, word)]
        if word in self._types:
            return [Understood("doc_type", word, word)]
        for kind in self._types:  # 广东省政府工作报告, 2019年政府工作报告
            head = word[: -len(kind)] if word.endswith(kind) and len(word) > len(kind) else None
            if head is None:
                continue
            if head in self._regions:
                return [
                    Understood("region", self._regions[head], head),
                    Understood("doc_type", kind, kind),
                ]
            if (years := self._year_word(head)) and len(years) == 1:
                return [*years, Understood("doc_type", kind, kind)]
        return []

    def _year_word(self, word: str) -> list[Understood]:
        if m := _RANGE_WORD.match(word):
            a, b = sorted((int(m.group("a")), int(m.group("b"))))
            if self._held(a) or self._held(b):
                return [Understood("year_from", a, word), Understood("year_to", b, word)]
        if (m := _SINCE_WORD.match(word)) and self._held(int(m.group("a"))):
            return [Understood("year_from", int(m.group("a")), word)]
        if (m := _YEAR_WORD.match(word)) and self._held(int(m.group("y"))):
            return [Understood("year", int(m.group("y")), word)]
        return []

    def _doc_year(self, word: str) -> Understood | None:
        """The year a longer word names a document by (``1975年政府工作报告提出…``)."""
        m = _DOC_YEAR.match(word)
        if m and self._held(int(m.group("y"))):
            year = m.group(0)[: len(m.group("y")) + 1]
            return Understood("year", int(m.group("y")), year, boost=True)
        return None

    def _topics(self, word: str) -> list[str]:
        """Regions inside a longer word: searched as words, not filters (and said so)."""
        return [
            f"{name} is searched as a word, not used as a region filter"
            for name in self._regions
            if len(name) >= 2 and name in word and name != word
        ][:1]

    def _held(self, year: int) -> bool:
        return self._years is not None and self._years[0] - 1 <= year <= self._years[1] + 1


def _region_names(region: str) -> list[str]:
    """How people type a region: 浙江省, 浙江; 广西壮族自治区, 广西; 香港特别行政区, 香港."""
    names = [region]
    for suffix in ("特别行政区", "自治区", "省", "市"):
        if region.endswith(suffix) and len(region) > len(suffix) + 1:
            short = region[: -len(suffix)]
            for minority in _MINORITY:
                short = short.removesuffix(minority)
            names.append(short)
            names += [short + s for s in _REGION_SUFFIXES if s and short + s != region]
            break
    return [n for n in names if len(n) >= 2]
