"""Result building: the page of a ranking, each hit with its text marked, its document,
its neighbours and a citation, and passages and documents looked up by id.

Ranking (:mod:`indexer.search`) hands over rows and scores; only here are passages read from
the store, and only those of the page and their duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.fusion import Ranked
from indexer.highlight import highlight_spans, mark
from indexer.schemas import (
    ContextPassage,
    DocumentDetail,
    DocumentInfo,
    Duplicate,
    Hit,
    PassageDetail,
    SearchRequest,
)
from indexer.store import StoredPassage
from indexer.version.version import Version


class Results:
    """Pages, hits, passages and documents of one version."""

    def __init__(self, version: Version) -> None:
        self._version = version
        self._doc_by_id = {d.doc_id: d for d in version.documents}

    def count(self, rows: np.ndarray, collapse: bool) -> int:
        """Hits ``rows`` make: near-duplicates folded into one, as the pages fold them."""
        return int(np.unique(self._version.clusters.of(rows)).size) if collapse else int(rows.size)

    def page(self, req: SearchRequest, ranked: Ranked, terms: list[str]) -> tuple[list[Hit], int]:
        """The requested page and the total: hits left after folding the whole pool.

        Folding needs only the cluster of each row, so only the page's passages and
        their duplicates are read from the store, not the whole pool of 200.
        """
        rows = ranked.rows.tolist()
        groups: list[tuple[int, list[int]]] = []  # (index into ranked, rows of its duplicates)
        group_of_cluster: dict[int, int] = {}
        # without folding, every row is a cluster of its own
        clusters = (
            self._version.clusters.of(ranked.rows).tolist() if req.collapse else range(len(rows))
        )
        for i, cluster in enumerate(clusters):
            first = group_of_cluster.setdefault(cluster, len(groups))
            if first < len(groups):
                groups[first][1].append(rows[i])
            else:
                groups.append((i, []))
        page = groups[req.offset : req.offset + req.k]
        texts = self._version.store.passages_by_rows(
            [rows[i] for i, _ in page] + [r for _, d in page for r in d]
        )
        hits = [
            self.hit(
                texts[rows[i]],
                rank,
                float(ranked.scores[i]),
                terms,
                req.context,
                None if ranked.keyword is None else float(ranked.keyword[i]),
                None if ranked.dense is None else float(ranked.dense[i]),
                [texts[r] for r in dups],
            )
            for rank, (i, dups) in enumerate(page, start=req.offset + 1)
        ]
        return hits, len(groups)

    def hit(
        self,
        p: StoredPassage,
        rank: int,
        score: float,
        terms: list[str],
        context: int = 0,
        keyword: float | None = None,
        dense: float | None = None,
        duplicates: Sequence[StoredPassage] = (),
    ) -> Hit:
        """One passage as a result: marked text, where it comes from, its neighbours."""
        spans = highlight_spans(p.text, terms)
        before, after = self._context(p, context)
        doc = self._doc_by_id[p.doc_id]
        return Hit(
            rank=rank,
            passage_id=p.passage_id,
            score=round(score, 4),
            keyword_score=None if keyword is None else round(keyword, 4),
            dense_score=None if dense is None else round(dense, 4),
            text=p.text,
            highlighted=mark(p.text, spans),
            spans=spans,
            section=p.section,
            ordinal=p.ordinal,
            document=doc,
            before=before,
            after=after,
            citation=citation(doc, p.section),
            duplicates=[
                Duplicate(
                    passage_id=d.passage_id, doc_id=d.doc_id, title=self._doc_by_id[d.doc_id].title
                )
                for d in duplicates
            ],
        )

    def _context(
        self, p: StoredPassage, n: int
    ) -> tuple[list[ContextPassage], list[ContextPassage]]:
        if n == 0:
            return [], []
        around = self._version.store.neighbours(p.doc_id, p.ordinal, n, n)
        before = [_context(x) for x in around if x.ordinal < p.ordinal]
        after = [_context(x) for x in around if x.ordinal > p.ordinal]
        return before, after

    def passage(self, passage_id: str, context: int = 0) -> PassageDetail | None:
        row = self._version.store.passage_row(passage_id)
        if row is None:
            return None
        p = self._version.store.passages_by_rows([row])[row]
        before, after = self._context(p, context)
        return PassageDetail(
            passage_id=p.passage_id,
            text=p.text,
            section=p.section,
            ordinal=p.ordinal,
            document=self._doc_by_id[p.doc_id],
            before=before,
            after=after,
        )

    def document(self, doc_id: str) -> DocumentDetail | None:
        info = self._doc_by_id.get(doc_id)
        if info is None:
            return None
        return DocumentDetail(
            document=info,
            passages=[_context(p) for p in self._version.store.document_passages(doc_id)],
        )


def citation(doc: DocumentInfo, section: str) -> str:
    """One line to paste under a quote: title, speaker, date, section, where to find it."""
    parts = [f"《{doc.title}》", doc.speaker, doc.date or (str(doc.year) if doc.year else None)]
    where = doc.url or doc.source
    return "，".join(p for p in [*parts, section] if p) + (f"。{where}" if where else "。")


def _context(p: StoredPassage) -> ContextPassage:
    return ContextPassage(
        passage_id=p.passage_id, ordinal=p.ordinal, section=p.section, text=p.text
    )
