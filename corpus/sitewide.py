"""Page furniture no rule names: lines that repeat at the edges of many pages of one site.

A site's menus, service lines and notices ("本网站支持IPv6访问 政务服务便民热线：12345")
differ from site to site, so no fixed rule can know them all, but within one
site they are the same on every page. A batch of documents is grouped by site
(the host of each document's URL; for saved pages without one, their folder),
and a line is furniture when, within a group of at least ``MIN_PAGES`` pages, it
stands among the first or last lines of at least ``MIN_PAGES`` pages and of
``SHARE`` of them, and is not something a speech repeats for a reason: a
greeting ("各位代表："), a heading ("一、…"), a sentence ("现在，我代表省人民政府……。")
or a byline ("国务院总理 李克强"). Those lines are removed from every page of the
group, wherever they stand.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from corpus.clean import _ENUM_RE, _GREETING_RE
from corpus.document import Document
from corpus.speakers import infer_speaker

__all__ = ["MIN_PAGES", "SHARE", "strip_site_furniture"]

#: Pages a line must repeat on, and the smallest site it is looked for in.
MIN_PAGES = 3
#: Share of a site's pages a line must repeat on.
SHARE = 0.5
#: How far from a page's start or end furniture stands.
EDGE_LINES = 8
#: Longest line taken for furniture: menus and notices are short.
MAX_CHARS = 80
_WEB_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
_SENTENCE_END = re.compile(r"[。！？；…!?;][”’」』）)]*$")


def _site(doc: Document) -> str | None:
    """The site a document was published on: a saved page's folder, or a record's URL host.

    Pages saved from one site sit in one folder (and some of them may name no
    address of their own); records of a crawl carry their URLs.
    """
    path = doc.source.split("#", 1)[0]
    if path.lower().endswith(_WEB_SUFFIXES):
        return "folder:" + str(PurePosixPath(path).parent)
    host = urlsplit(doc.url).hostname if doc.url else None
    return host.lower().removeprefix("www.") if host else None


def _candidate(line: str) -> bool:
    """A line that may be furniture: short, not a sentence, greeting, heading or byline."""
    return (
        0 < len(line) <= MAX_CHARS
        and not _SENTENCE_END.search(line)
        and not _GREETING_RE.match(line)
        and not _ENUM_RE.match(line)
        and not line.startswith("#")
        and infer_speaker([line]) is None
    )


def _edges(text: str) -> set[str]:
    lines = [s.strip() for s in text.split("\n") if s.strip()]
    return {s for s in lines[:EDGE_LINES] + lines[-EDGE_LINES:] if _candidate(s)}


def strip_site_furniture(docs: Sequence[Document]) -> dict[str, list[str]]:
    """Remove lines that repeat at the edges of many pages of one site, in place.

    Returns the removed lines by site, each once, so a build can say what it
    took. A site with fewer than :data:`MIN_PAGES` pages is left alone.
    """
    by_site: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        if (site := _site(doc)) is not None:
            by_site[site].append(doc)
    removed: dict[str, list[str]] = {}
    for site, pages in by_site.items():
        if len(pages) < MIN_PAGES:
            continue
        counts = Counter(line for page in pages for line in _edges(page.text))
        need = max(MIN_PAGES, SHARE * len(pages))
        furniture = {line for line, n in counts.items() if n >= need}
        if not furniture:
            continue
        for page in pages:
            kept = [s for s in page.text.split("\n") if s.strip() not in furniture]
            if len(kept) < page.text.count("\n") + 1 and any(s.strip() for s in kept):
                page.text = "\n".join(kept)
        removed[site] = sorted(furniture)
    return removed
