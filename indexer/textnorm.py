"""Text normalisation for matching: one canonical form for indexing, queries and highlighting.

Government texts mix simplified and traditional characters (the 1954 report is
traditional), full-width and half-width digits and Latin letters (``１９５５``
next to ``1955``), ideographic spaces and stray zero-width characters. Keyword
matching compares text only after :func:`normalize_for_match`, so a simplified
query finds traditional text and ``1955`` finds ``１９５５``.

The normalisation is defined per code point (NFKC, which folds full-width forms
to half-width, then lower case; zero-width characters are deleted), followed by
OpenCC ``t2s`` over the whole string (phrase-aware and, in practice, one
character out per character in). Defining the first step per code point is what
lets :func:`normalize_with_offsets` map every normalised character back to the
original character it came from, so highlights found on normalised text land
on the right characters of the original passage. The only difference from
whole-string NFKC is that combining sequences (``e`` + U+0301) are not composed,
which does not occur in Chinese official text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["FOLD", "NormalizedText", "fold_script", "normalize_for_match", "normalize_with_offsets"]

#: Deleted outright: invisible, but they split words and defeat substring matching.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


class _CharTable(dict[int, str]):
    """Code point -> normalised string, filled on first sight.

    ``str.translate`` looks code points up with ``__getitem__``, so a dict with
    ``__missing__`` gives C-speed translation over a table that only ever holds
    the characters actually seen (a few thousand). Concurrent fills are
    harmless: every thread computes the same value.
    """

    def __init__(self) -> None:
        super().__init__()
        #: Characters seen so far that do not map to exactly one character.
        self.irregular: set[str] = set()

    def __missing__(self, cp: int) -> str:
        out = _folded_char(cp)
        if len(out) != 1:
            self.irregular.add(chr(cp))
        self[cp] = out
        return out


def _folded_char(cp: int) -> str:
    ch = chr(cp)
    if 0xD800 <= cp <= 0xDFFF:  # a lone surrogate (lenient decoding): OpenCC cannot take it
        return "\ufffd"
    return "" if ch in ZERO_WIDTH else unicodedata.normalize("NFKC", ch).lower()


_TABLE = _CharTable()
_changing_lock = threading.Lock()
_changing: re.Pattern[str] | None = None


def _fold(text: str) -> str:
    """``text.translate(_TABLE)`` at twice its speed.

    ``str.translate`` looks every character up through Python (~110 ns each);
    here a regular expression finds the characters folding changes (6,108 of the
    BMP, found once by scanning it: ~60 ms; every character beyond it is looked
    up), and only those are looked up. A test compares both on every BMP
    character.
    """
    return _changing_pattern().sub(_looked_up, text)


def _looked_up(m: re.Match[str]) -> str:
    return _TABLE[ord(m.group())]


def _changing_pattern() -> re.Pattern[str]:
    global _changing
    if _changing is None:
        with _changing_lock:
            if _changing is None:
                changed = [cp for cp in range(0x10000) if _folded_char(cp) != chr(cp)]
                ranges: list[list[int]] = []
                for cp in changed:
                    if ranges and cp == ranges[-1][1] + 1:
                        ranges[-1][1] = cp
                    else:
                        ranges.append([cp, cp])
                spans = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
                _changing = re.compile(f"[{spans}\\U00010000-\\U0010ffff]")
    return _changing


_t2s_lock = threading.Lock()
_t2s_convert: Callable[[str], str] | None = None
_t2s_chars: dict[str, str] = {}


def _t2s() -> Callable[[str], str]:
    """The OpenCC t2s converter, created once on first use (loading it costs ~10 ms)."""
    global _t2s_convert
    if _t2s_convert is None:
        with _t2s_lock:
            if _t2s_convert is None:
                import opencc

                _t2s_convert = opencc.OpenCC("t2s").convert
    return _t2s_convert


def _t2s_char(ch: str) -> str:
    """Context-free t2s of one character, cached (fallback path of the offset map)."""
    out = _t2s_chars.get(ch)
    if out is None:
        out = _t2s_chars[ch] = _t2s()(ch)
    return out


#: Names what :func:`fold_script` does; embedded vectors depend on it, so index manifests record it.
FOLD = "t2s-halfwidth-alnum-v1"
_HALF_WIDTH = {
    cp: cp - 0xFEE0
    for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for cp in range(r[0], r[1] + 1)
}
_HALF_WIDTH |= {0x3000: " ", **{ord(z): None for z in ZERO_WIDTH}}
_HALF_WIDTH |= dict.fromkeys(range(0xD800, 0xE000), "\ufffd")  # lone surrogates: see _CharTable


def fold_script(text: str) -> str:
    """What the embedding model sees: traditional -> simplified, full-width letters and digits
    -> ASCII, ideographic spaces -> spaces, zero-width characters removed.

    Lighter than :func:`normalize_for_match`: case and Chinese punctuation are kept,
    since the model reads them, but ``科技創新`` and ``ＧＤＰ`` become the forms the
    model (and most of the corpus) uses, on queries and passages alike.
    """
    return _t2s()(text.translate(_HALF_WIDTH))


def normalize_for_match(text: str) -> str:
    """Canonical matching form: NFKC (full-width -> half-width), no zero-width, lower case, t2s.

    Whitespace is kept (a space typed between query words is a word boundary);
    tokenisers drop it. ~6 M chars/s on paragraph-sized passages (OpenCC alone
    converts ~28 M chars/s), well ahead of word segmentation.
    """
    return _t2s()(_fold(text))


@dataclass(slots=True, frozen=True)
class NormalizedText:
    """Normalised text plus, for each of its characters, the index of its source character.

    ``source[i]`` is the offset in the original string of the character that
    produced ``text[i]``; characters that expand (``Ⅲ`` -> ``iii``) give several
    entries with the same source, deleted characters give none.
    """

    text: str
    source: Sequence[int]
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of :attr:`text` to the original string.

        The result covers every original character that contributed to the span,
        so a span over part of an expanded character covers that whole character.
        """
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) outside normalised text of {len(self.text)}")
        return self.source[start], self.source[end - 1] + 1


def normalize_with_offsets(text: str) -> NormalizedText:
    """:func:`normalize_for_match` that also records where each output character came from.

    For highlighting a handful of passages per query, not for bulk indexing.
    OpenCC t2s is applied to the whole string, as in :func:`normalize_for_match`;
    it keeps the length (checked on the whole report and provincial corpus), so
    offsets carry over unchanged. Should a conversion ever change the length,
    characters are converted one at a time instead: offsets stay exact and only
    OpenCC's phrase context is lost.
    """
    folded = _fold(text)  # looks up every character that changes: ``irregular`` is complete
    source: Sequence[int]
    if _TABLE.irregular.isdisjoint(text):  # the usual case: one character out per character in
        source = range(len(text))
    else:
        source = [i for i, ch in enumerate(text) for _ in _TABLE[ord(ch)]]
    converted = _t2s()(folded)
    if len(converted) != len(folded):
        chars = [_t2s_char(ch) for ch in folded]
        converted = "".join(chars)
        source = [s for s, piece in zip(source, chars, strict=True) for _ in piece]
    return NormalizedText(converted, source, len(text))
