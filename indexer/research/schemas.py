"""Requests and answers of the research tools (API bodies, CLI options)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from indexer.schemas import BodyFilters, DocumentInfo, Filters, Hit, Query, Text, whole_number

GroupBy = Literal["year", "region", "doc_type"]
CompareBy = Literal["region", "document", "year"]
GroupKey = str | int | None


class _Filtered(Filters):
    """A research request: its own fields plus the filters search takes."""

    def filters(self) -> Filters:
        return Filters(**self.model_dump(include=set(Filters.model_fields)))


class TrendParams(_Filtered):
    q: Query = Field(..., description="Words or quoted phrases; each must occur exactly.")
    by: GroupBy = Field("year", description="Count per year, region or document type.")
    min_score: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Hybrid score a passage needs to count as scored "
        "(0.3 is about what a query's tenth hit scores on the demo).",
    )


class TrendGroup(BaseModel):
    key: GroupKey = Field(
        ..., description="The year, region or type (null: not recorded, see ``unrecorded``)."
    )
    missing: bool = Field(False, description="The archive holds no document here.")
    documents_total: int
    passages_total: int
    chars: int = Field(..., description="Characters of the group's passages (the text size).")
    documents: int | None = Field(None, description="Documents with a matching passage.")
    passages: int | None = Field(None, description="Passages containing every term exactly.")
    per_100k_chars: float | None = Field(
        None, description="Matching passages per 100,000 characters of the group's text."
    )
    scored: int | None = Field(
        None, description="Passages of the hybrid ranking at or above min_score."
    )


class TrendResponse(BaseModel):
    query: str
    by: GroupBy
    terms: list[str] = Field(..., description="What must occur exactly, in matching form.")
    min_score: float
    filters: Filters
    documents: int
    passages: int
    scored: int
    scored_capped: bool = Field(
        False, description="The hybrid ranking stopped at its limit: more may score."
    )
    groups: list[TrendGroup] = Field(
        ..., description="One per year (region, type) the archive records, in order."
    )
    unrecorded: TrendGroup | None = Field(
        None,
        description="Documents whose year (region, type) is not recorded, counted apart: "
        "never a bar among the years. Null when every document has one.",
    )
    message: str | None = None
    version: str
    took_ms: float


class CompareParams(_Filtered):
    q: Query = Field(..., description="What to compare: keywords, a phrase or a question.")
    by: CompareBy = Field("region", description="Best passage per region, document or year.")


class CompareRow(BaseModel):
    key: GroupKey
    label: str
    hit: Hit | None = Field(None, description="The group's best passage, hybrid-ranked.")
    says_nothing: bool = Field(
        False, description="No passage of the group uses all of the query's keyword terms."
    )


class CompareResponse(BaseModel):
    query: str
    by: CompareBy
    filters: Filters
    rows: list[CompareRow]
    unrecorded: CompareRow | None = Field(
        None,
        description="The best passage of the documents whose region (year) is not recorded, "
        "apart from the rows; null when every document has one.",
    )
    message: str | None = None
    version: str
    took_ms: float


class SimilarResponse(BaseModel):
    passage_id: str
    hits: list[Hit] = Field(..., description="Passages of other documents, most similar first.")
    version: str
    took_ms: float


def _origin_text(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is empty: paste a phrase, a sentence or a paragraph")
    return value


#: Longest text ``origin`` traces (a few paragraphs of a speech).
MAX_ORIGIN_CHARS = 5000
MatchKind = Literal["exact", "near", "reworded"]
#: The schema says "holds a non-space character", as for a query, so a client generated from it
#: never sends what ``_origin_text`` refuses.
OriginText = Annotated[
    Text,
    Field(max_length=MAX_ORIGIN_CHARS, json_schema_extra={"minLength": 1, "pattern": r"\S"}),
    AfterValidator(_origin_text),
]


class OriginParams(_Filtered):
    """Where a sentence comes from: the pasted text and the filters search takes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    text: OriginText = Field(
        ...,
        description=f"A phrase, a sentence or paragraphs (at most {MAX_ORIGIN_CHARS} characters).",
    )
    limit: int = Field(50, ge=1, le=200, description="Documents to list, at most.")


class OriginBody(BaseModel):
    """``POST /origin``: the text and, as ``POST /search`` takes them, the filters (strict JSON)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: OriginText = Field(..., description=OriginParams.model_fields["text"].description)
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(whole_number)] = Field(
        50, description="Documents to list, at most."
    )
    filters: BodyFilters = Field(default_factory=BodyFilters)

    def params(self) -> OriginParams:
        return OriginParams(
            text=self.text, limit=self.limit, **self.filters.model_dump(exclude_none=True)
        )


class OriginDocument(BaseModel):
    """A document that says (part of) the text: its best passage and how it matches."""

    document: DocumentInfo
    hit: Hit
    match: MatchKind = Field(
        ...,
        description="exact: the text itself once script, width and punctuation are folded; "
        "near: the same sentence with small edits; reworded: the same meaning in other words.",
    )
    similarity: float = Field(..., description="1 for exact; the measure of near or reworded.")
    sentences: list[int] = Field(..., description="Which sentences of the text it says.")


class OriginSentence(BaseModel):
    index: int
    text: str
    documents: int = Field(..., description="Documents that say it (any match).")
    first: DocumentInfo | None = Field(None, description="The earliest dated one.")
    match: MatchKind | None = Field(None, description="How the earliest one says it.")


class OriginResponse(BaseModel):
    text: str
    summary: str = Field(..., description='"first in 《…》 (date, speaker); N later documents".')
    first: OriginDocument | None = None
    later: int = Field(0, description="Dated documents after the first that say it too.")
    documents: list[OriginDocument] = Field(..., description="Dated documents, earliest first.")
    undated: list[OriginDocument] = Field(
        default_factory=list, description="Documents without a date, apart."
    )
    sentences: list[OriginSentence]
    filters: Filters
    message: str | None = None
    version: str
    took_ms: float
