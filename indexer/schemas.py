"""Request and result types of the searcher, shared by the CLI and the API.

Unknown fields are rejected (``extra="forbid"``) so a misspelt filter is an
error the user sees, never a silently unfiltered search.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

Mode = Literal["hybrid", "dense", "keyword"]

#: Longest query, in characters: a query is key words or a question, not a document.
MAX_QUERY_CHARS = 256
#: Most hits on one page.
MAX_K = 100
#: Deepest hit a query ranks and pages to (offset + k): bounds the cost of one request.
MAX_HITS = 200


def _text(value: str) -> str:
    """Refuse text no client can have meant: lone surrogates (from JSON ``\\ud800``) and NUL."""
    if any("\ud800" <= ch <= "\udfff" for ch in value) or "\0" in value:
        raise ValueError("text must be valid Unicode, without lone surrogates or NUL characters")
    return value


def whole_number(value: object) -> object:
    """An integer field takes whole numbers: 2019 or 2019.0 (as JSON Schema's integer), not true."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _query(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is empty: type some words to search for")
    return value


#: Text: valid Unicode (no lone surrogates) without NUL characters.
Text = Annotated[str, AfterValidator(_text)]
Year = Annotated[int, Field(ge=1, le=9999), BeforeValidator(whole_number)]
Date = Annotated[str, Field(pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")]
Query = Annotated[
    str,
    # the schema says "holds a non-space character"; _query says it in words
    Field(max_length=MAX_QUERY_CHARS, json_schema_extra={"minLength": 1, "pattern": r"\S"}),
    AfterValidator(_text),
    AfterValidator(_query),
]


class Filters(BaseModel):
    """Metadata restrictions, applied before ranking in every mode."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    year: Year | None = Field(None, description="Exact year.")
    year_from: Year | None = Field(None, description="Earliest year, inclusive.")
    year_to: Year | None = Field(None, description="Latest year, inclusive.")
    date_from: Date | None = Field(None, description="Earliest date (YYYY, YYYY-MM or YYYY-MM-DD).")
    date_to: Date | None = Field(None, description="Latest date, inclusive, same forms.")
    region: Text | None = Field(
        None,
        max_length=100,
        validation_alias=AliasChoices("region", "province"),
        description="Region or province; a prefix matches (浙江 matches 浙江省).",
    )
    speaker: Text | None = Field(None, max_length=100, description="Speaker (substring match).")
    doc_type: Text | None = Field(
        None, max_length=100, description="Document type, e.g. 政府工作报告, 讲话."
    )
    source: Text | None = Field(None, max_length=1000, description="Source path or URL prefix.")
    doc_id: Text | None = Field(None, max_length=100, description="Only this document's passages.")

    def is_empty(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class _Ranking(BaseModel):
    """What to rank and which page of it: shared by the POST body and the flat GET/CLI form.

    A query ranks at most MAX_HITS passages, so a page that reaches past them
    holds what is left (``offset`` < MAX_HITS bounds the cost of any request).
    """

    model_config = ConfigDict(extra="forbid")

    q: Query = Field(..., description="The query: keywords, a question or a paraphrase.")
    k: Annotated[int, Field(ge=1, le=MAX_K), BeforeValidator(whole_number)] = Field(
        10, description="Hits per page."
    )
    offset: Annotated[int, Field(ge=0, lt=MAX_HITS), BeforeValidator(whole_number)] = Field(
        0, description=f"Hits to skip (paging); a query ranks at most {MAX_HITS} hits."
    )
    mode: Mode = Field("hybrid", description="hybrid (default), dense (semantic) or keyword.")
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Drop hits scoring below this (scores are in [0, 1])."
    )
    context: Annotated[int, Field(ge=0, le=3), BeforeValidator(whole_number)] = Field(
        0, description="Neighbouring passages to return per side."
    )
    parse: bool = Field(
        True,
        description="Read filters typed into the query (2019年, 浙江, 汪文斌, 政府工作报告) as "
        "filters; false searches every word as typed.",
    )


class BodyFilters(Filters):
    """Filters in a JSON body: JSON has types, so "2019" or true for a year is refused."""

    model_config = ConfigDict(strict=True)


def _body_filters(value: object) -> object:
    """Filters already made in code (the CLI's, a caller's) pass as they are."""
    if isinstance(value, Filters) and not isinstance(value, BodyFilters):
        return BodyFilters(**value.model_dump())
    return value


class SearchRequest(_Ranking):
    """One search, as the API's POST body (strict: JSON types must match the schema)."""

    model_config = ConfigDict(strict=True)

    filters: Annotated[BodyFilters, BeforeValidator(_body_filters)] = Field(
        default_factory=BodyFilters
    )
    collapse: bool = Field(True, description="Fold near-duplicate passages into one hit.")


class SearchParams(Filters, _Ranking):
    """A search as one flat set of fields (URL query string, CLI options).

    ``to_request`` splits it into the request and its filters, so the API's
    GET and the CLI build requests the same way.
    """

    collapse: bool = Field(True, description="Fold near-duplicate passages into one hit.")

    def to_request(self) -> SearchRequest:
        flat = self.model_dump()
        filters = {name: flat.pop(name) for name in Filters.model_fields}
        return SearchRequest(filters=BodyFilters(**filters), **flat)


class DocumentInfo(BaseModel):
    """Where a passage comes from."""

    doc_id: str
    title: str
    date: str | None = None
    year: int | None = None
    speaker: str | None = None
    region: str | None = None
    doc_type: str | None = None
    source: str
    url: str | None = None


class ContextPassage(BaseModel):
    passage_id: str
    ordinal: int
    section: str
    text: str


class Duplicate(BaseModel):
    """A passage folded into a hit because it says the same thing."""

    passage_id: str
    doc_id: str
    title: str


class Hit(BaseModel):
    """One ranked passage and why it matched."""

    rank: int
    passage_id: str
    score: float = Field(..., description="In [0, 1]; see the README for what each mode means.")
    keyword_score: float | None = None
    dense_score: float | None = None
    text: str
    highlighted: str = Field(..., description="HTML-escaped text with <mark> around matched terms.")
    spans: list[tuple[int, int]] = Field(
        default_factory=list, description="Matched term offsets [start, end) into text."
    )
    section: str
    ordinal: int
    document: DocumentInfo
    before: list[ContextPassage] = Field(default_factory=list)
    after: list[ContextPassage] = Field(default_factory=list)
    duplicates: list[Duplicate] = Field(default_factory=list)
    citation: str = Field(
        "", description="One line to quote it by: title, speaker, date, section, URL."
    )


class UnderstoodFilter(BaseModel):
    """A filter read from the query's words (see ``SearchRequest.parse``)."""

    field: str = Field(..., description="year, year_from, year_to, region, speaker or doc_type.")
    value: str | int
    text: str = Field(..., description="The words of the query it was read from.")
    boost: bool = Field(
        False, description="Not a filter: passages it matches rank higher (nothing is removed)."
    )


class SearchResponse(BaseModel):
    query: str
    mode: Mode
    understood: list[UnderstoodFilter] = Field(
        default_factory=list,
        description="Filters read from the query's words; ``searched`` is what was searched "
        "then. Filters the request names itself win over these.",
    )
    searched: str | None = Field(
        None, description="The query searched, when filters were read from it."
    )
    terms: list[str] = Field(..., description="Keyword terms the query was segmented into.")
    feedback_terms: list[str] = Field(
        default_factory=list,
        description="Hybrid mode: words of the best semantic matches that the keyword side "
        "also searched for, strongest first (how the corpus names what the query describes).",
    )
    filters: Filters
    offset: int
    k: int
    total: int = Field(
        ...,
        description="Hits this query has (after filters and folding duplicates), the same on "
        "every page: every passage with a score from the query's own words (in hybrid also the "
        "semantic nominees; with quoted phrases every passage that holds them). Dense "
        "similarity alone has no such count: there total is what the ranking holds.",
    )
    total_capped: bool = Field(
        False,
        description="True when more passages match than the ranking holds (it ranks at most "
        "MAX_HITS): total > ranked, or, when total = ranked, more may match than that.",
    )
    ranked: int = Field(
        0, description="Hits the ranking holds, which pages reach (at most MAX_HITS passages)."
    )
    hits: list[Hit]
    message: str | None = None
    version: str
    took_ms: float


class PassageDetail(BaseModel):
    passage_id: str
    text: str
    section: str
    ordinal: int
    document: DocumentInfo
    before: list[ContextPassage] = Field(default_factory=list)
    after: list[ContextPassage] = Field(default_factory=list)


class DocumentDetail(BaseModel):
    document: DocumentInfo
    passages: list[ContextPassage]


class Stats(BaseModel):
    """What is being served."""

    version: str
    created: str
    documents: int
    passages: int
    model: dict[str, str | int] = Field(..., description="The embedding model's fingerprint.")
    chunking: dict[str, object]
    corpus_folders: list[str] = Field(..., description="Names of the indexed folders.")
    corpus_fingerprint: str
    build_seconds: float
    versions_kept: list[str]
    last_reload_error: str | None = None


class FacetValue(BaseModel):
    value: str | int
    count: int = Field(..., description="Documents with this value.")


class Facets(BaseModel):
    """Values of each filterable field the index holds, most frequent first."""

    year: list[FacetValue]
    region: list[FacetValue]
    speaker: list[FacetValue]
    doc_type: list[FacetValue]
