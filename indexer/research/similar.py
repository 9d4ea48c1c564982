"""Passages of other documents that say what one passage says: quoted, echoed, paraphrased.

The passage is cut into the same sentence windows the index embeds, and a
candidate scores by how well it covers them: the mean, over the source's
windows, of the candidate's best window cosine. A verbatim copy scores ~1, a
passage that repeats one of three sentences ~0.8, one on the same topic with
other words lower; scores are shown on the dense score's calibrated scale. Candidates are what the dense index nominates for any
source window, inside the filters and outside the passage's own document.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from indexer.filtering import Scope
from indexer.research.schemas import SimilarResponse
from indexer.schemas import MAX_K, Filters

if TYPE_CHECKING:
    from indexer.search import Searcher

#: dense nominees per source window
_NOMINEES = 50


def similar(
    searcher: Searcher,
    passage_id: str,
    k: int = 10,
    filters: Filters | None = None,
    same_document: bool = False,
    budget: float | None = None,
) -> SimilarResponse | None:
    """The ``k`` passages most like ``passage_id``'s; None when there is no such passage.

    ``budget`` (seconds) stops it with SearchTimeout between its stages, as a search."""
    started = time.perf_counter()
    check = searcher.budget(started, budget)
    row = searcher.row_of(passage_id)
    if row is None:
        return None
    vectors = searcher.encode_windows(searcher.passages([row])[row].text)
    allowed = searcher.mask(filters or Filters())
    n = searcher.passage_count
    allowed = np.ones(n, dtype=bool) if allowed is None else allowed.copy()
    allowed[row] = False
    if not same_document:
        own = np.zeros(len(searcher.documents), dtype=bool)
        own[searcher.document_of(row)] = True
        allowed &= ~searcher.by_row(own)
    nominees = np.unique(
        np.concatenate(
            [searcher.dense_nominees(v, _NOMINEES, Scope(allowed)) for v in vectors]
            or [np.empty(0)]
        )
    ).astype(np.int64)
    check()
    hits = []
    if nominees.size:
        coverage = searcher.dense_similarity(vectors, nominees).mean(axis=1)
        shown = searcher.dense_scale(coverage)  # the dense score's [0, 1] scale
        order = np.lexsort((nominees, -coverage))[: min(k, MAX_K)]
        texts = searcher.passages(nominees[order].tolist())
        hits = [
            searcher.hit(texts[int(nominees[i])], rank, float(shown[i]), [], dense=float(shown[i]))
            for rank, i in enumerate(order, start=1)
        ]
    return SimilarResponse(
        passage_id=passage_id,
        hits=hits,
        version=searcher.version.name,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
