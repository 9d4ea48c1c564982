"""Where a sentence comes from, on the real slice (three national reports, three provincial ones)."""

from __future__ import annotations

import random

import pytest

from indexer.live import LiveIndex
from indexer.query import compact_form
from indexer.research.origin import origin, sentences_of
from indexer.research.schemas import OriginParams
from indexer.search import Searcher
from indexer.settings import Settings

pytestmark = pytest.mark.integration  # real model, index, server or browser


@pytest.fixture(scope="module")
def searcher(index_settings: Settings, embedder) -> Searcher:
    return LiveIndex(index_settings, embedder).get()


@pytest.fixture(scope="module")
def documents_saying(searcher: Searcher):  # type: ignore[no-untyped-def]
    texts = {r: compact_form(t) for r, t in searcher.store.passage_texts()}

    def saying(phrase: str) -> set[str]:
        key = compact_form(phrase)
        docs = searcher.documents
        return {docs[int(searcher.document_of(r))].doc_id for r, t in texts.items() if key in t}

    return saying


def _distinctive_sentence(searcher: Searcher, documents_saying) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A sentence of the 2025 national report that no other document says."""
    docs = {d.doc_id: d for d in searcher.documents}
    for row, text in searcher.store.passage_texts():
        doc = docs[searcher.documents[int(searcher.document_of(row))].doc_id]
        if doc.year != 2025 or doc.region != "全国":
            continue
        for sentence in sentences_of(text):
            if 25 <= len(sentence) <= 60 and documents_saying(sentence) == {doc.doc_id}:
                return sentence, doc.doc_id
    raise AssertionError("no distinctive sentence found")


def test_an_edited_sentence_comes_back_near_from_its_source(
    searcher: Searcher, documents_saying
) -> None:  # type: ignore[no-untyped-def]
    sentence, doc_id = _distinctive_sentence(searcher, documents_saying)
    rng = random.Random(3)
    chars = list(sentence.replace("，", "、").replace("。", "；"))  # other punctuation
    for i in rng.sample([i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"], 2):
        chars[i] = "某"  # two characters edited
    res = origin(searcher, OriginParams(text="".join(chars)))
    assert res.first is not None and res.first.document.doc_id == doc_id
    assert res.first.match == "near" and res.first.similarity >= 0.7
    # the sentence itself, with its punctuation swapped, is exact
    exact = origin(searcher, OriginParams(text=sentence.replace("，", " ")))
    assert exact.first is not None and exact.first.match == "exact"
    assert exact.first.document.doc_id == doc_id


def test_a_repeated_formulation_lists_every_document_earliest_first(
    searcher: Searcher, documents_saying
) -> None:  # type: ignore[no-untyped-def]
    phrase = "坚持稳中求进工作总基调"
    holders = documents_saying(phrase)
    assert len(holders) >= 3
    res = origin(searcher, OriginParams(text=phrase))
    exact = [d for d in [*res.documents, *res.undated] if d.match == "exact"]
    assert {d.document.doc_id for d in exact} == holders
    dates = [d.document.date or str(d.document.year) for d in res.documents]
    assert dates == sorted(dates)
    first = res.documents[0].document
    assert res.summary.startswith(f"first in 《{first.title}》")
    assert res.later == len(res.documents) - 1


def test_a_sentence_no_document_says_is_new(searcher: Searcher) -> None:
    res = origin(searcher, OriginParams(text="月球背面建成了第一座由蜂群自主管理的养蜂合作社。"))
    assert res.documents == [] and res.undated == [] and res.first is None
    assert res.message == "no document says it: the text is new to this archive"
    assert res.sentences[0].documents == 0


def test_a_paste_is_traced_sentence_by_sentence(searcher: Searcher, documents_saying) -> None:  # type: ignore[no-untyped-def]
    known, _ = _distinctive_sentence(searcher, documents_saying)
    paste = f"{known}月球背面建成了第一座由蜂群自主管理的养蜂合作社。"
    res = origin(searcher, OriginParams(text=paste))
    assert [s.documents > 0 for s in res.sentences] == [True, False]
    assert res.sentences[0].first is not None and res.sentences[0].match == "exact"


def test_filters_restrict_the_documents(searcher: Searcher) -> None:
    res = origin(searcher, OriginParams(text="坚持稳中求进工作总基调", region="浙江省"))
    assert res.documents and all(d.document.region == "浙江省" for d in res.documents)


def test_filters_that_hold_no_passage_answer_nothing_found(searcher: Searcher) -> None:
    """Found by schemathesis: a filter no document matches left nothing to nominate from."""
    res = origin(searcher, OriginParams(text="坚持稳中求进工作总基调", region="火星"))
    assert res.documents == [] and res.first is None and res.sentences[0].documents == 0
