"""Near-duplicate sketches and clusters on the real national and provincial reports."""

from __future__ import annotations

import numpy as np
import pytest

from indexer import dedup
from tests.indexer.conftest import CORPUS, Row

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")


def test_chunked_sketches_are_each_texts_own(rows: list[Row]) -> None:
    # a chunk's joined code points must give every text the grams it has alone: none that
    # straddles two texts, short texts padded to one gram
    texts = [r.text for r in rows[:25_000]] + ["", "一", "一二", "一二三", "，。", "GDP"]
    folded = [dedup._fold(t) for t in texts]
    got = dedup._sketches(folded)
    assert got.shape == (len(texts), dedup.ANCHORS)
    for i, f in enumerate(folded):
        alone = dedup._grams(f)[: dedup.ANCHORS]
        assert np.array_equal(got[i, : alone.size], alone), texts[i]
        assert (got[i, alone.size :] == np.iinfo(np.uint64).max).all()


def test_quoted_paragraphs_cluster_and_others_do_not(rows: list[Row]) -> None:
    texts = [r.text for r in rows[:3000]]
    edited = texts[100].replace("，", "、", 1) + "。"
    cluster = dedup.clusters([*texts, texts[100], edited])
    assert cluster[len(texts)] == cluster[100] == cluster[len(texts) + 1]
    assert (cluster[: len(texts)] <= np.arange(len(texts))).all(), "a cluster is its first row"
