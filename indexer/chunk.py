"""Cut a cleaned :class:`~corpus.document.Document` into paragraph passages.

A search hit is only useful if it is about one thing and says where it sits,
so a passage is one source paragraph (very short ones join a neighbour, very
long ones are split at sentence ends) and carries its heading path, e.g.
``三、聚焦重点任务… > （二）强化需求对接与成果转化``.

The input is cleaned text with one paragraph per line.  Lines pass through
four steps:

1. classify: heading (with its level and ordinal), article (``第X条``) or body;
   an inline heading (``（一）…。body``) is both a heading and a body line;
2. repair: an outline (目录), the items of a list nested inside a section
   (1955: 一、二、三 under （一）) and headings with no body of their own become
   body text again, so they neither vanish nor mislabel what follows;
3. sections: a heading stack, driven by the ordinals, gives every body line
   its path;
4. pack: per section, long lines are split and short units join neighbours.

Passage text is made only of body lines (joined by ``\\n``, never rewritten), so
the passages of a document, read in order, reproduce all its non-heading text
and any string that does not cross a sentence end of a line survives intact.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from corpus.document import Document
from indexer.passage import Passage, make_passage_id

if TYPE_CHECKING:
    from indexer.settings import Settings

__all__ = ["CHUNKER_VERSION", "ChunkConfig", "chunk_document", "heading_level"]

#: Bumped whenever the rules below cut or label passages differently, so that an
#: index re-cuts every document instead of mixing old and new passages.
CHUNKER_VERSION = 2


@dataclass(frozen=True)
class ChunkConfig:
    """Passage size targets, in characters.

    ``max_chars`` bounds what one embedding sees; ``target_chars`` is where
    long paragraphs are cut; paragraphs under ``min_chars`` carry too little
    meaning alone and join a neighbour.
    """

    target_chars: int = 320
    max_chars: int = 480
    min_chars: int = 40

    def __post_init__(self) -> None:
        if not 0 <= self.min_chars <= self.target_chars <= self.max_chars:
            raise ValueError(
                "chunk sizes must satisfy 0 <= min_chars <= target_chars <= max_chars, got "
                f"{self.min_chars}/{self.target_chars}/{self.max_chars}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ChunkConfig:
        """The chunk sizes of the one settings object."""
        return cls(
            target_chars=settings.chunk_target_chars,
            max_chars=settings.chunk_max_chars,
            min_chars=settings.chunk_min_chars,
        )


# ---------------------------------------------------------------- heading patterns

#: Longest line (or inline first sentence) still read as a heading.
HEADING_MAX_CHARS = 60
#: Longest heading kept whole in a section path.
SECTION_TITLE_CHARS = 40

_NUM = "一二三四五六七八九十"
_BIGNUM = "零〇一二三四五六七八九十百千两0-9０-９"

_MARKDOWN = re.compile(r"#{1,6}(?=[ \t\u3000])")
#: Levels after the six Markdown levels, outermost first.  编/章/节 only count
#: as standalone lines without punctuation; the rest may open a paragraph
#: (inline heading) and are body text inside a law article.
_LEVELS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (7, re.compile(rf"第[{_BIGNUM}]+[编篇]")),
    (8, re.compile(rf"第[{_BIGNUM}]+章")),
    (9, re.compile(rf"第[{_BIGNUM}]+节")),
    # 一、 but not "一、二月份", "一、二季度", "一、二、三产业"
    (10, re.compile(rf"(?P<n>[{_NUM}]{{1,3}})、(?![{_NUM}]+[、月季])")),
    (11, re.compile(rf"[（(](?P<n>[{_NUM}]{{1,3}})[）)]")),
    # 1. 1、 １． but not 1.5万 or 3、4月
    (12, re.compile(r"(?P<n>[0-9０-９]{1,2})[.．、](?![0-9０-９])")),
    (13, re.compile(r"[（(](?P<n>[0-9０-９]{1,2})[）)]|(?P<c>[\u2460-\u2473])")),
)
_STRUCTURAL_MAX_LEVEL = 9  # 编/章/节: their order is fixed, never inverted
#: Back matter after a report (名词解释, 注释, 附件): a part of its own at the 编
#: level, so its numbered entries do not inherit the report's last heading.
_BACK_MATTER = re.compile(
    r"[^，。；！？,;!?]{0,30}(?:名词解释|名词注释|注释|注解|附录|附表|附件[0-9一二三四五六七八九十]*)[:：]?"
)
_ARTICLE = re.compile(rf"第[{_BIGNUM}]+条(?:之[{_NUM}]+)?(?:[ \t\u3000]|$)")
#: Any punctuation: a 编/章/节 line with it is prose ("第七节相应改为第八节，…").
_ANY_PUNCT = re.compile(r"[，。；：！？、,;:!?]")
_PROSE_PUNCT = re.compile(r"[，。；：！？,;:!?]")
#: Ends a sentence for heading purposes (not ；: "（一）管制；" is a list item).
_SENTENCE_END = re.compile(r"[。！？!?]")
#: A list item, not a heading, ends like this.
_ITEM_END = ("；", ";", "，", ",", "、")
_FINAL_PUNCT = ("。", "！", "？", "：", "；", "，", "!", "?", ":", ";", ",")
#: Cut points for long paragraphs: sentence ends (with closing quotes), then clauses.
_CUT_SENTENCE = re.compile(r"[。！？；!?;][”’」』）)》\"']*")
_CUT_CLAUSE = re.compile(r"[，、：,:][”’」』）)》\"']*")
_SPACES = re.compile(r"[ \t\u3000]+")
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")}


def _number(m: re.Match[str]) -> int | None:
    """Value of a heading's ordinal (一 … 九十九, digits, ①), ``None`` if unreadable."""
    if m.groupdict().get("c"):
        return ord(m["c"]) - 0x2460 + 1
    token = m.groupdict().get("n")
    if not token:
        return None
    if token.isdigit():
        return int(token)
    tens, ten, units = token.partition("十")
    if not ten:
        return _CN_DIGIT.get(token) if len(token) == 1 else None
    if len(tens) > 1 or len(units) > 1:
        return None
    return (_CN_DIGIT.get(tens, 0) if tens else 1) * 10 + (_CN_DIGIT.get(units, 0) if units else 0)


class _Kind(NamedTuple):
    """How one line reads: ``heading`` alone, ``inline`` (heading sentence then
    body), ``numbered`` (numbered like a heading but body) or ``body``."""

    kind: str
    level: int = 0
    title: str = ""
    number: int | None = None


_BODY = _Kind("body")


def _classify(line: str, in_article: bool) -> _Kind:
    """Read one stripped, non-empty line; ``in_article`` turns item lists into body."""
    m = _MARKDOWN.match(line)
    if m:
        return _Kind("heading", m.end(), line[m.end() :].strip(" \t\u3000#"))
    if len(line) <= HEADING_MAX_CHARS and _BACK_MATTER.fullmatch(line):
        return _Kind("heading", _LEVELS[0][0], line.rstrip(":："))
    for level, pattern in _LEVELS:
        m = pattern.match(line)
        if not m:
            continue
        if level <= _STRUCTURAL_MAX_LEVEL:
            if len(line) <= HEADING_MAX_CHARS and not _ANY_PUNCT.search(line):
                return _Kind("heading", level, line)
            return _BODY
        number = _number(m)
        if in_article:
            # （一）/1./（1） inside an article are its items; only a bare 一、 title
            # (司法解释 grouping articles) still heads a section.
            if level == 10 and len(line) <= HEADING_MAX_CHARS and not _PROSE_PUNCT.search(line):
                return _Kind("heading", level, line, number)
            return _BODY
        if line.endswith(_ITEM_END):
            return _Kind("numbered", level, number=number)
        if len(line) <= HEADING_MAX_CHARS and not _SENTENCE_END.search(line, 0, len(line) - 1):
            return _Kind("heading", level, line.rstrip("。！？：!?:"), number)
        end = _SENTENCE_END.search(line)
        if end and end.start() <= HEADING_MAX_CHARS and line[end.end() :].strip():
            return _Kind("inline", level, line[: end.start()], number)
        return _Kind("numbered", level, number=number)
    return _BODY


def heading_level(line: str) -> int | None:
    """Level of a heading line (1–6 Markdown, 7 编/篇 … 13 （1）/①), else ``None``.

    A line that opens with a heading sentence and goes on with body text
    (``（二）强化需求对接与成果转化。围绕……``) counts as a heading; ``第X条``
    articles, ``一是`` enumerations and list items ending in ``；`` do not.
    """
    kind = _classify(line.strip(), in_article=False)
    return kind.level if kind.kind in ("heading", "inline") else None


# ---------------------------------------------------------------- document structure


@dataclass(slots=True)
class _Item:
    """One classified line: a heading (``level`` > 0) or a body line."""

    text: str
    level: int = 0  # heading level; 0 for body
    title: str = ""
    number: int | None = None  # ordinal of a numbered heading or body line
    pops: int = 0  # body numbered like a level-``pops`` heading closes its siblings
    inline: bool = False  # heading sentence that opens the next (body) item
    titled: bool = False  # a bare title, no final punctuation
    alone: bool = False  # inline heading whose section is its own paragraph
    glue: bool = False  # body continuing a law article: stays with it when it fits


def _items(doc: Document) -> list[_Item]:
    """Classify the document's lines, splitting inline headings into heading + body."""
    items: list[_Item] = []
    in_article = False
    doc_title = _SPACES.sub(" ", doc.title).strip()
    for raw in doc.text.splitlines():
        line = raw.strip()
        if not line:
            continue
        kind = _classify(line, in_article)
        if kind.kind in ("heading", "inline"):
            in_article = False
            title = _SPACES.sub(" ", kind.title).strip() or line
            if kind.level == 1 and title == doc_title and not items:
                continue  # the document's own "# title" is not a section
            inline = kind.kind == "inline"
            titled = not inline and not line.endswith(_FINAL_PUNCT)
            items.append(_Item(line, kind.level, title, kind.number, inline=inline, titled=titled))
            if inline:
                items.append(_Item(line))
        elif _ARTICLE.match(line):
            in_article = True
            items.append(_Item(line))
        else:
            items.append(_Item(line, number=kind.number, pops=kind.level, glue=in_article))
    return items


def _demote(item: _Item) -> _Item | None:
    """Turn a heading (or numbered line) into plain body text of the open section.

    An inline heading is just dropped: its line is already body.
    """
    return None if item.inline else _Item(item.text, glue=item.glue)


def _demote_outline(items: list[_Item]) -> list[_Item]:
    """Turn a table of contents into body text.

    A run of headings whose first one comes back later as a heading is an
    outline (目录/提纲), not structure: left as headings it would label the
    introduction with its last entry.
    """
    last_seen = {it.text: i for i, it in enumerate(items) if it.level}
    out: list[_Item] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j].level:
            j += 1
        if j - i >= 2 and last_seen[items[i].text] >= j:
            out.extend(d for d in map(_demote, items[i:j]) if d)
        else:
            out.extend(items[i : j + 1])
            j += 1
        i = j
    return out


def _mark_alone(items: list[_Item]) -> None:
    """Inline headings numbered in sequence on consecutive paragraphs head only
    their own paragraph (浙江: "（一）…。body" "（二）…。body"): what follows the
    last one belongs to the parent, the safer guess."""
    for i in range(len(items) - 2):
        a, b = items[i], items[i + 2]
        if (
            a.inline
            and b.inline
            and a.level == b.level
            and a.number is not None
            and b.number == a.number + 1
        ):
            a.alone = b.alone = True


@dataclass(slots=True)
class _Frame:
    level: int
    number: int | None
    titled: bool
    title: str


_PUSH, _POP, _NESTED, _PLAIN = range(4)


def _place(stack: list[_Frame], nested: dict[int, int], it: _Item, level: int) -> int | None:
    """Stack depth a numbered line sits at, or ``None`` for an item of a nested list.

    Orders are not fixed in real reports: 1981 nests 一、 under （二）, 1955 lists
    一、二、三 inside （一）, 1988 ends a list of "一、…；" items with a heading-like
    "五、…。".  So a number that goes on a list (``nested``: level -> last item)
    is an item; a level already open is a sibling only if the numbering goes on
    (a restart is a nested list, unless bare titles restart bare titles: a new
    part of the document); a new level that starts at 1 is a child of whatever
    is open; otherwise the canonical order decides.
    """

    def canonical() -> int:
        return next((i for i, f in enumerate(stack) if f.level >= level), len(stack))

    n = it.number
    if level <= _STRUCTURAL_MAX_LEVEL or n is None:
        return canonical()
    pos = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].level == level), None)
    open_ = stack[pos] if pos is not None else None
    if nested.get(level) == n - 1 and not (
        it.level and open_ and open_.number == n - 1 and open_.titled == it.titled
    ):
        nested[level] = n
        return None
    if open_ is not None:
        restart = open_.number is not None and n <= open_.number
        if restart and not (it.level and it.titled and open_.titled):
            nested[level] = n
            return None
        return pos
    return len(stack) if n == 1 else canonical()


def _walk(items: list[_Item]) -> Iterator[tuple[int, int, list[_Frame]]]:
    """Run the heading stack over the items: role, depth and stack for each."""
    stack: list[_Frame] = []
    nested: dict[int, int] = {}
    close_at: int | None = None
    for it in items:
        level = it.level or it.pops
        role, depth = _PLAIN, len(stack)
        if level:
            placed = _place(stack, nested, it, level)
            if placed is None:
                role = _NESTED
            else:
                depth = placed
                del stack[placed:]
                nested.clear()
                if it.level:
                    role = _PUSH
                    stack.append(_Frame(it.level, it.number, it.titled, it.title))
                else:
                    # a numbered paragraph starts or continues a list: the next
                    # number is its next item even if it looks like a heading
                    role = _POP
                    if it.number is not None:
                        nested[level] = it.number
        yield role, depth, stack
        if role == _PUSH and it.alone:
            close_at = depth
        elif role != _PUSH and close_at is not None:
            del stack[close_at:]
            close_at = None


def _demote_by_structure(items: list[_Item]) -> list[_Item]:
    """Demote items of nested lists and headings that head no body text.

    A heading with no body before the next heading at its depth or above
    ("十五、本修正案自公布之日起施行。", a chapter cut off a page) would otherwise
    lose its text; as body of the section still open it joins the passage before
    it instead of standing alone as a bare heading.
    """
    has_body = [False] * len(items)
    nested = [False] * len(items)
    open_: list[tuple[int, int]] = []
    for i, (role, depth, _) in enumerate(_walk(items)):
        if role in (_PUSH, _POP):
            while open_ and open_[-1][1] >= depth:
                open_.pop()
        if role == _PUSH:
            open_.append((i, depth))
            continue
        nested[i] = role == _NESTED
        for k, _ in open_:
            has_body[k] = True
        open_.clear()
    out: list[_Item] = []
    for i, it in enumerate(items):
        d = _demote(it) if nested[i] or (it.level and not has_body[i]) else it
        if d:
            out.append(d)
    return out


def _short_title(title: str) -> str:
    return title if len(title) <= SECTION_TITLE_CHARS else title[: SECTION_TITLE_CHARS - 1] + "…"


class _Unit(NamedTuple):
    """A body line, or a piece of a long one, with the section it belongs to."""

    text: str
    section: str
    line_no: int
    glue: bool


def _units(items: list[_Item], config: ChunkConfig) -> list[_Unit]:
    """Give every body line its section path and split the long ones."""
    units: list[_Unit] = []
    section, section_of = "", None
    for line_no, (it, (role, _, stack)) in enumerate(zip(items, _walk(items), strict=True)):
        if role == _PUSH:
            continue
        key = tuple(f.title for f in stack)
        if key != section_of:
            section = " > ".join(_short_title(f.title) for f in stack)
            section_of = key
        pieces = _split(it.text, config)
        units.extend(_Unit(p, section, line_no, it.glue and n == 0) for n, p in enumerate(pieces))
    return units


# ---------------------------------------------------------------- splitting and packing


def _cut_points(line: str, pattern: re.Pattern[str]) -> list[int]:
    return [m.end() for m in pattern.finditer(line)]


def _best_cut(ends: list[int], start: int, length: int, config: ChunkConfig) -> int | None:
    """Cut point in ``(start + min, start + max]`` nearest ``start + target``.

    Cuts that leave a remainder shorter than ``min_chars`` are taken only when
    there is no other.
    """
    lo = bisect.bisect_left(ends, start + max(config.min_chars, 1))
    hi = bisect.bisect_right(ends, start + config.max_chars)
    window = ends[lo:hi]
    if not window:
        return None
    good = [e for e in window if length - e >= config.min_chars] or window
    aim = start + config.target_chars
    return min(good, key=lambda e: abs(e - aim))


def _split(line: str, config: ChunkConfig) -> list[str]:
    """Split a line longer than ``max_chars`` at sentence ends near ``target_chars``.

    A sentence too long for one passage is cut after a comma or 、, and only
    failing that at ``target_chars``: no text is dropped or reordered.
    """
    if len(line) <= config.max_chars:
        return [line]
    sentence_ends = _cut_points(line, _CUT_SENTENCE)
    clause_ends: list[int] | None = None
    pieces: list[str] = []
    start = 0
    while len(line) - start > config.max_chars:
        cut = _best_cut(sentence_ends, start, len(line), config)
        if cut is None:
            if clause_ends is None:
                clause_ends = _cut_points(line, _CUT_CLAUSE)
            cut = _best_cut(clause_ends, start, len(line), config)
        if cut is None:
            cut = start + config.target_chars
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return pieces


def _pack(units: list[_Unit], config: ChunkConfig) -> list[list[_Unit]]:
    """Group the units of one section into passages.

    A unit under ``min_chars`` joins the following one (a run of short lines,
    such as a list, packs together up to ``target_chars``); a law article keeps
    its continuation lines while they fit; a short unit left at the end joins
    the previous passage.  Lengths count the newlines that will join lines.
    """
    groups: list[tuple[list[_Unit], int]] = []
    cur: list[_Unit] = []
    cur_len = 0
    for u in units:
        n = len(u.text)
        joined = cur_len + n + (1 if cur and cur[-1].line_no != u.line_no else 0)
        if (
            cur
            and joined <= config.max_chars
            and (
                u.glue
                or cur_len < config.min_chars
                or (
                    n < config.min_chars
                    and joined <= config.target_chars
                    and all(len(c.text) < config.min_chars for c in cur)
                )
            )
        ):
            cur.append(u)
            cur_len = joined
            continue
        if cur:
            groups.append((cur, cur_len))
        cur, cur_len = [u], n
    if cur:
        groups.append((cur, cur_len))
    merged: list[tuple[list[_Unit], int]] = []
    for group, length in groups:
        if merged and length < config.min_chars:
            prev, prev_len = merged[-1]
            joined = prev_len + length + (1 if prev[-1].line_no != group[0].line_no else 0)
            if joined <= config.max_chars:
                merged[-1] = (prev + group, joined)
                continue
        merged.append((group, length))
    return [group for group, _ in merged]


def _join(group: list[_Unit]) -> str:
    """Passage text: lines joined by a newline, pieces of one line rejoined as they were."""
    parts = [group[0].text]
    for prev, u in pairwise(group):
        if u.line_no != prev.line_no:
            parts.append("\n")
        parts.append(u.text)
    return "".join(parts)


def chunk_document(doc: Document, config: ChunkConfig = ChunkConfig()) -> list[Passage]:
    """Cut a cleaned document into passages, each with its section path.

    Ids come from :func:`~indexer.passage.make_passage_id`, so a passage whose
    text is unchanged keeps its id when the document is re-indexed.
    """
    items = _demote_outline(_items(doc))
    _mark_alone(items)
    units = _units(_demote_by_structure(items), config)
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    start = 0
    while start < len(units):
        end = start
        while end < len(units) and units[end].section == units[start].section:
            end += 1
        for group in _pack(units[start:end], config):
            text = _join(group)
            occurrence = seen.get(text, 0)
            seen[text] = occurrence + 1
            passages.append(
                Passage(
                    passage_id=make_passage_id(doc.doc_id, text, occurrence),
                    doc_id=doc.doc_id,
                    ordinal=len(passages),
                    text=text,
                    section=units[start].section,
                )
            )
        start = end
    return passages


_WINDOW_END = re.compile(r"(?<=[。！？；])")


def sentence_windows(text: str, max_chars: int) -> list[str]:
    """``text`` cut after sentence ends into runs of at most ``max_chars`` (0: whole); what is
    embedded for a passage, so its best window can carry one sentence's meaning."""
    if max_chars <= 0 or len(text) <= max_chars:
        return [text]
    windows, current = [], ""
    for sentence in filter(None, _WINDOW_END.split(text)):
        if current and len(current) + len(sentence) > max_chars:
            windows.append(current)
            current = ""
        current += sentence
    return [*windows, current] if current else windows
