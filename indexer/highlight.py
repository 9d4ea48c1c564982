"""Highlight query terms in passage text, safely for HTML.

Terms are matched on the normalised text (:mod:`indexer.textnorm`), the same
form the keyword index matched on, so a simplified term highlights traditional
characters and ``2019`` highlights ``２０１９``; the spans are then mapped back
to offsets in the original text, which is what is displayed.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence

from indexer.textnorm import normalize_for_match, normalize_with_offsets

__all__ = ["highlight_spans", "mark"]

_ALNUM = re.compile(r"[a-z0-9]")
# a Latin/number term may not continue a word, a number or a decimal (13.2) on its alnum ends
_WORD_START = r"(?<![a-z0-9])(?<![0-9]\.)"
_WORD_END = r"(?![a-z0-9])(?!\.[0-9])"


def highlight_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Sorted, merged, non-overlapping ``[start, end)`` offsets into ``text`` where ``terms`` occur.

    Every occurrence of every term is marked and overlapping or touching
    occurrences are merged, so the longest available reading wins: with terms
    ``科技成果`` and ``转化`` the whole of ``科技成果转化`` is one span. A term that
    starts or ends with a Latin letter or digit must not continue a longer word
    or number there (``2`` does not light up inside ``13.2`` or ``2019``), as
    the tokeniser would not have matched it either; Chinese has no such boundaries.
    """
    patterns = _patterns(tuple(terms))
    if not patterns or not text:
        return []
    norm = normalize_with_offsets(text)
    found = [
        norm.to_original(m.start(1), m.end(1))
        for pattern in patterns
        for m in pattern.finditer(norm.text)
    ]
    return _merge(found)


@functools.lru_cache(maxsize=256)
def _patterns(terms: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """One pattern per distinct term; made once per query, not once per hit (a page has 10)."""
    needles = sorted({n for n in (normalize_for_match(t).strip() for t in terms) if n})
    return tuple(_occurrences(n) for n in needles)


def _occurrences(needle: str) -> re.Pattern[str]:
    """Pattern finding every (also overlapping) occurrence of ``needle`` as group 1."""
    left = _WORD_START if _ALNUM.match(needle[0]) else ""
    right = _WORD_END if _ALNUM.match(needle[-1]) else ""
    return re.compile(f"(?={left}({re.escape(needle)}){right})")


def mark(
    text: str, spans: Sequence[tuple[int, int]], open: str = "<mark>", close: str = "</mark>"
) -> str:
    """HTML-escape ``text`` and wrap each span in ``open``/``close``: safe to insert as HTML.

    ``open`` and ``close`` are markup and go in verbatim. Spans are merged
    first, so overlapping input cannot produce crossed tags.
    """
    out: list[str] = []
    pos = 0
    for start, end in _merge(spans):
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span ({start}, {end}) outside text of length {len(text)}")
        out += (html.escape(text[pos:start]), open, html.escape(text[start:end]), close)
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of ``[start, end)`` spans as sorted disjoint spans; touching spans join."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
