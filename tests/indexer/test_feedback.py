"""FeedbackWords on the real national and provincial government work reports."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from indexer.feedback import FEEDBACK_MAX_SHARE, FeedbackWords
from indexer.keyword import KeywordIndex, words
from tests.indexer.conftest import CORPUS, Row, containing

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")


@pytest.fixture(scope="module")
def feedback(rows: list[Row], index: KeywordIndex) -> FeedbackWords:
    return FeedbackWords.build([r.text for r in rows], index)


def _from_texts(
    index: KeywordIndex, texts: list[str], own: set[str], n_terms: int, weight: float
) -> dict[str, float]:
    """The feedback words of ``texts`` computed from their text, as the definition says."""
    n = len(index)
    mass: dict[str, float] = {}
    for text in texts:
        found = [
            w
            for w in words(text, precise=True)
            if w in index.vocab and re.fullmatch("[一-鿿]{2,}", w)
        ]
        for w in found:
            mass[w] = mass.get(w, 0.0) + 1.0 / len(found)
    scored = []
    for w, m in mass.items():
        df = int(index.df[index.vocab[w]])
        if (
            w not in own
            and 2 <= df <= FEEDBACK_MAX_SHARE * n
            and not re.match("第?[〇零一二三四五六七八九十百千万亿两几多]", w)
        ):
            scored.append((m * math.log((n + 1) / (df + 0.5)), w))
    top = sorted(scored, key=lambda x: (-x[0], x[1]))[:n_terms]
    total = sum(v for v, _ in top)
    return {w: weight * v / total for v, w in top}


def test_feedback_words_name_what_a_paraphrase_describes(
    feedback: FeedbackWords, index: KeywordIndex, rows: list[Row]
) -> None:
    # the passages a dense model returns for "farmers no longer hand grain to the state"
    # say 农业税; the query never does
    query = "农民种地不再向国家交公粮"
    best = np.flatnonzero(containing(rows, "取消农业税"))[:5].tolist()
    assert len(best) == 5
    own = set(index.query_terms(query))
    got = feedback.terms(best, own, n_terms=10, weight=0.5)
    assert "农业税" in got
    assert 0 < len(got) <= 10
    assert sum(got.values()) == pytest.approx(0.5)
    assert list(got.values()) == sorted(got.values(), reverse=True)
    assert not set(got) & own, "the query's own words are not fed back"
    for term in got:
        assert containing(rows, term).sum() >= 2, f"{term} can find more than its own passage"
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,}", term), f"{term!r}: words, not numbers"
        assert not re.match("第?[一二三四五六七八九十百千万亿两几多]", term), f"{term!r} is a count"
        assert (index.scores([term]) > 0).mean() <= FEEDBACK_MAX_SHARE, f"{term} is too common"
    assert "2007" in "".join(rows[i].text for i in best), "the passages do hold numbers"
    assert feedback.terms(best, own, n_terms=10, weight=0.0) == {}
    assert feedback.terms([], own, n_terms=10, weight=0.5) == {}


def test_counts_and_common_words_are_not_fed_back(
    feedback: FeedbackWords, index: KeywordIndex, rows: list[Row]
) -> None:
    generic = np.flatnonzero(containing(rows, "一次") & containing(rows, "企业"))[:5].tolist()
    assert len(generic) == 5
    assert (index.scores(["企业"]) > 0).mean() > FEEDBACK_MAX_SHARE, "企业 is common here"
    got = feedback.terms(generic, set(), 10, 0.5)
    assert got and not set(got) & {"一次", "企业"}


def test_stored_weights_give_what_the_texts_give(
    feedback: FeedbackWords, index: KeywordIndex, rows: list[Row]
) -> None:
    # the build weighs each passage once; summing those parts must equal reading the texts
    rng = random.Random(7)
    for _ in range(40):
        best = rng.sample(range(len(rows)), 5)
        query = rows[rng.randrange(len(rows))].text[:12]
        own = set(index.query_terms(query))
        got = feedback.terms(best, own, 10, 0.5)
        want = _from_texts(index, [rows[i].text for i in best], own, 10, 0.5)
        assert list(got) == list(want)
        assert list(got.values()) == pytest.approx(list(want.values()), rel=1e-5)


def test_save_load_round_trip(feedback: FeedbackWords, rows: list[Row], tmp_path: Path) -> None:
    assert not FeedbackWords.stored(tmp_path) and FeedbackWords.load(tmp_path) is None
    feedback.save(tmp_path)
    loaded = FeedbackWords.load(tmp_path)
    assert loaded is not None and len(loaded) == len(rows)
    for start in (0, 500, 3000):
        best = list(range(start, start + 5))
        assert loaded.terms(best, set(), 10, 1.0) == feedback.terms(best, set(), 10, 1.0)


def test_texts_must_be_the_index_passages(rows: list[Row], index: KeywordIndex) -> None:
    with pytest.raises(ValueError, match="texts"):
        FeedbackWords.build([r.text for r in rows[:10]], index)
