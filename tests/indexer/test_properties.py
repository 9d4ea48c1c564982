"""Property tests over arbitrary Unicode: the normaliser, the segmenter, the query parser.

Real user input is anything a keyboard, a scraper or a fuzzer can produce;
these say what holds for all of it (no crash, no mis-mapped highlight, no
query the API would answer with a 500).
"""

from __future__ import annotations

import itertools

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.highlight import highlight_spans, mark
from indexer.keyword import STOP_WORDS, tokenize
from indexer.schemas import MAX_QUERY_CHARS, SearchParams, SearchRequest
from indexer.textnorm import fold_script, normalize_for_match, normalize_with_offsets

# every code point but lone surrogates (no decoder yields them; the API refuses them),
# with CJK, full-width forms and punctuation weighted up
TEXT = st.text(
    st.one_of(
        st.characters(codec=None),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。、；：“”（）《》　１２３ＡＢｃ臺灣經濟發展\u200b\ufeff")),
    ),
    max_size=80,
)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_normalising_twice_changes_nothing_and_offsets_point_back(text: str) -> None:
    once = normalize_for_match(text)
    assert normalize_for_match(once) == once
    mapped = normalize_with_offsets(text)
    assert mapped.text == once
    assert len(mapped.source) == len(once)
    assert all(0 <= s < len(text) for s in mapped.source)
    assert list(mapped.source) == sorted(mapped.source)
    if once:
        start, end = mapped.to_original(0, len(once))
        assert 0 <= start < end <= len(text)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_folding_for_the_model_is_stable(text: str) -> None:
    folded = fold_script(text)
    assert fold_script(folded) == folded
    assert not any(ch in folded for ch in "\u200b\ufeff\u3000")


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_tokens_are_clean_words_on_both_sides(text: str) -> None:
    for query in (False, True):
        tokens = tokenize(text, query=query)
        assert all(t and not any(ch.isspace() for ch in t) for t in tokens)
        assert not STOP_WORDS & set(tokens)
        assert all(t == normalize_for_match(t) for t in tokens), "tokens are in matching form"
    query_tokens = tokenize(text, query=True)
    assert len(query_tokens) == len(set(query_tokens))


@given(TEXT, st.lists(st.text(min_size=1, max_size=6), max_size=4))
@settings(max_examples=300, deadline=None)
def test_highlights_land_inside_the_text_and_escape_it(text: str, terms: list[str]) -> None:
    spans = highlight_spans(text, terms)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    html = mark(text, spans)
    assert "<" not in html.replace("<mark>", "").replace("</mark>", "")


@given(
    st.dictionaries(
        st.sampled_from(["q", "k", "offset", "mode", "year", "year_from", "date_to", "region"]),
        st.one_of(
            TEXT,
            st.text(st.characters(codec=None, exclude_categories=()), max_size=20),  # surrogates
            st.integers(),
            st.floats(allow_nan=True),
            st.booleans(),
            st.none(),
        ),
    )
)
@settings(max_examples=500, deadline=None)
def test_the_query_parser_accepts_or_explains_never_crashes(params: dict[str, object]) -> None:
    for model in (SearchParams, SearchRequest):
        raw = params if model is SearchParams else _as_body(params)
        try:
            req = model.model_validate(raw)
        except pydantic.ValidationError as e:
            assert all(err["msg"] for err in e.errors())
            continue
        q = req.q
        assert q.strip() and len(q) <= MAX_QUERY_CHARS
        assert not any("\ud800" <= ch <= "\udfff" or ch == "\0" for ch in q)
        assert 1 <= req.k <= 100 and 0 <= req.offset < 200


def _as_body(params: dict[str, object]) -> dict[str, object]:
    filters = {k: params[k] for k in ("year", "year_from", "date_to", "region") if k in params}
    body = {k: v for k, v in params.items() if k not in filters}
    return {**body, "filters": filters}
