"""Fusing keyword and dense candidate lists into one ranking.

Both retrievers return their own top candidates; a passage missing from one
list gets that retriever's score 0.  Scores are first mapped into [0, 1]:
keyword by the best keyword score of the query, dense by min-max over the
dense candidates, then mixed linearly.  On the dev set this beats reciprocal
rank fusion clearly (see README), because score gaps carry information that
ranks throw away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True, frozen=True)
class Fused:
    """Fused ranking: rows best first, with the mixed and per-retriever scores."""

    rows: np.ndarray
    scores: np.ndarray
    keyword: np.ndarray  # normalised keyword score per row (0 when not a keyword candidate)
    dense: np.ndarray  # normalised dense score per row (0 when not a dense candidate)


def normalise_max(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def normalise_minmax(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)


def fuse(
    kw_rows: np.ndarray,
    kw_scores: np.ndarray,
    dense_rows: np.ndarray,
    dense_scores: np.ndarray,
    keyword_weight: float,
) -> Fused:
    """Linear fusion of max-normalised keyword and min-max-normalised dense scores.

    Ties are broken by row so paging is stable.
    """
    kw = dict(zip(kw_rows.tolist(), normalise_max(kw_scores).tolist(), strict=True))
    dn = dict(zip(dense_rows.tolist(), normalise_minmax(dense_scores).tolist(), strict=True))
    rows = np.array(sorted(kw.keys() | dn.keys()), dtype=np.int64)
    k = np.array([kw.get(r, 0.0) for r in rows.tolist()], dtype=np.float32)
    d = np.array([dn.get(r, 0.0) for r in rows.tolist()], dtype=np.float32)
    mixed = keyword_weight * k + (1.0 - keyword_weight) * d
    order = np.lexsort((rows, -mixed))
    return Fused(rows[order], mixed[order], k[order], d[order])
