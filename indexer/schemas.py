"""Request and result types of the searcher, shared by the CLI and the API.

Unknown fields are rejected (``extra="forbid"``) so a misspelt filter is an
error the user sees, never a silently unfiltered search.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

Mode = Literal["hybrid", "dense", "keyword"]


class Filters(BaseModel):
    """Metadata restrictions, applied before ranking in every mode."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    year: int | None = Field(None, description="Exact year.")
    year_from: int | None = Field(None, description="Earliest year, inclusive.")
    year_to: int | None = Field(None, description="Latest year, inclusive.")
    date_from: str | None = Field(None, description="Earliest date (YYYY, YYYY-MM or YYYY-MM-DD).")
    date_to: str | None = Field(None, description="Latest date, inclusive, same forms.")
    region: str | None = Field(
        None,
        validation_alias=AliasChoices("region", "province"),
        description="Region or province; a prefix matches (浙江 matches 浙江省).",
    )
    speaker: str | None = Field(None, description="Speaker name (substring match).")
    doc_type: str | None = Field(None, description="Document type, e.g. 政府工作报告, 讲话.")
    source: str | None = Field(None, description="Source path or URL prefix.")
    doc_id: str | None = Field(None, description="Only passages of this document.")

    def is_empty(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class SearchRequest(BaseModel):
    """One search, as the API's POST body or built from query parameters."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(..., description="The query: keywords, a question or a paraphrase.")
    k: int = Field(10, ge=1, description="Hits per page.")
    offset: int = Field(0, ge=0, le=1000, description="Hits to skip (paging).")
    mode: Mode = Field("hybrid", description="hybrid (default), dense (semantic) or keyword.")
    filters: Filters = Field(default_factory=Filters)
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Drop hits scoring below this (scores are in [0, 1])."
    )
    context: int = Field(0, ge=0, le=3, description="Neighbouring passages to return per side.")
    collapse: bool = Field(True, description="Fold near-duplicate passages into one hit.")


class SearchParams(Filters):
    """A search as one flat set of fields (URL query string, CLI options).

    ``to_request`` splits it into the request and its filters, so the API's
    GET and the CLI build requests the same way.
    """

    q: str = Field(..., description="Keywords, a question or a paraphrase.")
    k: int = Field(10, ge=1, description="Hits per page.")
    offset: int = Field(0, ge=0, le=1000, description="Hits to skip (paging).")
    mode: Mode = Field("hybrid", description="hybrid (default), dense (semantic) or keyword.")
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="Drop hits below this score.")
    context: int = Field(0, ge=0, le=3, description="Neighbouring passages per side.")
    collapse: bool = Field(True, description="Fold near-duplicate passages into one hit.")

    def to_request(self) -> SearchRequest:
        flat = self.model_dump()
        filters = {name: flat.pop(name) for name in Filters.model_fields}
        return SearchRequest(filters=Filters(**filters), **flat)


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


class SearchResponse(BaseModel):
    query: str
    mode: Mode
    terms: list[str] = Field(..., description="Keyword terms the query was segmented into.")
    feedback_terms: list[str] = Field(
        default_factory=list,
        description="Hybrid mode: words of the best semantic matches that the keyword side "
        "also searched for, strongest first (how the corpus names what the query describes).",
    )
    filters: Filters
    offset: int
    k: int
    total: int = Field(..., description="Hits available for paging (after filters and collapsing).")
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
