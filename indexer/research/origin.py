"""Where a sentence comes from: the documents that say it, earliest first, and how they say it.

A journalist pastes a phrase, a sentence or paragraphs of a new speech. The text is cut into
sentences and each is traced through the archive three ways:

- **exact**: a passage contains it once script, width, case, punctuation and spaces are
  folded away (``PassageText`` over :func:`~indexer.query.compact_form`);
- **near**: the same sentence with small edits: aligned with the passage around the longest
  stretch they share, at least ``NEAR`` of the sentence's characters fall in shared runs of
  three or more (a few characters changed, other punctuation, a word added);
- **reworded**: the same meaning in other words: the sentence's vector against the passage's
  best sentence window, on the dense score's calibrated scale, at least ``REWORDED``.

Near and reworded candidates are what keyword search and the dense index nominate for the
sentence inside the filters. Each document keeps its best passage (exact before near before
reworded); dated documents are listed earliest first, undated ones apart. The thresholds and
their figures: ``docs/origin.md``.
"""

from __future__ import annotations

import re
import time
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

import numpy as np

from indexer.filtering import Scope
from indexer.query import compact_form
from indexer.research.schemas import (
    MatchKind,
    OriginDocument,
    OriginParams,
    OriginResponse,
    OriginSentence,
)

if TYPE_CHECKING:
    from indexer.schemas import DocumentInfo
    from indexer.search import Searcher

__all__ = ["NEAR", "REWORDED", "origin", "sentences_of"]

#: Share of a sentence's characters a passage must hold, in order, to say it "near".
NEAR = 0.7
#: Calibrated dense score a passage's best window must reach to say it "reworded".
REWORDED = 0.8
#: Characters (folded) a sentence needs to be traced; sentences traced, at most.
MIN_CHARS, MAX_SENTENCES = 6, 40
#: Candidates per sentence from each retriever.
_KEYWORD, _DENSE = 30, 20
_RANK = {"exact": 0, "near": 1, "reworded": 2}
_END = re.compile(r"(?<=[。！？；!?;…\n])")
_CLAUSES = re.compile(r"[，。！？；：、,.!?;:\s“”‘’（）()《》]+")


def sentences_of(text: str) -> list[str]:
    """The text's sentences worth tracing, in order (a phrase without an end is one)."""
    out = []
    for piece in _END.split(text):
        sentence = piece.strip()
        if len(compact_form(sentence)) >= MIN_CHARS:
            out.append(sentence)
    return out[:MAX_SENTENCES]


def origin(searcher: Searcher, params: OriginParams, budget: float | None = None) -> OriginResponse:
    """The documents that say ``params.text`` (or its sentences), earliest first."""
    started = time.perf_counter()
    check = searcher.budget(started, budget)
    filters = params.filters()
    inside = searcher.scope(filters)
    sentences = sentences_of(params.text)
    best: dict[int, tuple[int, float, int]] = {}  # row -> (rank of match, -similarity, row)
    said: dict[int, set[int]] = {}  # row -> sentences it says
    kinds: dict[int, MatchKind] = {}
    how: dict[tuple[int, int], MatchKind] = {}  # (document, sentence) -> its best match
    if sentences and (inside is None or inside.mask.any()):  # filters that hold no passage: none
        vectors = searcher.encode_passages(sentences)
        dated = searcher.by_row(np.array([_when(d) for d in searcher.documents]))
        for i, sentence in enumerate(sentences):
            for row, kind, similarity in _matches(searcher, sentence, vectors[i], inside, dated):
                key = (_RANK[kind], -similarity, row)
                if row not in best or key < best[row]:
                    best[row], kinds[row] = key, kind
                said.setdefault(row, set()).add(i)
                doc = (int(searcher.document_of(row)), i)
                if doc not in how or _RANK[kind] < _RANK[how[doc]]:
                    how[doc] = kind
            check()
    return _answer(searcher, params, sentences, best, said, kinds, how, started)


def _matches(
    searcher: Searcher,
    sentence: str,
    vector: np.ndarray,
    inside: Scope | None,
    dated: np.ndarray,
) -> list[tuple[int, MatchKind, float]]:
    """(row, how, similarity) of every passage inside the filters that says ``sentence``.

    Near and reworded candidates are nominated twice: inside the filters, and among the
    passages dated before the earliest exact one (undated ones too), so a formula that 50
    later reports repeat word for word still shows its earlier, slightly different wording.
    """
    key = compact_form(sentence)
    exact = searcher.containing_compact(key)
    if inside is not None:
        exact = exact[inside.mask[exact]]
    found: list[tuple[int, MatchKind, float]] = [(int(r), "exact", 1.0) for r in exact]
    analysis = searcher.analyse(sentence, whole=False)  # its words nominate, not the whole
    scopes = [inside]
    if exact.size and (first := min(dated[exact])):
        earlier = dated < first
        scopes.append(Scope(earlier) if inside is None else inside.narrowed(earlier))
    nominated = []
    for scope in scopes:
        if scope is not None and not scope.mask.any():
            continue
        nominated.append(searcher.keyword_hits(analysis, _KEYWORD, scope).rows)
        nominated.append(searcher.dense_nominees(vector, _DENSE, scope))
    rows = np.setdiff1d(np.unique(np.concatenate(nominated)), exact).astype(np.int64)
    if not rows.size:
        return found
    near = np.array([_aligned(key, searcher.compact_text(int(r))) for r in rows])
    close = searcher.dense_scale(searcher.dense_similarity(vector[None, :], rows)[:, 0])
    for row, share, score in zip(rows.tolist(), near.tolist(), close.tolist(), strict=True):
        if share >= NEAR:
            found.append((row, "near", round(share, 4)))
        elif score >= REWORDED:
            found.append((row, "reworded", round(score, 4)))
    return found


def _aligned(key: str, passage: str) -> float:
    """Share of ``key``'s characters that ``passage`` holds in order, in runs of 3 or more,
    near the longest run they share (so shared words scattered over a long passage do not
    add up to a match)."""
    anchor = SequenceMatcher(None, key, passage, autojunk=False).find_longest_match(
        0, len(key), 0, len(passage)
    )
    if anchor.size < 3:
        return 0.0
    start = max(0, anchor.b - anchor.a - len(key) // 4)
    window = passage[start : start + len(key) + len(key) // 2]
    blocks = SequenceMatcher(None, key, window, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= 3) / len(key)


def _answer(
    searcher: Searcher,
    params: OriginParams,
    sentences: list[str],
    best: dict[int, tuple[int, float, int]],
    said: dict[int, set[int]],
    kinds: dict[int, MatchKind],
    how: dict[tuple[int, int], MatchKind],
    started: float,
) -> OriginResponse:
    """Each document's best passage, dated ones earliest first, and what each sentence found."""
    docs = searcher.documents
    by_doc: dict[int, int] = {}  # document -> its best row
    sentences_of_doc: dict[int, set[int]] = {}
    for row in sorted(best, key=best.__getitem__):
        doc = int(searcher.document_of(row))
        by_doc.setdefault(doc, row)
        sentences_of_doc.setdefault(doc, set()).update(said[row])
    rows = list(by_doc.values())
    texts = searcher.passages(rows)
    # an exact hit marks the sentence's clauses (the passage has its own punctuation)
    marked = [c for s in sentences for c in _CLAUSES.split(s) if len(compact_form(c)) >= 2]

    def entry(doc: int) -> OriginDocument:
        row = by_doc[doc]
        rank, similarity, _ = best[row]
        hit = searcher.hit(texts[row], 1, -similarity, marked if rank == 0 else [])
        return OriginDocument(
            document=hit.document,
            hit=hit,
            match=kinds[row],
            similarity=-similarity,
            sentences=sorted(sentences_of_doc[doc]),
        )

    dated = sorted((d for d in by_doc if _when(docs[d])), key=lambda d: (_when(docs[d]), d))
    undated = [d for d in by_doc if not _when(docs[d])]
    listed = [entry(d) for d in dated[: params.limit]]
    apart = [entry(d) for d in undated[: max(0, params.limit - len(listed))]]
    first = listed[0] if listed else None
    per_sentence = [
        _sentence(i, s, [d for d in dated if i in sentences_of_doc[d]], undated, sentences_of_doc,
                  docs, how)
        for i, s in enumerate(sentences)
    ]  # fmt: skip
    message = None
    if not sentences:
        message = f"nothing to trace: the text has no sentence of {MIN_CHARS} characters or more"
    elif not by_doc:
        message = "no document says it: the text is new to this archive" + (
            "" if params.filters().is_empty() else " within the filters"
        )
    return OriginResponse(
        text=params.text,
        summary=_summary(first, len(dated), len(undated)),
        first=first,
        later=max(0, len(dated) - 1),
        documents=listed,
        undated=apart,
        sentences=per_sentence,
        filters=params.filters(),
        message=message,
        version=searcher.version.name,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _sentence(
    index: int,
    text: str,
    dated: list[int],
    undated: list[int],
    sentences_of_doc: dict[int, set[int]],
    docs: list[DocumentInfo],
    how: dict[tuple[int, int], MatchKind],
) -> OriginSentence:
    holders = dated + [d for d in undated if index in sentences_of_doc[d]]
    first = dated[0] if dated else None
    return OriginSentence(
        index=index,
        text=text,
        documents=len(holders),
        first=None if first is None else docs[first],
        match=None if first is None else how[(first, index)],
    )


def _when(doc: DocumentInfo) -> str:
    return doc.date or (str(doc.year) if doc.year else "")


def _summary(first: OriginDocument | None, dated: int, undated: int) -> str:
    apart = f"; {undated} undated document(s) say it too" if undated else ""
    if first is None:
        return ("no dated document says it" + apart) if undated else "no document says it"
    d = first.document
    who = ", ".join(x for x in (_when(d), d.speaker) if x)
    later = dated - 1
    repeats = (
        f"; repeated in {later} later document(s)" if later else "; no later document repeats it"
    )
    return f"first in 《{d.title}》 ({who}), {first.match}{repeats}{apart}"
