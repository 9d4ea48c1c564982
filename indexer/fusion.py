"""Scores a user can read, and fusing keyword and dense evidence into one ranking.

Every score is on an absolute [0, 1] scale, the same for every query, so
``min_score`` means the same thing whatever was asked:

- keyword: BM25 divided by the best BM25 the query's terms could reach in
  this index (each term at its highest score in any passage); 1 = every
  query term matched as strongly as anywhere in the corpus.
- dense: cosine similarity rescaled by the index's calibration, measured at
  build time: 0 = as similar as a typical unrelated passage, 1 = twice as far
  above that as a typical best match (cosines of one model crowd into a
  narrow band, 0.84–0.94 for e5-small, so raw cosines would not read as
  "how good").
- hybrid: ``w * keyword + (1 - w) * dense`` with ``w = keyword_weight``; its
  keyword side also counts the weighted feedback words of the best dense
  matches (:mod:`indexer.feedback`), and its
  bound includes them, so it stays in [0, 1].

Both retrievers nominate candidates; every candidate is then scored by both,
so a passage is never punished for missing from one retriever's top list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from indexer.keyword import Feedback


@dataclass(slots=True, frozen=True)
class DenseCalibration:
    """Where an index's cosines sit: the typical and the typical-best similarity."""

    typical: float
    best: float

    @classmethod
    def measure(cls, cosines: np.ndarray) -> DenseCalibration:
        """From [passages, pseudo-queries] cosines: medians of the median and of the top cosine."""
        return cls(
            typical=round(float(np.median(np.median(cosines, axis=0))), 4),
            best=round(float(np.median(cosines.max(axis=0))), 4),
        )

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> DenseCalibration:
        return cls(typical=float(d["typical"]), best=float(d["best"]))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def normalise(self, cosines: np.ndarray) -> np.ndarray:
        span = max(2.0 * (self.best - self.typical), 1e-6)
        return np.clip((cosines - self.typical) / span, 0.0, 1.0).astype(np.float32)


@dataclass(slots=True)
class Ranked:
    """Rows best first, with their scores (each side's too, where the mode has it)."""

    rows: np.ndarray
    scores: np.ndarray
    keyword: np.ndarray | None
    dense: np.ndarray | None
    feedback: Feedback = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Fused:
    """Fused ranking: rows best first, with the mixed and per-retriever scores."""

    rows: np.ndarray
    scores: np.ndarray
    keyword: np.ndarray
    dense: np.ndarray


def fuse(rows: np.ndarray, keyword: np.ndarray, dense: np.ndarray, keyword_weight: float) -> Fused:
    """Mix normalised scores of the same candidate ``rows``; ties broken by row for stable paging."""
    mixed = keyword_weight * keyword + (1.0 - keyword_weight) * dense
    order = np.lexsort((rows, -mixed))
    return Fused(rows[order], mixed[order], keyword[order], dense[order])
